//! What a caller sees around the decision path: arguments refused before
//! anything is sent, the permit's contents as issued, rate-limit headers on
//! results, the API key redacted from a server's echo, the key endpoints'
//! requests, and the blocking client refusing (not panicking) inside a
//! runtime.

mod support;

use std::time::Duration;

use atlasent::{Error, ErrorCode, Permit};
use serde_json::json;
use support::faults::*;
use support::{allow, verified, FaultServer, Reply};

#[test]
fn the_key_is_redacted_from_a_server_echo() {
    let server = FaultServer::always(Reply::json(
        403,
        &json!({ "message": format!("key {} lacks scope evaluate", support::TEST_KEY) }),
    ));
    let err = support::rt()
        .block_on(client_for(&server.url()).evaluate("a", "b", &()))
        .expect_err("403");
    assert_eq!(err.code(), Some(ErrorCode::Forbidden));
    assert!(
        err.to_string()
            .contains("key [REDACTED] lacks scope evaluate"),
        "{err}"
    );
    assert!(!format!("{err:?}").contains(support::TEST_KEY), "{err:?}");
}

#[test]
fn rate_limit_headers_are_parsed_onto_results() {
    let server = FaultServer::start(|req, _| {
        let reply = if req.path == "/v1-evaluate" {
            allow()
        } else {
            verified()
        };
        reply
            .with_header("X-RateLimit-Limit", "600")
            .with_header("X-RateLimit-Remaining", "599")
            .with_header("X-RateLimit-Reset", "1776420060")
    });
    let client = client_for(&server.url());
    let gate = support::rt()
        .block_on(client.gate("agent-1", "deploy", &()))
        .expect("gate");
    let rl = gate.evaluation.rate_limit.expect("rate limit");
    assert_eq!((rl.limit, rl.remaining), (600, 599));
    assert_eq!(
        rl.reset_at,
        std::time::UNIX_EPOCH + Duration::from_secs(1_776_420_060)
    );
    assert!(gate.verification.rate_limit.is_some());
}

#[test]
fn bad_arguments_are_refused_before_anything_is_sent() {
    let server = FaultServer::always(allow());
    let client = client_for(&server.url());
    let rt = support::rt();
    let long = "a".repeat(257);
    let cases: Vec<(Result<Permit, Error>, &str)> = vec![
        (
            rt.block_on(client.protect("", "deploy", &())),
            "agent must not be empty",
        ),
        (
            rt.block_on(client.protect("a", "", &())),
            "action must not be empty",
        ),
        (
            rt.block_on(client.protect(&long, "deploy", &())),
            "agent is 257 characters",
        ),
        (
            rt.block_on(client.protect("a", &long, &())),
            "action is 257 characters",
        ),
        (
            rt.block_on(client.protect("a", "b", &json!([1, 2]))),
            "an array",
        ),
        (rt.block_on(client.protect("a", "b", &"text")), "a string"),
        (rt.block_on(client.protect("a", "b", &42)), "a number"),
    ];
    for (result, needle) in cases {
        let err = expect_err(result);
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
        assert!(err.to_string().contains(needle), "{err} lacks {needle}");
    }
    let exactly_256 = "a".repeat(256);
    rt.block_on(client.evaluate(&exactly_256, "b", &()))
        .expect("256 characters is allowed");
    assert_eq!(
        server.request_count(),
        1,
        "only the valid call reached the server"
    );
}

#[test]
fn the_permit_carries_what_the_server_issued() {
    let server = allowing_server();
    let permit = protect(&server.url()).expect("permit");
    assert_eq!(permit.permit_id(), "dec_allow_1");
    assert_eq!(permit.permit_hash(), "permit_hash_1");
    assert_eq!(permit.audit_hash(), "audit_1");
    assert_eq!(permit.reason(), "allowed by test");
    assert_eq!(permit.timestamp(), "2026-04-17T10:00:01Z");
    assert_eq!(permit.agent(), "agent-1");
    assert_eq!(permit.action(), "deploy");
    assert_eq!(
        permit.to_string(),
        "permit dec_allow_1 for agent-1 to deploy"
    );
}

#[test]
fn key_self_and_revoke_speak_their_endpoints() {
    let server = FaultServer::start(|req, _| match req.path.as_str() {
        "/v1-api-key-self" => Reply::json(
            200,
            &json!({
                "key_id": "key_1", "organization_id": "org_1", "environment": "test",
                "scopes": ["evaluate"], "allowed_cidrs": null, "rate_limit_per_minute": 600,
                "client_ip": "127.0.0.1", "expires_at": null
            }),
        ),
        _ => Reply::json(
            200,
            &json!({ "revoked": true, "decision_id": "dec_1", "revoked_at": "2026-04-17T10:00:00Z", "audit_hash": "h" }),
        ),
    });
    let client = client_for(&server.url());
    let rt = support::rt();
    let me = rt.block_on(client.key_self()).expect("key self");
    assert_eq!(
        (me.key_id.as_str(), me.rate_limit_per_minute),
        ("key_1", 600)
    );
    let revoked = rt
        .block_on(client.revoke_permit("dec_1", Some("rotated")))
        .expect("revoke");
    assert!(revoked.revoked);
    let requests = server.requests();
    assert_eq!(requests[0].method, "GET");
    assert!(requests[0].body.is_empty());
    assert_eq!(requests[1].path, "/v1-revoke-permit");
    assert_eq!(
        requests[1].json(),
        json!({ "decision_id": "dec_1", "reason": "rotated", "api_key": support::TEST_KEY })
    );
}

#[test]
fn blocking_client_inside_a_runtime_is_an_error_not_a_panic() {
    let server = FaultServer::always(allow());
    let client = atlasent::blocking::Client::builder()
        .api_key(support::TEST_KEY)
        .base_url(server.url())
        .build()
        .expect("client");
    let err = support::rt()
        .block_on(async { client.protect("a", "b", &()) })
        .expect_err("refused inside a runtime");
    assert!(matches!(err, Error::Config { .. }), "{err}");
    assert!(err.to_string().contains("inside an async runtime"), "{err}");
    assert_eq!(server.request_count(), 0);
    // Dropping it inside a runtime must not panic either.
    support::rt().block_on(async move { drop(client) });
}

/// A context that repeats a member name (here a raw JSON text; a custom
/// `Serialize` could write one too) is refused on the current wire before
/// anything is sent, at any depth, with the strict reader's words: the
/// `execution_hash` of text two readers read differently would bind nothing.
#[test]
fn a_context_repeating_a_member_is_refused_before_sending() {
    let server = FaultServer::always(allow());
    let client = support::client(&server.url());
    let rt = support::rt();
    for text in [
        r#"{"amount":5,"amount":5000000}"#,
        r#"{"change":{"id":"a","i\u0064":"b"}}"#,
    ] {
        let context = serde_json::value::RawValue::from_string(text.to_owned()).expect("raw");
        let err = rt
            .block_on(client.protect("deploy-bot", "deploy.production", &context))
            .expect_err("refused");
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("context is not a JSON object a server can read: duplicate member"),
            "{err}"
        );
    }
    assert_eq!(server.request_count(), 0);
}
