//! Every vector of the contract's `evaluate.json`, `verify.json`,
//! `errors.json` and `headers.json`, driven through the real client (async
//! and blocking) over HTTP against a loopback server that records the wire
//! request and answers the vector's response.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use atlasent::Error;
use serde_json::{json, Value};
use support::{
    load_json, refused_url, str_field, FaultServer, Mode, Recorded, Reply, MODES, TEST_KEY,
};

/// Call `evaluate` the way the vector's `sdk_input` says, returning the
/// result serialized as the contract's `sdk_output`.
fn evaluate(mode: Mode, url: &str, key: &str, input: &Value) -> Result<Value, Error> {
    let agent = str_field(input, "agent");
    let action = str_field(input, "action");
    let context = input.get("context");
    let result = match mode {
        Mode::Async => {
            let client = support::legacy_client(url);
            let client = if key == TEST_KEY {
                client
            } else {
                rebuild(url, key)
            };
            support::rt().block_on(async {
                match context {
                    Some(ctx) => client.evaluate(agent, action, ctx).await,
                    None => client.evaluate(agent, action, &()).await,
                }
            })?
        }
        Mode::Blocking => {
            let client = blocking_client(url, key);
            match context {
                Some(ctx) => client.evaluate(agent, action, ctx)?,
                None => client.evaluate(agent, action, &())?,
            }
        }
    };
    Ok(serde_json::to_value(result).expect("serializable"))
}

fn verify(mode: Mode, url: &str, input: &Value) -> Result<Value, Error> {
    let permit_id = str_field(input, "permit_id");
    let agent = str_field(input, "agent");
    let action = str_field(input, "action");
    let context = input.get("context").cloned().unwrap_or(Value::Null);
    let result = match mode {
        Mode::Async => {
            let client = support::legacy_client(url);
            support::rt().block_on(client.verify(permit_id, agent, action, &context))?
        }
        Mode::Blocking => {
            blocking_client(url, TEST_KEY).verify(permit_id, agent, action, &context)?
        }
    };
    Ok(serde_json::to_value(result).expect("serializable"))
}

fn rebuild(url: &str, key: &str) -> atlasent::Client {
    atlasent::Client::builder()
        .wire(atlasent::Wire::Legacy)
        .api_key(key)
        .base_url(url)
        .retry_backoff(Duration::from_millis(2))
        .build()
        .expect("client")
}

fn blocking_client(url: &str, key: &str) -> atlasent::blocking::Client {
    atlasent::blocking::Client::builder()
        .wire(atlasent::Wire::Legacy)
        .api_key(key)
        .base_url(url)
        .retry_backoff(Duration::from_millis(2))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("blocking client")
}

/// Check the request against the vector's `wire_request` and against
/// `headers.json`.
fn assert_wire(request: &Recorded, path: &str, vector: &Value) {
    let name = str_field(vector, "name");
    assert_eq!(request.method, "POST", "{name}");
    assert_eq!(request.path, path, "{name}");
    assert_eq!(
        request.json(),
        vector["wire_request"],
        "{name}: wire request"
    );
    assert_required_headers(request, str_field(vector, "api_key"), name);
}

/// The v1 headers, and the API key in the body as well.
fn assert_required_headers(request: &Recorded, api_key: &str, name: &str) {
    let spec = load_json("vectors/headers.json");
    support::assert_headers_as_specified(request, &spec, api_key, name);
    // "The same api_key MUST also appear in the JSON body."
    assert_eq!(request.json()["api_key"], api_key, "{name}");
}

fn assert_sdk_error(err: &Error, expected: &Value, name: &str) {
    support::assert_error_as_described(err, expected, name);
}

/// The call's outcome is the vector's `sdk_output`, or its `sdk_error`.
fn assert_outcome(outcome: Result<Value, Error>, vector: &Value, name: &str, mode: Mode) {
    match (outcome, vector.get("sdk_output"), vector.get("sdk_error")) {
        (Ok(output), Some(expected), None) => {
            assert_eq!(&output, expected, "{name} ({mode:?}): sdk output")
        }
        (Err(err), None, Some(expected)) => assert_sdk_error(&err, expected, name),
        (other, _, _) => panic!("{name} ({mode:?}): unexpected {other:?}"),
    }
}

