//! What the `faults_*.rs` tests share: a client that retries twice with a
//! short backoff, `protect` against a scripted server, and the checks of
//! attempts and request ids.

use std::collections::HashSet;
use std::time::Duration;

use atlasent::{Error, ErrorCode, Permit, Wire};
use serde_json::json;

use super::{allow, verified, FaultServer, Recorded, Reply};

/// The retries every fault client is given.
pub const RETRIES: u32 = 2;
/// The attempts a retried call makes: the first and its retries.
pub const ATTEMPTS: usize = RETRIES as usize + 1;

/// A generous timeout: only the stall test wants one to fire (it sets its
/// own), and a loaded machine must not turn any other case into a timeout.
pub fn client_for(url: &str) -> atlasent::Client {
    client_with_timeout(url, Duration::from_secs(10))
}

pub fn client_with_timeout(url: &str, timeout: Duration) -> atlasent::Client {
    client_builder(url, timeout).build().expect("client")
}

pub fn client_builder(url: &str, timeout: Duration) -> atlasent::ClientBuilder {
    atlasent::Client::builder()
        .api_key(super::TEST_KEY)
        .base_url(url)
        .max_retries(RETRIES)
        .retry_backoff(Duration::from_millis(2))
        .timeout(timeout)
}

/// A client with no retry settings of its own, only `limit` applied (the
/// size-limit cases).
pub fn limited_client(
    url: &str,
    limit: impl FnOnce(atlasent::ClientBuilder) -> atlasent::ClientBuilder,
) -> atlasent::Client {
    limit(
        atlasent::Client::builder()
            .api_key(super::TEST_KEY)
            .base_url(url),
    )
    .build()
    .expect("client")
}

pub fn protect(url: &str) -> Result<Permit, Error> {
    protect_on(url, Wire::default())
}

pub fn protect_on(url: &str, wire: Wire) -> Result<Permit, Error> {
    let client = client_builder(url, Duration::from_secs(10))
        .wire(wire)
        .build()
        .expect("client");
    super::rt().block_on(client.protect("agent-1", "deploy", &json!({ "env": "prod" })))
}

/// A server that answers evaluate with `evaluate()` and everything else
/// (verify) with `verify()`.
pub fn split_server(
    evaluate: impl Fn() -> Reply + Send + Sync + 'static,
    verify: impl Fn() -> Reply + Send + Sync + 'static,
) -> FaultServer {
    FaultServer::start(move |req, _| {
        if req.path == "/v1-evaluate" {
            evaluate()
        } else {
            verify()
        }
    })
}

/// A server that allows and verifies.
pub fn allowing_server() -> FaultServer {
    split_server(allow, verified)
}

/// Run `protect` against a server that answers evaluate with `evaluate`
/// and verify with `verify`; return the error and the requests seen.
pub fn protect_against(
    evaluate: impl Fn() -> Reply + Send + Sync + 'static,
    verify: impl Fn() -> Reply + Send + Sync + 'static,
) -> (Error, Vec<Recorded>) {
    protect_against_on(Wire::default(), evaluate, verify)
}

/// [`protect_against`] on the given wire.
pub fn protect_against_on(
    wire: Wire,
    evaluate: impl Fn() -> Reply + Send + Sync + 'static,
    verify: impl Fn() -> Reply + Send + Sync + 'static,
) -> (Error, Vec<Recorded>) {
    let server = split_server(evaluate, verify);
    let err = expect_err(protect_on(&server.url(), wire));
    (err, server.requests())
}

pub fn expect_err(result: Result<Permit, Error>) -> Error {
    match result {
        Ok(permit) => panic!("fail-closed violated: got {permit}"),
        Err(err) => err,
    }
}

pub fn attempts(requests: &[Recorded], path: &str) -> usize {
    requests.iter().filter(|r| r.path == path).count()
}

pub fn assert_one_request_id(requests: &[Recorded], path: &str) {
    let ids: HashSet<_> = requests
        .iter()
        .filter(|r| r.path == path)
        .filter_map(|r| r.header("x-request-id"))
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "every attempt of one call has the same X-Request-ID"
    );
}

/// `path` was tried [`ATTEMPTS`] times, every attempt with one request id.
pub fn assert_retried(requests: &[Recorded], path: &str, case: &str) {
    assert_eq!(attempts(requests, path), ATTEMPTS, "{case}");
    assert_one_request_id(requests, path);
}

pub fn attempts_of(err: &Error) -> u32 {
    match err {
        Error::Request(e) => e.attempts(),
        other => panic!("not a request error: {other}"),
    }
}

/// A 200 reply with `body` as its exact bytes.
pub fn raw_json(body: &str) -> Reply {
    Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

/// `err` is a bad response naming the repeated `member` at `path`.
pub fn assert_duplicate(err: &Error, member: &str, path: &str) {
    assert_eq!(err.code(), Some(ErrorCode::BadResponse), "{err}");
    let want = format!("duplicate member \"{member}\" at {path}");
    assert!(err.to_string().contains(&want), "{err}\nwanted: {want}");
}
