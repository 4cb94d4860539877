//! Transport faults and retries: every way the connection or the server's
//! status can fail a call, each over real sockets, each ending in an `Err`
//! with the right code and never a `Permit`. Retried cases count the
//! attempts the server saw and check that every attempt carried one
//! `X-Request-ID`; the others check that a single attempt was made.
//!
//! The client speaks the default (current) wire; the replies here are in the
//! 1.4.1 shape, which the current wire reads too.

mod support;

use std::time::Duration;

use atlasent::ErrorCode;
use serde_json::json;
use support::faults::*;
use support::{allow, refused_url, verified, FaultServer, Reply};

#[test]
fn connection_refused_is_network_after_retries() {
    let err = expect_err(protect(&refused_url()));
    assert_eq!(err.code(), Some(ErrorCode::Network));
    assert_eq!(attempts_of(&err), RETRIES + 1);
    assert!(err.request_id().is_some());
}

#[test]
fn connection_reset_mid_body_is_network_and_retried() {
    let server = FaultServer::always(Reply::ResetMidBody {
        declared: 120,
        sent: 20,
    });
    let err = expect_err(protect(&server.url()));
    assert_eq!(err.code(), Some(ErrorCode::Network), "{err}");
    assert_retried(&server.requests(), "/v1-evaluate", "reset mid-body");
}

#[test]
fn a_body_that_never_finishes_times_out_and_is_retried() {
    let server = FaultServer::always(Reply::Stall);
    let client = client_with_timeout(&server.url(), Duration::from_millis(300));
    let err = expect_err(support::rt().block_on(client.protect("agent-1", "deploy", &())));
    assert_eq!(err.code(), Some(ErrorCode::Timeout), "{err}");
    assert_retried(&server.requests(), "/v1-evaluate", "stalled body");
}

#[test]
fn closed_without_reply_is_network() {
    let server = FaultServer::always(Reply::Close);
    let err = expect_err(protect(&server.url()));
    assert_eq!(err.code(), Some(ErrorCode::Network), "{err}");
    assert_eq!(server.request_count(), ATTEMPTS);
}

#[test]
fn http_500_and_502_are_server_errors_after_retries() {
    for status in [500, 502, 503, 504] {
        let server = FaultServer::always(Reply::text(status, "upstream trouble"));
        let err = expect_err(protect(&server.url()));
        assert_eq!(err.code(), Some(ErrorCode::ServerError), "{status}");
        assert_eq!(err.status(), Some(status));
        assert_retried(&server.requests(), "/v1-evaluate", &status.to_string());
        assert!(err.to_string().contains("upstream trouble"), "{err}");
    }
}

#[test]
fn a_503_then_success_is_retried_with_the_same_request_id() {
    let server = FaultServer::start(|req, n| match (req.path.as_str(), n) {
        ("/v1-evaluate", 0) => Reply::text(503, "warming up"),
        ("/v1-evaluate", _) => allow(),
        _ => verified(),
    });
    let permit = protect(&server.url()).expect("second attempt succeeds");
    assert_eq!(permit.permit_id(), "dec_allow_1");
    let requests = server.requests();
    assert_eq!(attempts(&requests, "/v1-evaluate"), 2);
    assert_eq!(attempts(&requests, "/v1-verify-permit"), 1);
    assert_one_request_id(&requests, "/v1-evaluate");
    assert_eq!(
        requests[0].body, requests[1].body,
        "the retry resends the same body"
    );
}

#[test]
fn a_429_is_not_retried_and_carries_retry_after() {
    let server = FaultServer::always(
        Reply::json(429, &json!({ "message": "slow down" })).with_header("Retry-After", "7"),
    );
    let err = expect_err(protect(&server.url()));
    assert_eq!(err.code(), Some(ErrorCode::RateLimited));
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(server.request_count(), 1, "429 is not retried");
}

#[test]
fn a_429_with_an_http_date_retry_after() {
    let at = std::time::SystemTime::now() + Duration::from_secs(120);
    let date = httpdate::fmt_http_date(at);
    let server = FaultServer::always(Reply::text(429, "").with_header("Retry-After", &date));
    let err = expect_err(protect(&server.url()));
    assert_eq!(err.code(), Some(ErrorCode::RateLimited));
    let wait = err.retry_after().expect("retry_after parsed");
    assert!(
        wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );
}

#[test]
fn http_401_403_422_are_not_retried() {
    // The codes as the contract spells them (`vectors/errors.json`).
    for (status, code) in [
        (401, "invalid_api_key"),
        (403, "forbidden"),
        (422, "bad_request"),
        (400, "bad_request"),
    ] {
        let server = FaultServer::always(Reply::json(
            status,
            &json!({ "message": format!("nope {status}") }),
        ));
        let err = expect_err(protect(&server.url()));
        assert_eq!(err.code().map(ErrorCode::as_str), Some(code), "{status}");
        assert_eq!(err.status(), Some(status));
        assert!(err.to_string().contains(&format!("nope {status}")), "{err}");
        assert_eq!(server.request_count(), 1, "{status} is not retried");
    }
}

#[test]
fn a_redirect_is_not_followed() {
    let server = FaultServer::always(
        Reply::text(302, "").with_header("Location", "http://127.0.0.1:9/steal"),
    );
    let err = expect_err(protect(&server.url()));
    assert_eq!(err.code(), Some(ErrorCode::BadResponse));
    assert_eq!(server.request_count(), 1);
}

#[test]
fn a_verify_5xx_after_an_allow_fails_after_retries() {
    let (err, requests) = protect_against(allow, || Reply::text(500, "db down"));
    assert_eq!(err.code(), Some(ErrorCode::ServerError));
    assert_eq!(attempts(&requests, "/v1-evaluate"), 1);
    assert_retried(&requests, "/v1-verify-permit", "verify 500");
}
