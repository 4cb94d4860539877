//! The fault matrix: every way the decision path can break, each over real
//! sockets, each ending in an `Err` with the right code and never a `Permit`.
//! Retry cases count the attempts the server saw.
//!
//! The client speaks the default (current) wire; the replies here are in
//! the 1.4.1 shape, which the current wire reads too. Cases that look at a
//! request body run on both wires; the current wire's own replies and
//! failure modes are in `current_wire.rs`.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use atlasent::{DenialStage, Error, ErrorCode, Permit, Wire};
use serde_json::json;
use support::{allow, refused_url, verified, FaultServer, Recorded, Reply};

const RETRIES: u32 = 2;
const ATTEMPTS: usize = RETRIES as usize + 1;

/// A generous timeout: only the stall test wants one to fire (it sets its
/// own), and a loaded machine must not turn any other case into a timeout.
fn client_for(url: &str) -> atlasent::Client {
    client_with_timeout(url, Duration::from_secs(10))
}

fn client_with_timeout(url: &str, timeout: Duration) -> atlasent::Client {
    client_builder(url, timeout).build().expect("client")
}

fn client_builder(url: &str, timeout: Duration) -> atlasent::ClientBuilder {
    atlasent::Client::builder()
        .api_key(support::TEST_KEY)
        .base_url(url)
        .max_retries(RETRIES)
        .retry_backoff(Duration::from_millis(2))
        .timeout(timeout)
}

fn protect(url: &str) -> Result<Permit, Error> {
    protect_on(url, Wire::default())
}

fn protect_on(url: &str, wire: Wire) -> Result<Permit, Error> {
    let client = client_builder(url, Duration::from_secs(10))
        .wire(wire)
        .build()
        .expect("client");
    support::rt().block_on(client.protect("agent-1", "deploy", &json!({ "env": "prod" })))
}

/// Run `protect` against a server that answers evaluate with `evaluate`
/// and verify with `verify`; return the error and the requests seen.
fn protect_against(
    evaluate: impl Fn() -> Reply + Send + Sync + 'static,
    verify: impl Fn() -> Reply + Send + Sync + 'static,
) -> (Error, Vec<Recorded>) {
    protect_against_on(Wire::default(), evaluate, verify)
}

/// [`protect_against`] on the given wire.
fn protect_against_on(
    wire: Wire,
    evaluate: impl Fn() -> Reply + Send + Sync + 'static,
    verify: impl Fn() -> Reply + Send + Sync + 'static,
) -> (Error, Vec<Recorded>) {
    let server = FaultServer::start(move |req, _| {
        if req.path == "/v1-evaluate" {
            evaluate()
        } else {
            verify()
        }
    });
    let err = expect_err(protect_on(&server.url(), wire));
    (err, server.requests())
}

fn expect_err(result: Result<Permit, Error>) -> Error {
    match result {
        Ok(permit) => panic!("fail-closed violated: got {permit}"),
        Err(err) => err,
    }
}

fn attempts(requests: &[Recorded], path: &str) -> usize {
    requests.iter().filter(|r| r.path == path).count()
}

fn assert_one_request_id(requests: &[Recorded], path: &str) {
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

fn attempts_of(err: &Error) -> u32 {
    match err {
        Error::Request(e) => e.attempts(),
        other => panic!("not a request error: {other}"),
    }
}

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
    let requests = server.requests();
    assert_eq!(attempts(&requests, "/v1-evaluate"), ATTEMPTS);
    assert_one_request_id(&requests, "/v1-evaluate");
}

#[test]
fn a_body_that_never_finishes_times_out_and_is_retried() {
    let server = FaultServer::always(Reply::Stall);
    let client = client_with_timeout(&server.url(), Duration::from_millis(300));
    let err = expect_err(support::rt().block_on(client.protect("agent-1", "deploy", &())));
    assert_eq!(err.code(), Some(ErrorCode::Timeout), "{err}");
    let requests = server.requests();
    assert_eq!(attempts(&requests, "/v1-evaluate"), ATTEMPTS);
    assert_one_request_id(&requests, "/v1-evaluate");
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
        let requests = server.requests();
        assert_eq!(attempts(&requests, "/v1-evaluate"), ATTEMPTS, "{status}");
        assert_one_request_id(&requests, "/v1-evaluate");
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
    for (status, code) in [
        (401, ErrorCode::InvalidApiKey),
        (403, ErrorCode::Forbidden),
        (422, ErrorCode::BadRequest),
        (400, ErrorCode::BadRequest),
    ] {
        let server = FaultServer::always(Reply::json(
            status,
            &json!({ "message": format!("nope {status}") }),
        ));
        let err = expect_err(protect(&server.url()));
        assert_eq!(err.code(), Some(code), "{status}");
        assert_eq!(err.status(), Some(status));
        assert!(err.to_string().contains(&format!("nope {status}")), "{err}");
        assert_eq!(server.request_count(), 1, "{status} is not retried");
    }
}

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
fn a_redirect_is_not_followed() {
    let server = FaultServer::always(
        Reply::text(302, "").with_header("Location", "http://127.0.0.1:9/steal"),
    );
    let err = expect_err(protect(&server.url()));
    assert_eq!(err.code(), Some(ErrorCode::BadResponse));
    assert_eq!(server.request_count(), 1);
}

