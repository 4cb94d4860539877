//! Replies bound to their requests (issue 9, chaos proxy): a reply whose
//! `X-Request-ID` or permit names another call — what a proxy that swaps or
//! replays replies delivers — is a `BadResponse`, never a `Permit`, and is not
//! retried. A reply echoing this call's id, or none at all, is accepted.

mod support;

use atlasent::ErrorCode;
use serde_json::json;
use support::faults::*;
use support::{allow, verified, FaultServer, Reply};

/// A server that answers evaluate with `allow()` and verify with `verified()`,
/// each carrying the `X-Request-ID` that `echo` makes of the one received.
fn echoing_server(echo: impl Fn(&str) -> Vec<String> + Send + Sync + 'static) -> FaultServer {
    FaultServer::start(move |req, _| {
        let mut reply = if req.path == "/v1-evaluate" {
            allow()
        } else {
            verified()
        };
        for id in echo(req.header("x-request-id").unwrap_or_default()) {
            reply = reply.with_header("X-Request-ID", &id);
        }
        reply
    })
}

#[test]
fn a_verified_reply_naming_another_request_is_bad_response_never_a_permit() {
    // What a proxy that swaps or replays replies delivers: a genuine
    // `verified: true`, but the answer to another call.
    let server = FaultServer::start(|req, _| {
        if req.path == "/v1-evaluate" {
            let id = req.header("x-request-id").unwrap_or_default().to_owned();
            allow().with_header("X-Request-ID", &id)
        } else {
            verified().with_header("X-Request-ID", "0badc0de-0000-4000-8000-000000000000")
        }
    });
    let err = expect_err(protect(&server.url()));
    assert_eq!(err.code(), Some(ErrorCode::BadResponse), "{err}");
    assert!(!err.is_denied());
    let message = err.to_string();
    assert!(message.contains("X-Request-ID"), "{message}");
    assert!(
        message.contains("0badc0de-0000-4000-8000-000000000000"),
        "{message}"
    );
    let requests = server.requests();
    assert_eq!(
        attempts(&requests, "/v1-verify-permit"),
        1,
        "not retried: a reply to another request is not a transient failure"
    );
}

#[test]
fn an_allow_naming_another_request_is_bad_response_and_nothing_is_verified() {
    let server = echoing_server(|_| vec!["0badc0de-0000-4000-8000-000000000001".into()]);
    let err = expect_err(protect(&server.url()));
    assert_eq!(err.code(), Some(ErrorCode::BadResponse), "{err}");
    assert_eq!(attempts(&server.requests(), "/v1-verify-permit"), 0);
}

#[test]
fn a_reply_echoing_x_request_id_twice_must_name_this_request_both_times() {
    let server = echoing_server(|sent| {
        vec![
            sent.to_owned(),
            "0badc0de-0000-4000-8000-000000000002".into(),
        ]
    });
    let err = expect_err(protect(&server.url()));
    assert_eq!(err.code(), Some(ErrorCode::BadResponse), "{err}");
}

#[test]
fn an_error_reply_naming_another_request_is_bad_response() {
    // A swapped 429 must not make this call wait on another call's limit.
    let server = FaultServer::always(
        Reply::json(429, &json!({ "message": "slow down" }))
            .with_header("Retry-After", "30")
            .with_header("X-Request-ID", "0badc0de-0000-4000-8000-000000000003"),
    );
    let err = expect_err(protect(&server.url()));
    assert_eq!(err.code(), Some(ErrorCode::BadResponse), "{err}");
    assert_eq!(err.retry_after(), None);
}

#[test]
fn replies_echoing_this_request_id_or_none_at_all_are_accepted() {
    // The contract does not require the echo: its absence is not a fault.
    let echoed = echoing_server(|sent| vec![sent.to_owned()]);
    let permit = protect(&echoed.url()).expect("echo matches");
    assert_eq!(permit.permit_id(), "dec_allow_1");
    let silent = echoing_server(|_| Vec::new());
    protect(&silent.url()).expect("no echo");
}

#[test]
fn a_verified_reply_about_another_permit_is_bad_response_never_a_permit() {
    // The server names the permit in its verify reply: one about another
    // permit (swapped or replayed with its header stripped) is refused.
    let other = raw_json(
        r#"{"verified":true,"decision_id":"dec_other","outcome":"verified","permit_hash":"h"}"#,
    );
    let (err, requests) = protect_against(allow, move || other.clone());
    assert_eq!(err.code(), Some(ErrorCode::BadResponse), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("\"dec_other\"") && message.contains("\"dec_allow_1\""),
        "{message}"
    );
    assert_eq!(attempts(&requests, "/v1-verify-permit"), 1);

    let same = raw_json(
        r#"{"verified":true,"decision_id":"dec_allow_1","outcome":"verified","permit_hash":"h"}"#,
    );
    let server = split_server(allow, move || same.clone());
    protect(&server.url()).expect("a reply about this permit is a permit");
}