/// Every vector of `file`, in every mode, against a server answering its
/// `wire_response`: `call` (given the mode, the server's URL and the
/// vector) sends one request to `path` as the vector says, and its outcome
/// is the vector's.
fn check_vectors(
    file: &str,
    path: &str,
    call: impl Fn(Mode, &str, &Value) -> Result<Value, Error>,
) {
    let file = load_json(file);
    let vectors = file["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 4);
    for mode in MODES {
        for vector in vectors {
            let name = str_field(vector, "name");
            let server = FaultServer::always(Reply::json(200, &vector["wire_response"]));
            let outcome = call(mode, &server.url(), vector);
            let requests = server.requests();
            assert_eq!(requests.len(), 1, "{name} ({mode:?}): one request");
            assert_wire(&requests[0], path, vector);
            assert_outcome(outcome, vector, name, mode);
        }
    }
}

#[test]
fn evaluate_vectors_match_the_wire_and_the_output() {
    check_vectors(
        "vectors/evaluate.json",
        "/v1-evaluate",
        |mode, url, vector| {
            let api_key = str_field(vector, "api_key");
            evaluate(mode, url, api_key, &vector["sdk_input"])
        },
    );
}

#[test]
fn verify_vectors_match_the_wire_and_the_output() {
    check_vectors(
        "vectors/verify.json",
        "/v1-verify-permit",
        |mode, url, vector| verify(mode, url, &vector["sdk_input"]),
    );
}

/// The reply an `errors.json` vector describes.
fn error_reply(vector: &Value) -> Reply {
    let status = vector["http_status"].as_u64().expect("status") as u16;
    let mut reply = match &vector["response_body"] {
        Value::String(text) => Reply::text(status, text),
        body => Reply::json(status, body),
    };
    for (name, value) in vector["response_headers"].as_object().expect("headers") {
        reply = reply.with_header(name, value.as_str().expect("header value"));
    }
    reply
}

#[test]
fn error_vectors_map_to_the_contract_codes_on_every_endpoint() {
    let file = load_json("vectors/errors.json");
    let vectors = file["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 7);
    for mode in MODES {
        for vector in vectors {
            let name = str_field(vector, "name");
            let expected = &vector["sdk_error"];
            for endpoint in ["evaluate", "verify", "protect"] {
                let (server, url) = match str_field(vector, "transport") {
                    "" => {
                        let server = FaultServer::always(error_reply(vector));
                        let url = server.url();
                        (Some(server), url)
                    }
                    "timeout" => {
                        let server = FaultServer::always(Reply::Stall);
                        let url = server.url();
                        (Some(server), url)
                    }
                    "connection_refused" => (None, refused_url()),
                    other => panic!("{name}: unknown transport {other}"),
                };
                let stalls = str_field(vector, "transport") == "timeout";
                let err = call_failing(mode, &url, endpoint, stalls)
                    .unwrap_err_or_else(|| panic!("{name} via {endpoint} ({mode:?}) succeeded"));
                assert_sdk_error(&err, expected, &format!("{name} via {endpoint} ({mode:?})"));
                assert!(!err.is_denied(), "{name}: a failure is not a denial");
                if let Some(server) = server {
                    let requests = server.requests();
                    assert!(!requests.is_empty());
                    let ids: HashSet<_> = requests
                        .iter()
                        .filter_map(|r| r.header("x-request-id"))
                        .collect();
                    assert_eq!(ids.len(), 1, "{name}: retries reuse the request id");
                    assert_eq!(err.request_id(), ids.into_iter().next(), "{name}");
                }
            }
        }
    }
}

trait UnwrapErr<E> {
    fn unwrap_err_or_else(self, f: impl FnOnce()) -> E;
}

impl<T, E> UnwrapErr<E> for Result<T, E> {
    fn unwrap_err_or_else(self, f: impl FnOnce()) -> E {
        match self {
            Ok(_) => {
                f();
                unreachable!("the closure panics")
            }
            Err(e) => e,
        }
    }
}

/// One call; against a stalling server with a short timeout so the vector
/// ends quickly, otherwise with a generous one so a loaded machine cannot
/// turn another vector into a timeout.
fn call_failing(mode: Mode, url: &str, endpoint: &str, stalls: bool) -> Result<(), Error> {
    let timeout = if stalls {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(10)
    };
    let builder = || {
        atlasent::Client::builder()
            .wire(atlasent::Wire::Legacy)
            .api_key(TEST_KEY)
            .base_url(url)
            .retry_backoff(Duration::from_millis(2))
            .max_retries(1)
            .timeout(timeout)
    };
    let ctx = json!({ "k": "v" });
    match mode {
        Mode::Async => {
            let client = builder().build()?;
            support::rt().block_on(async {
                match endpoint {
                    "evaluate" => client.evaluate("agent-1", "act", &ctx).await.map(drop),
                    "verify" => client
                        .verify("dec_1", "agent-1", "act", &ctx)
                        .await
                        .map(drop),
                    _ => client.protect("agent-1", "act", &ctx).await.map(drop),
                }
            })
        }
        Mode::Blocking => {
            let client = atlasent::blocking::Client::from_async(builder().build()?)?;
            match endpoint {
                "evaluate" => client.evaluate("agent-1", "act", &ctx).map(drop),
                "verify" => client.verify("dec_1", "agent-1", "act", &ctx).map(drop),
                _ => client.protect("agent-1", "act", &ctx).map(drop),
            }
        }
    }
}

#[test]
fn every_request_carries_a_fresh_request_id() {
    let server = FaultServer::start(|req, _| {
        if req.path == "/v1-evaluate" {
            Reply::json(200, &json!({ "permitted": true, "decision_id": "dec_1" }))
        } else {
            Reply::json(200, &json!({ "verified": true, "outcome": "verified" }))
        }
    });
    let client = support::legacy_client(&server.url());
    support::rt().block_on(async {
        for _ in 0..3 {
            client.protect("agent-1", "act", &()).await.expect("permit");
        }
    });
    let requests = server.requests();
    assert_eq!(requests.len(), 6);
    let ids: HashSet<_> = requests
        .iter()
        .filter_map(|r| r.header("x-request-id"))
        .collect();
    assert_eq!(ids.len(), 6, "unique per request");
    for request in &requests {
        assert_required_headers(request, TEST_KEY, "protect");
    }
}