#[test]
fn malformed_evaluate_replies_are_bad_response_never_a_decision() {
    let cases: Vec<(&str, Reply, &str)> = vec![
        (
            "not json",
            Reply::text(200, "<html>gateway</html>"),
            "not valid JSON",
        ),
        (
            "truncated json",
            Reply::text(200, r#"{"permitted": true, "decision_id": "de"#),
            "not valid JSON",
        ),
        (
            "permitted as a string",
            Reply::json(200, &json!({ "permitted": "true", "decision_id": "d" })),
            "permitted",
        ),
        (
            "permitted as a number",
            Reply::json(200, &json!({ "permitted": 1, "decision_id": "d" })),
            "permitted",
        ),
        (
            "missing decision_id",
            Reply::json(200, &json!({ "permitted": true })),
            "decision_id",
        ),
        (
            "empty decision_id",
            Reply::json(200, &json!({ "permitted": true, "decision_id": "" })),
            "decision_id",
        ),
        (
            "null permitted",
            Reply::json(200, &json!({ "permitted": null, "decision_id": "d" })),
            "permitted",
        ),
        (
            "array body",
            Reply::json(200, &json!([true])),
            "v1-evaluate",
        ),
        ("empty body", Reply::text(200, ""), "not valid JSON"),
    ];
    for (name, reply, needle) in cases {
        let server = FaultServer::always(reply);
        let err = expect_err(protect(&server.url()));
        assert_eq!(err.code(), Some(ErrorCode::BadResponse), "{name}: {err}");
        assert!(
            err.to_string().contains(needle),
            "{name}: {err} lacks {needle}"
        );
        assert_eq!(
            server.request_count(),
            1,
            "{name}: malformed replies are not retried"
        );
    }
}

#[test]
fn an_oversized_reply_is_bad_response() {
    let huge = "x".repeat(64 * 1024);
    let server = FaultServer::always(Reply::json(
        200,
        &json!({ "permitted": true, "decision_id": "d", "reason": huge }),
    ));
    let client = atlasent::Client::builder()
        .api_key(support::TEST_KEY)
        .base_url(server.url())
        .max_response_bytes(16 * 1024)
        .build()
        .expect("client");
    let err = expect_err(support::rt().block_on(client.protect("a", "b", &())));
    assert_eq!(err.code(), Some(ErrorCode::BadResponse));
    assert!(err.to_string().contains("max_response_bytes"), "{err}");
}

#[test]
fn a_policy_deny_is_a_denial_with_its_details() {
    let (err, requests) = protect_against(
        || {
            Reply::json(
                200,
                &json!({
                    "permitted": false,
                    "decision_id": "dec_deny_1",
                    "reason": "policy finance: rule deny_high_value",
                    "audit_hash": "audit_deny_1"
                }),
            )
        },
        verified,
    );
    let denial = err.denial().expect("a denial");
    assert_eq!(denial.stage(), DenialStage::Policy);
    assert_eq!(denial.decision(), atlasent::Decision::Deny);
    assert_eq!(denial.reason(), "policy finance: rule deny_high_value");
    assert_eq!(denial.evaluation_id(), "dec_deny_1");
    assert_eq!(denial.audit_hash(), "audit_deny_1");
    assert_eq!(denial.request_id(), requests[0].header("x-request-id"));
    assert_eq!(
        attempts(&requests, "/v1-verify-permit"),
        0,
        "nothing to verify"
    );
}

#[test]
fn an_allow_whose_permit_fails_verification_is_a_denial() {
    for (wire, outcome) in [Wire::Legacy, Wire::Current]
        .into_iter()
        .flat_map(|w| ["expired", "consumed", "revoked", "mismatch"].map(|o| (w, o)))
    {
        let (err, requests) = protect_against_on(wire, allow, move || {
            Reply::json(
                200,
                &json!({ "verified": false, "outcome": outcome, "permit_hash": "" }),
            )
        });
        let denial = err.denial().expect("a denial");
        assert_eq!(denial.stage(), DenialStage::Verification);
        assert_eq!(denial.outcome(), Some(outcome));
        assert_eq!(
            denial.reason(),
            format!("Permit failed verification ({outcome})")
        );
        assert_eq!(denial.evaluation_id(), "dec_allow_1");
        assert_eq!(denial.audit_hash(), "audit_1");
        assert_eq!(attempts(&requests, "/v1-verify-permit"), 1);
        // Verification re-states exactly what was evaluated.
        let eval = requests
            .iter()
            .find(|r| r.path == "/v1-evaluate")
            .expect("evaluate")
            .json();
        let verify = requests
            .iter()
            .find(|r| r.path == "/v1-verify-permit")
            .expect("verify")
            .json();
        if wire == Wire::Legacy {
            assert_eq!(verify["decision_id"], "dec_allow_1");
            for field in ["agent", "action", "context"] {
                assert_eq!(verify[field], eval[field], "{field}");
            }
        } else {
            assert_eq!(verify["permit_token"], "dec_allow_1");
            for field in ["actor_id", "action_type"] {
                assert_eq!(verify[field], eval[field], "{field}");
            }
            let hash = atlasent::wire::execution_hash(
                "deploy",
                "agent-1",
                eval["context"].as_object().expect("context"),
            );
            assert_eq!(verify["execution_hash"], hash.as_str());
            assert!(verify.get("context").is_none(), "{verify}");
        }
    }
}

#[test]
fn a_verify_5xx_after_an_allow_fails_after_retries() {
    let (err, requests) = protect_against(allow, || Reply::text(500, "db down"));
    assert_eq!(err.code(), Some(ErrorCode::ServerError));
    assert_eq!(attempts(&requests, "/v1-evaluate"), 1);
    assert_eq!(attempts(&requests, "/v1-verify-permit"), ATTEMPTS);
    assert_one_request_id(&requests, "/v1-verify-permit");
}

#[test]
fn a_malformed_verify_reply_is_bad_response() {
    for body in [
        json!({ "verified": "true" }),
        json!({ "outcome": "verified" }),
    ] {
        let reply = Reply::json(200, &body);
        let (err, _) = protect_against(allow, move || reply.clone());
        assert_eq!(err.code(), Some(ErrorCode::BadResponse), "{body}");
        assert!(err.to_string().contains("verified"), "{err}");
    }
}

#[test]
fn gate_fails_and_authorize_reports_not_permitted_when_verification_fails() {
    let server = FaultServer::start(|req, _| {
        if req.path == "/v1-evaluate" {
            allow()
        } else {
            Reply::json(200, &json!({ "verified": false, "outcome": "consumed" }))
        }
    });
    let client = client_for(&server.url());
    let rt = support::rt();
    let err = rt
        .block_on(client.gate("agent-1", "deploy", &()))
        .expect_err("gate fails");
    assert_eq!(
        err.denial().map(|d| d.stage()),
        Some(DenialStage::Verification)
    );
    let result = rt
        .block_on(client.authorize("agent-1", "deploy", &()))
        .expect("as data");
    assert!(
        !result.permitted,
        "Python 1.4.1 says true here; we must not"
    );
    assert!(!result.verified);
    assert_eq!(result.outcome, "consumed");
    assert_eq!(result.reason, "Permit failed verification (consumed)");
}

#[test]
fn authorize_and_evaluate_return_a_deny_as_data() {
    let server = FaultServer::always(Reply::json(
        200,
        &json!({ "permitted": false, "decision_id": "dec_9", "reason": "no" }),
    ));
    let client = client_for(&server.url());
    let rt = support::rt();
    let result = rt
        .block_on(client.authorize("agent-1", "deploy", &()))
        .expect("data");
    assert!(!result.permitted && !result.verified);
    assert_eq!(
        (result.permit_id.as_str(), result.reason.as_str()),
        ("dec_9", "no")
    );
    let evaluation = rt
        .block_on(client.evaluate("agent-1", "deploy", &()))
        .expect("data");
    assert!(!evaluation.permitted);
    assert_eq!(evaluation.decision, atlasent::Decision::Deny);
    assert_eq!(server.request_count(), 2, "no verify for a deny");
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
    let server = FaultServer::start(|req, _| {
        if req.path == "/v1-evaluate" {
            allow()
        } else {
            verified()
        }
    });
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

#[test]
fn an_oversized_audit_page_names_the_export_limit() {
    let events: Vec<_> = (0..200)
        .map(|i| json!({ "id": format!("evt-{i}"), "hash": "h", "previous_hash": "p", "payload": {} }))
        .collect();
    let server = FaultServer::always(Reply::json(200, &json!({ "events": events, "total": 200 })));
    let client = atlasent::Client::builder()
        .api_key(support::TEST_KEY)
        .base_url(server.url())
        .max_export_bytes(4 * 1024)
        .build()
        .expect("client");
    let err = support::rt()
        .block_on(client.list_audit_events(&atlasent::audit::AuditEventQuery::new()))
        .expect_err("too large");
    assert_eq!(err.code(), Some(ErrorCode::BadResponse));
    assert!(err.to_string().contains("(max_export_bytes)"), "{err}");
}

// ---- Duplicate member names in replies (issue 9, defect 1) ----

/// A 200 reply with `body` as its exact bytes.
fn raw_json(body: &str) -> Reply {
    Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn assert_duplicate(err: &Error, member: &str, path: &str) {
    assert_eq!(err.code(), Some(ErrorCode::BadResponse), "{err}");
    let want = format!("duplicate member \"{member}\" at {path}");
    assert!(err.to_string().contains(&want), "{err}\nwanted: {want}");
}

#[test]
fn an_evaluate_reply_with_a_repeated_member_is_bad_response() {
    for (body, member, path) in [
        (
            r#"{"permitted":false,"decision_id":"dec_1","reason":"denied","permitted":true}"#,
            "permitted",
            "$",
        ),
        (
            r#"{"permitted":false,"decision_id":"dec_1","permit\u0074ed":true}"#,
            "permitted",
            "$",
        ),
        (
            r#"{"permitted":true,"decision_id":"dec_1","extra":{"a":[{"b":1,"b":2}]}}"#,
            "b",
            "$.extra.a[0]",
        ),
        (
            r#"{"permitted":true,"decision_id":"dec_1","x":1,"\u0078":2}"#,
            "x",
            "$",
        ),
    ] {
        let server = FaultServer::always(raw_json(body));
        let err = expect_err(protect(&server.url()));
        assert_duplicate(&err, member, path);
        assert_eq!(server.request_count(), 1, "{body}: not retried");
    }
}

#[test]
fn a_verify_reply_with_a_repeated_member_is_bad_response() {
    for (body, member, path) in [
        (
            r#"{"verified":false,"outcome":"consumed","verified":true}"#,
            "verified",
            "$",
        ),
        (
            r#"{"verified":true,"outcome":"verified","meta":{"o":{"k":"a","\u006b":"b"}}}"#,
            "k",
            "$.meta.o",
        ),
    ] {
        let reply = raw_json(body);
        let (err, requests) = protect_against(allow, move || reply.clone());
        assert_duplicate(&err, member, path);
        assert_eq!(attempts(&requests, "/v1-verify-permit"), 1);
    }
}

#[test]
fn key_self_revoke_and_audit_replies_with_a_repeated_member_are_bad_response() {
    let server = FaultServer::start(|req, _| match req.path.as_str() {
        "/v1-api-key-self" => raw_json(
            r#"{"key_id":"k","organization_id":"o","environment":"live","rate_limit_per_minute":1,"scopes":[],"scopes":["admin"]}"#,
        ),
        "/v1-revoke-permit" => raw_json(r#"{"revoked":true,"decision_id":"d","revoked":false}"#),
        "/v1-signing-keys" => {
            raw_json(r#"{"keys":[{"key_id":"a","key_id":"b","public_key_pem":"x"}]}"#)
        }
        _ => raw_json(
            r#"{"events":[{"id":"e","hash":"h","previous_hash":"p","payload":{"amount":50,"amount":5000000}}],"total":1}"#,
        ),
    });
    let client = client_for(&server.url());
    let rt = support::rt();
    let err = rt.block_on(client.key_self()).expect_err("dup");
    assert_duplicate(&err, "scopes", "$");
    let err = rt
        .block_on(client.revoke_permit("d", None))
        .expect_err("dup");
    assert_duplicate(&err, "revoked", "$");
    let err = rt.block_on(client.signing_keys()).expect_err("dup");
    assert_duplicate(&err, "key_id", "$.keys[0]");
    let err = rt
        .block_on(client.list_audit_events(&atlasent::audit::AuditEventQuery::new()))
        .expect_err("dup");
    assert_duplicate(&err, "amount", "$.events[0].payload");
}

#[test]
fn an_export_reply_with_a_repeated_member_is_bad_response() {
    let server = FaultServer::always(raw_json(
        r#"{"export_id":"x","chain_head_hash":"h","signature":"s","events":[],"\u0065vents":[{}]}"#,
    ));
    let client = client_for(&server.url());
    let err = support::rt()
        .block_on(client.create_audit_export(&atlasent::audit::ExportFilter::all()))
        .expect_err("dup");
    assert_duplicate(&err, "events", "$");
}

// ---- Replies bound to their requests by X-Request-ID (issue 9, chaos proxy) ----

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
    let server = FaultServer::start(move |req, _| {
        if req.path == "/v1-evaluate" {
            allow()
        } else {
            same.clone()
        }
    });
    protect(&server.url()).expect("a reply about this permit is a permit");
}
