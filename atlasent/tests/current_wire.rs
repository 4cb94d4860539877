//! The current wire (Python `atlasent` 2.x's shape) over real sockets: the
//! exact request bodies, every way a current reply can be wrong (each an
//! `Err`, never a permit), hold and escalate, `Permit::expires_at`, permits
//! by id, the wire setting, and the 1.4.1 wire left as it was.

mod support;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use atlasent::{
    Decision, DenialStage, DenyCode, Error, ErrorCode, EvaluateOptions, Permit, PermitQuery,
    PermitStatus, Wire,
};
use futures_util::StreamExt;
use serde_json::{json, Value};
use support::{FaultServer, Recorded, Reply, TEST_KEY};

const AGENT: &str = "deploy-bot";
const ACTION: &str = "deploy.production";

fn context() -> Value {
    json!({ "environment": "production", "change": { "id": "CHG-42", "risk": 0.25 }, "amount": 1250.0 })
}

fn allow() -> Value {
    json!({
        "decision": "allow", "permit_token": "dec_1", "evaluation_id": "dec_1",
        "expires_at": "2026-04-17T10:05:00.000Z", "reasons": ["rule ship-it"],
        "request_id": "r", "audit_hash": "audit_1", "timestamp": "2026-04-17T10:00:00.000Z"
    })
}

fn valid() -> Value {
    json!({
        "valid": true, "outcome": "verified", "reason": "permit verified", "consumed": true,
        "permit_token": "dec_1", "expires_at": "2026-04-17T10:05:00.000Z",
        "permit_hash": "ph_1", "audit_hash": "audit_v1", "timestamp": "2026-04-17T10:00:01.000Z"
    })
}

fn held(decision: &str) -> Value {
    json!({
        "decision": decision, "evaluation_id": "dec_h",
        "escalation_id": "esc_00112233445566778899aabbccddeeff",
        "denial": { "reason": "change freeze", "code": if decision == "hold" { "ACTOR_HELD" } else { "ESCALATE_REQUIRED" } },
        "reasons": ["change freeze"], "audit_hash": "audit_h", "timestamp": "2026-04-17T10:00:00.000Z"
    })
}

/// A server answering evaluate with `evaluate` and verify with `verify`.
fn serve(evaluate: Value, verify: Value) -> FaultServer {
    FaultServer::start(move |req, _| {
        if req.path == "/v1-evaluate" {
            Reply::json(200, &evaluate)
        } else {
            Reply::json(200, &verify)
        }
    })
}

fn current(url: &str) -> atlasent::Client {
    support::client_on(url, Wire::Current)
}

fn blocking(url: &str, wire: Wire) -> atlasent::blocking::Client {
    atlasent::blocking::Client::builder()
        .api_key(TEST_KEY)
        .base_url(url)
        .retry_backoff(Duration::from_millis(2))
        .wire(wire)
        .build()
        .expect("blocking client")
}

fn protect(client: &atlasent::Client) -> Result<Permit, Error> {
    support::rt().block_on(client.protect(AGENT, ACTION, &context()))
}

fn expect_err<T: std::fmt::Debug>(result: Result<T, Error>) -> Error {
    match result {
        Ok(value) => panic!("fail-closed violated: got {value:?}"),
        Err(err) => err,
    }
}

fn paths(requests: &[Recorded]) -> Vec<&str> {
    requests.iter().map(|r| r.path.as_str()).collect()
}

fn assert_bad_response(err: &Error, needle: &str) {
    assert_eq!(err.code(), Some(ErrorCode::BadResponse), "{err}");
    assert!(err.to_string().contains(needle), "{err} lacks {needle:?}");
}

// ---- The wire setting ----

#[test]
fn the_current_wire_is_the_default_and_atlasent_wire_chooses() {
    let default = atlasent::Client::builder()
        .api_key("k")
        .build()
        .expect("client");
    assert_eq!(default.config().wire(), Wire::Current);
    assert_eq!(Wire::default(), Wire::Current);

    let env = |value: &'static str| {
        let vars: HashMap<&str, &str> =
            [("ATLASENT_API_KEY", "k"), ("ATLASENT_WIRE", value)].into();
        move |name: &str| vars.get(name).map(|v| v.to_string())
    };
    let legacy = atlasent::ClientBuilder::from_lookup(env("legacy"))
        .build()
        .expect("legacy");
    assert_eq!(legacy.config().wire(), Wire::Legacy);
    let current = atlasent::ClientBuilder::from_lookup(env(" current "))
        .build()
        .expect("current");
    assert_eq!(current.config().wire(), Wire::Current);
    let unset = atlasent::ClientBuilder::from_lookup(env(""))
        .build()
        .expect("empty is unset");
    assert_eq!(unset.config().wire(), Wire::Current);

    for bad in ["Legacy", "1.4.1", "v2"] {
        let err = atlasent::ClientBuilder::from_lookup(env(bad))
            .build()
            .expect_err("refused");
        assert!(matches!(err, Error::Config { .. }), "{err}");
        let message = err.to_string();
        for needle in ["ATLASENT_WIRE", "`current`", "`legacy`", bad] {
            assert!(message.contains(needle), "{message} lacks {needle}");
        }
    }
    // The builder's setting wins over the environment, bad or not.
    let chosen = atlasent::ClientBuilder::from_lookup(env("nonsense"))
        .wire(Wire::Legacy)
        .build()
        .expect("explicit wire");
    assert_eq!(chosen.config().wire(), Wire::Legacy);
    let blocking = atlasent::blocking::ClientBuilder::from_lookup(env("legacy"))
        .build()
        .expect("blocking");
    assert_eq!(blocking.as_async().config().wire(), Wire::Legacy);
    let blocking = atlasent::blocking::Client::builder()
        .api_key("k")
        .wire(Wire::Legacy)
        .build()
        .expect("blocking");
    assert_eq!(blocking.as_async().config().wire(), Wire::Legacy);
    assert_eq!("legacy".parse::<Wire>().expect("parses"), Wire::Legacy);
    assert_eq!(Wire::Current.to_string(), "current");
}

// ---- Request bodies ----

#[test]
fn protect_sends_the_current_bodies_without_the_key_or_the_context_in_verify() {
    let server = serve(allow(), valid());
    let permit = protect(&current(&server.url())).expect("permit");
    assert_eq!(permit.permit_id(), "dec_1");
    let requests = server.requests();
    assert_eq!(paths(&requests), ["/v1-evaluate", "/v1-verify-permit"]);
    assert_eq!(
        requests[0].json(),
        json!({ "action_type": ACTION, "actor_id": AGENT, "context": context() })
    );
    let hash =
        atlasent::wire::execution_hash(ACTION, AGENT, context().as_object().expect("object"));
    assert_eq!(hash.len(), 64);
    assert_eq!(
        requests[1].json(),
        json!({
            "permit_token": "dec_1", "action_type": ACTION, "actor_id": AGENT,
            "environment": "production", "execution_hash": hash
        })
    );
    for request in &requests {
        assert!(
            !String::from_utf8_lossy(&request.body).contains(TEST_KEY),
            "no key in a current body: {}",
            String::from_utf8_lossy(&request.body)
        );
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TEST_KEY}").as_str())
        );
    }
}

#[test]
fn an_environment_that_is_not_a_string_is_not_sent_but_the_hash_is() {
    let server = serve(allow(), valid());
    let ctx = json!({ "environment": ["prod"], "ticket": "T-1" });
    support::rt()
        .block_on(current(&server.url()).protect(AGENT, ACTION, &ctx))
        .expect("permit");
    let verify = server.requests()[1].json();
    assert!(verify.get("environment").is_none(), "{verify}");
    assert_eq!(
        verify["execution_hash"],
        atlasent::wire::execution_hash(ACTION, AGENT, ctx.as_object().expect("object")).as_str()
    );
}

#[test]
fn gate_and_authorize_verify_with_the_same_binding_as_protect() {
    let server = serve(allow(), valid());
    let client = current(&server.url());
    let rt = support::rt();
    rt.block_on(client.gate(AGENT, ACTION, &context()))
        .expect("gate");
    let result = rt
        .block_on(client.authorize(AGENT, ACTION, &context()))
        .expect("authorize");
    assert!(result.permitted && result.verified);
    assert_eq!(result.decision, Decision::Allow);
    let requests = server.requests();
    let hash = atlasent::wire::execution_hash(ACTION, AGENT, context().as_object().expect("o"));
    for verify in requests.iter().filter(|r| r.path == "/v1-verify-permit") {
        assert_eq!(verify.json()["execution_hash"], hash.as_str());
        assert_eq!(verify.json()["environment"], "production");
    }
    assert_eq!(requests.len(), 4);
}

#[test]
fn a_bare_verify_hashes_only_a_context_it_is_given() {
    let server = FaultServer::always(Reply::json(200, &valid()));
    let client = current(&server.url());
    let rt = support::rt();
    rt.block_on(client.verify("dec_1", AGENT, ACTION, &context()))
        .expect("with context");
    rt.block_on(client.verify("dec_1", AGENT, ACTION, &()))
        .expect("no context");
    rt.block_on(client.verify("dec_1", "", "", &context()))
        .expect("no agent or action");
    let bodies: Vec<Value> = server.requests().iter().map(Recorded::json).collect();
    let hash = atlasent::wire::execution_hash(ACTION, AGENT, context().as_object().expect("o"));
    assert_eq!(
        bodies[0],
        json!({ "permit_token": "dec_1", "action_type": ACTION, "actor_id": AGENT,
                "environment": "production", "execution_hash": hash })
    );
    assert_eq!(
        bodies[1],
        json!({ "permit_token": "dec_1", "action_type": ACTION, "actor_id": AGENT })
    );
    assert_eq!(
        bodies[2],
        json!({ "permit_token": "dec_1", "action_type": "", "actor_id": "", "environment": "production" })
    );
}

#[test]
fn the_legacy_wire_sends_the_1_4_1_bodies_unchanged() {
    let server = FaultServer::start(|req, _| {
        if req.path == "/v1-evaluate" {
            Reply::json(
                200,
                &json!({ "permitted": true, "decision_id": "dec_9", "reason": "ok" }),
            )
        } else {
            Reply::json(
                200,
                &json!({ "verified": true, "outcome": "verified", "permit_hash": "h" }),
            )
        }
    });
    let permit = protect(&support::legacy_client(&server.url())).expect("permit");
    assert_eq!(permit.expires_at(), None, "1.4.1 states no expiry");
    let requests = server.requests();
    assert_eq!(
        requests[0].json(),
        json!({ "action": ACTION, "agent": AGENT, "context": context(), "api_key": TEST_KEY })
    );
    assert_eq!(
        requests[1].json(),
        json!({ "decision_id": "dec_9", "action": ACTION, "agent": AGENT, "context": context(), "api_key": TEST_KEY })
    );
}

#[test]
fn a_context_that_repeats_a_member_is_refused_before_anything_is_sent() {
    /// Serializes as `{"amount": 1, "amount": 5000000}`.
    struct Twice;
    impl serde::Serialize for Twice {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = s.serialize_map(Some(2))?;
            map.serialize_entry("amount", &1)?;
            map.serialize_entry("amount", &5_000_000)?;
            map.end()
        }
    }
    let server = serve(allow(), valid());
    let err =
        expect_err(support::rt().block_on(current(&server.url()).protect(AGENT, ACTION, &Twice)));
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    assert!(err.to_string().contains("amount"), "{err}");
    assert_eq!(server.request_count(), 0);
}

#[test]
fn evaluate_options_are_sent_on_the_current_wire_and_refused_on_the_legacy_one() {
    let server = FaultServer::always(Reply::json(200, &allow()));
    let options = EvaluateOptions::default()
        .resource_id("repo/main")
        .amount(12.5)
        .environment("production")
        .require_approval(true);
    let result = support::rt()
        .block_on(current(&server.url()).evaluate_with(AGENT, ACTION, &(), &options))
        .expect("evaluated");
    assert!(result.permitted);
    assert_eq!(
        server.requests()[0].json(),
        json!({ "action_type": ACTION, "actor_id": AGENT, "context": {}, "resource_id": "repo/main",
                "amount": 12.5, "environment": "production", "require_approval": true })
    );
    let err = expect_err(blocking(&server.url(), Wire::Legacy).evaluate_with(
        AGENT,
        ACTION,
        &(),
        &options,
    ));
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    assert!(err.to_string().contains("`resource_id`"), "{err}");
    let err = expect_err(support::rt().block_on(current(&server.url()).evaluate_with(
        AGENT,
        ACTION,
        &(),
        &EvaluateOptions::default().amount(f64::NAN),
    )));
    assert!(err.to_string().contains("finite"), "{err}");
    assert_eq!(server.request_count(), 1);
}

// ---- Hold and escalate ----

#[test]
fn hold_and_escalate_are_held_from_protect_and_gate_never_a_permit() {
    for (decision, wire_name, code) in [
        (Decision::Hold, "hold", DenyCode::ActorHeld),
        (Decision::Escalate, "escalate", DenyCode::EscalateRequired),
    ] {
        let server = serve(held(wire_name), valid());
        let client = current(&server.url());
        let rt = support::rt();
        let errors = [
            expect_err(protect(&client)),
            expect_err(rt.block_on(client.gate(AGENT, ACTION, &context()))),
            expect_err(blocking(&server.url(), Wire::Current).protect(AGENT, ACTION, &context())),
            expect_err(rt.block_on(atlasent::__private::protect_with(
                &client,
                AGENT,
                ACTION,
                &context(),
            ))),
        ];
        for err in errors {
            assert!(err.is_held() && !err.is_denied(), "{err}");
            assert_eq!(err.code(), None);
            let held = err.held().expect("held");
            assert_eq!(held.decision(), decision);
            assert_eq!(held.reason(), "change freeze");
            assert_eq!(held.deny_code(), Some(&code));
            assert_eq!(
                held.escalation_id(),
                Some("esc_00112233445566778899aabbccddeeff")
            );
            assert_eq!(held.evaluation_id(), "dec_h");
            assert_eq!(held.audit_hash(), "audit_h");
            assert!(err.request_id().is_some());
            assert!(err.to_string().contains("a human must decide"), "{err}");
            assert!(err.to_string().contains("esc_0011"), "{err}");
        }
        let requests = server.requests();
        assert!(
            requests.iter().all(|r| r.path == "/v1-evaluate"),
            "nothing to verify: {:?}",
            paths(&requests)
        );
    }
}

#[test]
fn a_hold_that_carries_a_permit_token_is_still_held() {
    let mut reply = held("hold");
    reply["permit_token"] = "dec_h".into();
    let server = serve(reply, valid());
    let err = expect_err(protect(&current(&server.url())));
    assert!(err.is_held(), "{err}");
    assert_eq!(server.request_count(), 1);
}

#[test]
fn hold_and_escalate_are_data_from_evaluate_and_authorize() {
    for (decision, wire_name) in [(Decision::Hold, "hold"), (Decision::Escalate, "escalate")] {
        let server = serve(held(wire_name), valid());
        let client = current(&server.url());
        let rt = support::rt();
        let evaluation = rt
            .block_on(client.evaluate(AGENT, ACTION, &context()))
            .expect("data");
        assert_eq!(
            (evaluation.decision, evaluation.permitted),
            (decision, false)
        );
        assert_eq!(
            evaluation.escalation_id.as_deref(),
            Some("esc_00112233445566778899aabbccddeeff")
        );
        assert_eq!(evaluation.reasons, ["change freeze"]);
        let result = rt
            .block_on(client.authorize(AGENT, ACTION, &context()))
            .expect("data");
        assert!(!result.permitted && !result.verified);
        assert_eq!(result.decision, decision);
        assert!(result.escalation_id.is_some());
        assert_eq!(result.reason, "change freeze");
        let blocking = blocking(&server.url(), Wire::Current)
            .authorize(AGENT, ACTION, &context())
            .expect("data");
        assert!(!blocking.permitted);
        assert_eq!(server.request_count(), 3, "no verify for a hold");
    }
}

#[test]
fn a_deny_carries_its_code_and_a_failed_verification_its_error_code() {
    let deny = json!({
        "decision": "deny", "evaluation_id": "dec_d",
        "denial": { "reason": "Amount exceeds agent limit", "code": "DENY_POLICY" },
        "reasons": ["Amount exceeds agent limit"]
    });
    let err = expect_err(protect(&current(&serve(deny, valid()).url())));
    let denial = err.denial().expect("denied");
    assert_eq!(denial.stage(), DenialStage::Policy);
    assert_eq!(denial.deny_code(), Some(&DenyCode::DenyPolicy));
    assert_eq!(denial.reason(), "Amount exceeds agent limit");
    assert_eq!(denial.evaluation_id(), "dec_d");

    let consumed = json!({
        "valid": false, "outcome": "permit_consumed", "reason": "permit already used",
        "consumed": false, "permit_token": "dec_1", "expires_at": null, "permit_hash": "",
        "verify_error_code": "PERMIT_CONSUMED"
    });
    let server = serve(allow(), consumed);
    let err = expect_err(protect(&current(&server.url())));
    let denial = err.denial().expect("denied");
    assert_eq!(denial.stage(), DenialStage::Verification);
    assert_eq!(denial.outcome(), Some("permit_consumed"));
    assert_eq!(denial.verify_error_code(), Some("PERMIT_CONSUMED"));
    assert_eq!(denial.deny_code(), None);
    let result = support::rt()
        .block_on(current(&server.url()).verify("dec_1", AGENT, ACTION, &()))
        .expect("data");
    assert!(!result.verified);
    assert_eq!(result.consumed, Some(false));
    assert_eq!(result.reason, "permit already used");
}

// ---- Malformed current replies: bad_response, never a decision ----

/// `reply` with `member` set to `value`.
fn with(mut reply: Value, member: &str, value: impl Into<Value>) -> Value {
    reply[member] = value.into();
    reply
}

fn evaluate_fails(reply: Value, needle: &str) {
    let server = serve(reply.clone(), valid());
    let err = expect_err(protect(&current(&server.url())));
    assert_bad_response(&err, needle);
    assert_eq!(
        paths(&server.requests()),
        ["/v1-evaluate"],
        "{reply}: not retried, nothing verified"
    );
    let err =
        expect_err(support::rt().block_on(current(&server.url()).evaluate(AGENT, ACTION, &())));
    assert_bad_response(&err, needle);
}

#[test]
fn an_unknown_decision_is_bad_response_never_an_allow() {
    for decision in [
        json!("ALLOW"),
        json!("permit"),
        json!("allowed"),
        json!(""),
        json!(1),
        json!(true),
    ] {
        evaluate_fails(with(allow(), "decision", decision), "`decision`");
    }
    evaluate_fails(
        json!({ "permit_token": "dec_1" }),
        "required field `decision` is missing",
    );
}

#[test]
fn decision_and_permitted_that_disagree_are_bad_response() {
    evaluate_fails(with(allow(), "permitted", false), "`permitted` is false");
    evaluate_fails(
        json!({ "decision": "deny", "permitted": true, "decision_id": "dec_1" }),
        "`permitted` is true",
    );
    evaluate_fails(
        json!({ "decision": "hold", "permitted": true, "decision_id": "dec_1" }),
        "contradicts",
    );
    // Agreeing, they are one allow.
    let mut reply = allow();
    reply["permitted"] = true.into();
    reply["decision_id"] = "dec_1".into();
    protect(&current(&serve(reply, valid()).url())).expect("agreeing members");
}

#[test]
fn an_allow_without_a_permit_token_is_bad_response() {
    for token in [None, Some(json!("")), Some(json!(null))] {
        let mut reply = allow();
        match token {
            None => drop(reply.as_object_mut().expect("o").remove("permit_token")),
            Some(value) => reply["permit_token"] = value,
        }
        evaluate_fails(reply, "permit_token");
    }
    evaluate_fails(
        with(allow(), "permit_token", json!(42)),
        "field `permit_token` must be a string",
    );
    evaluate_fails(
        with(allow(), "decision_id", "dec_other"),
        "`decision_id` is \"dec_other\"",
    );
}

#[test]
fn an_unreadable_expires_at_is_bad_response() {
    for expires_at in [
        "tomorrow",
        "2026-04-17",
        "2026-04-17T10:05:00",
        "2026-13-01T00:00:00Z",
    ] {
        evaluate_fails(with(allow(), "expires_at", expires_at), "expires_at");
        let mut verify = valid();
        verify["expires_at"] = expires_at.into();
        let server = serve(allow(), verify);
        let err = expect_err(protect(&current(&server.url())));
        assert_bad_response(&err, "expires_at");
    }
    evaluate_fails(
        with(allow(), "expires_at", json!(1_776_420_300)),
        "field `expires_at` must be a string",
    );
}

#[test]
fn malformed_members_are_named() {
    evaluate_fails(
        with(allow(), "reasons", json!(["ok", 5])),
        "field `reasons` must be an array of strings",
    );
    evaluate_fails(
        json!({ "decision": "deny", "denial": { "reason": 7 } }),
        "field `denial.reason` must be a string",
    );
    evaluate_fails(
        json!({ "decision": "deny", "denial": "no" }),
        "field `denial` must be an object",
    );
}

fn verify_fails(reply: Value, needle: &str) {
    let server = serve(allow(), reply.clone());
    let err = expect_err(protect(&current(&server.url())));
    assert_bad_response(&err, needle);
    assert_eq!(
        paths(&server.requests()),
        ["/v1-evaluate", "/v1-verify-permit"],
        "{reply}: not retried"
    );
}

#[test]
fn a_verify_reply_about_another_permit_is_bad_response_never_a_permit() {
    verify_fails(
        with(valid(), "permit_token", "dec_other"),
        "\"dec_other\" (`permit_token`)",
    );
    verify_fails(with(valid(), "decision_id", "dec_other"), "`decision_id`");
}

#[test]
fn only_valid_decides_and_a_contradicting_verified_is_bad_response() {
    verify_fails(
        with(valid(), "verified", false),
        "`valid` is true but `verified` is false",
    );
    verify_fails(
        json!({ "outcome": "verified", "permit_token": "dec_1" }),
        "required field `valid` is missing",
    );
    verify_fails(
        json!({ "valid": "true" }),
        "field `valid` must be a boolean",
    );
    verify_fails(json!({ "valid": 1 }), "field `valid` must be a boolean");
    // `valid: false` with a reassuring outcome is a denial.
    let server = serve(
        allow(),
        json!({ "valid": false, "outcome": "verified", "consumed": true }),
    );
    let err = expect_err(protect(&current(&server.url())));
    assert_eq!(
        err.denial().map(|d| d.stage()),
        Some(DenialStage::Verification)
    );
    // The 1.4.1 reply alone is read too, as 2.18 reads it.
    let server = serve(
        allow(),
        json!({ "verified": true, "outcome": "verified", "permit_hash": "h" }),
    );
    protect(&current(&server.url())).expect("a 1.4.1 verify reply");
}

#[test]
fn a_duplicated_member_in_a_current_reply_is_bad_response() {
    let server = FaultServer::start(|req, _| {
        if req.path == "/v1-evaluate" {
            Reply::json(200, &allow())
        } else {
            Reply::Full {
                status: 200,
                headers: vec![],
                body: br#"{"valid":false,"outcome":"permit_consumed","valid":true,"permit_token":"dec_1"}"#.to_vec(),
            }
        }
    });
    let err = expect_err(protect(&current(&server.url())));
    assert_bad_response(&err, "duplicate member \"valid\"");
}

// ---- Permit::expires_at ----

#[test]
fn the_permit_expires_when_the_server_said() {
    let server = serve(allow(), valid());
    let permit = protect(&current(&server.url())).expect("permit");
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_776_420_300);
    assert_eq!(permit.expires_at(), Some(at));
    assert_eq!(
        serde_json::to_value(&permit).expect("serializes")["expires_at"],
        "2026-04-17T10:05:00.000Z"
    );

    // Two different expiries: the earlier is the one to trust.
    let mut verify = valid();
    verify["expires_at"] = "2026-04-17T10:04:00Z".into();
    let permit = protect(&current(&serve(allow(), verify).url())).expect("permit");
    assert_eq!(permit.expires_at(), Some(at - Duration::from_secs(60)));

    // None stated, none known.
    let mut reply = allow();
    reply.as_object_mut().expect("o").remove("expires_at");
    let mut verify = valid();
    verify["expires_at"] = Value::Null;
    let permit = protect(&current(&serve(reply, verify).url())).expect("permit");
    assert_eq!(permit.expires_at(), None);
    assert!(serde_json::to_value(&permit)
        .expect("s")
        .get("expires_at")
        .is_none());
}

// ---- key_self ----

#[test]
fn key_self_reads_org_id_or_organization_id_and_refuses_a_contradiction() {
    let base = json!({
        "key_id": "key_1", "environment": "test", "scopes": ["evaluate"],
        "rate_limit_per_minute": 600
    });
    let with = |members: Value| {
        let mut body = base.clone();
        for (k, v) in members.as_object().expect("o") {
            body[k] = v.clone();
        }
        FaultServer::always(Reply::json(200, &body))
    };
    let rt = support::rt();
    for members in [
        json!({ "org_id": "org_1" }),
        json!({ "organization_id": "org_1" }),
        json!({ "org_id": "org_1", "organization_id": "org_1" }),
    ] {
        let server = with(members.clone());
        let me = rt
            .block_on(current(&server.url()).key_self())
            .unwrap_or_else(|e| panic!("{members}: {e}"));
        assert_eq!(me.organization_id, "org_1");
    }
    let server = with(json!({ "org_id": "org_1", "organization_id": "org_2" }));
    let err = expect_err(rt.block_on(current(&server.url()).key_self()));
    assert_bad_response(
        &err,
        "`org_id` is \"org_1\" but `organization_id` is \"org_2\"",
    );
    let server = with(json!({}));
    let err = expect_err(blocking(&server.url(), Wire::Legacy).key_self());
    assert_bad_response(&err, "required field `org_id` is missing");
    let server = with(json!({ "org_id": 5 }));
    let err = expect_err(rt.block_on(current(&server.url()).key_self()));
    assert_bad_response(&err, "field `org_id` must be a string");
}

// ---- Permits by id ----

fn record(id: &str, status: &str) -> Value {
    json!({
        "id": id, "org_id": "org_1", "actor_id": AGENT, "action_id": ACTION,
        "environment": "production", "status": status,
        "issued_at": "2026-04-17T10:00:00.000Z", "expires_at": "2026-04-17T10:05:00.000Z",
        "consumed_at": null, "verified_at": null, "revoked_at": null, "revoked_by": null,
        "revoke_reason": null, "signature": "sig", "payload_hash": null, "decision_id": id
    })
}

#[test]
fn get_permit_puts_the_id_in_one_path_segment() {
    let id = "dec/../1 2?x#y%é";
    let server = FaultServer::always(Reply::json(200, &record(id, "issued")));
    let permit = support::rt()
        .block_on(current(&server.url()).get_permit(id))
        .expect("record");
    assert_eq!(permit.id, id);
    assert_eq!(permit.status, PermitStatus::Issued);
    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.path,
        "/v1/permits/dec%2F..%2F1%202%3Fx%23y%25%C3%A9"
    );
    assert!(request.body.is_empty());
}

#[test]
fn dot_segments_and_empty_ids_are_refused_before_anything_is_sent() {
    let server = FaultServer::always(Reply::json(200, &record("x", "issued")));
    let client = current(&server.url());
    let rt = support::rt();
    for id in ["", ".", ".."] {
        let errors = [
            expect_err(rt.block_on(client.get_permit(id))),
            expect_err(rt.block_on(client.verify_permit_by_id(id))),
            expect_err(rt.block_on(client.revoke_permit_by_id(id, None))),
        ];
        for err in errors {
            assert!(
                matches!(err, Error::InvalidArgument { .. }),
                "{id:?}: {err}"
            );
            assert!(err.to_string().contains("permit_id"), "{id:?}: {err}");
        }
    }
    assert_eq!(server.request_count(), 0);
}

#[test]
fn a_record_about_another_permit_or_without_a_readable_expiry_is_bad_response() {
    let rt = support::rt();
    let server = FaultServer::always(Reply::json(200, &record("dec_other", "issued")));
    let client = current(&server.url());
    let err = expect_err(rt.block_on(client.get_permit("dec_1")));
    assert_bad_response(&err, "\"dec_other\" (`id`)");
    let err = expect_err(rt.block_on(client.revoke_permit_by_id("dec_1", None)));
    assert_bad_response(&err, "\"dec_other\" (`id`)");

    let mut bad = record("dec_1", "issued");
    bad["expires_at"] = "soon".into();
    let server = FaultServer::always(Reply::json(200, &bad));
    let err = expect_err(rt.block_on(current(&server.url()).get_permit("dec_1")));
    assert_bad_response(&err, "expires_at");
    let server = FaultServer::always(Reply::json(
        200,
        &json!({ "permits": [record("dec_1", "issued"), bad], "total": 2, "next_cursor": null }),
    ));
    let err = expect_err(rt.block_on(current(&server.url()).list_permits(&PermitQuery::new())));
    assert_bad_response(&err, "permits[1]: field `expires_at`");
    let mut missing = record("dec_1", "issued");
    missing.as_object_mut().expect("o").remove("org_id");
    let server = FaultServer::always(Reply::json(
        200,
        &json!({ "permits": [missing], "total": 1 }),
    ));
    let err = expect_err(rt.block_on(current(&server.url()).list_permits(&PermitQuery::new())));
    assert_bad_response(&err, "required field `permits[0].org_id` is missing");
}

#[test]
fn list_permits_sends_every_filter_and_reads_the_page() {
    let server = FaultServer::always(Reply::json(
        200,
        &json!({ "permits": [record("dec_2", "revoked")], "total": 7, "next_cursor": "c2" }),
    ));
    let query = PermitQuery::new()
        .status(PermitStatus::Revoked)
        .actor_id("bot 1")
        .action_type(ACTION)
        .from("2026-04-17T00:00:00Z")
        .to("2026-04-18T00:00:00Z")
        .limit(10)
        .cursor("a b/c+d");
    let page = support::rt()
        .block_on(current(&server.url()).list_permits(&query))
        .expect("page");
    assert_eq!((page.total, page.next_cursor.as_deref()), (7, Some("c2")));
    assert_eq!(page.permits[0].status, PermitStatus::Revoked);
    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    let (path, query) = request.path.split_once('?').expect("a query");
    assert_eq!(path, "/v1/permits");
    let pairs: Vec<(String, String)> = query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').expect("pair");
            (k.to_owned(), form_decode(v))
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("status", "revoked"),
        ("actor_id", "bot 1"),
        ("action_type", ACTION),
        ("from", "2026-04-17T00:00:00Z"),
        ("to", "2026-04-18T00:00:00Z"),
        ("limit", "10"),
        ("cursor", "a b/c+d"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec();
    assert_eq!(pairs, want);

    let plain = FaultServer::always(Reply::json(
        200,
        &json!({ "permits": [record("d", "issued")] }),
    ));
    let page = support::rt()
        .block_on(current(&plain.url()).list_permits(&PermitQuery::new().status("issued")))
        .expect("page");
    assert_eq!(page.total, 1, "no total: the page is counted, as 2.18 does");
    assert_eq!(page.next_cursor, None);
    assert_eq!(plain.requests()[0].path, "/v1/permits?status=issued");
}

fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("hex"));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).expect("utf-8")
}

/// A server paging `/v1/permits`: cursor `None` → page 1 (`c1`), `c1` →
/// page 2 (`c2`), `c2` → page 3 (last).
fn paging_server() -> FaultServer {
    FaultServer::start(|req, _| {
        let cursor = req
            .path
            .split("cursor=")
            .nth(1)
            .map(|c| c.split('&').next().unwrap_or(""));
        let (ids, next): (&[&str], Value) = match cursor {
            None => (&["p1", "p2"], json!("c1")),
            Some("c1") => (&["p3"], json!("c2")),
            Some("c2") => (&["p4", "p5"], Value::Null),
            Some(other) => panic!("unexpected cursor {other}"),
        };
        let permits: Vec<Value> = ids.iter().map(|id| record(id, "issued")).collect();
        Reply::json(
            200,
            &json!({ "permits": permits, "total": 5, "next_cursor": next }),
        )
    })
}

#[test]
fn the_permit_stream_follows_cursors_to_the_last_page() {
    let server = paging_server();
    let client = current(&server.url());
    let ids: Vec<String> = support::rt().block_on(
        client
            .permits(PermitQuery::new().actor_id(AGENT))
            .map(|r| r.expect("record").id)
            .collect(),
    );
    assert_eq!(ids, ["p1", "p2", "p3", "p4", "p5"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests
        .iter()
        .all(|r| r.path.contains("actor_id=deploy-bot")));

    let blocking_ids: Vec<String> = blocking(&server.url(), Wire::Current)
        .permits(PermitQuery::new())
        .map(|r| r.expect("record").id)
        .collect();
    assert_eq!(blocking_ids, ids);
    assert_eq!(server.request_count(), 6);
}

#[test]
fn the_permit_stream_ends_on_a_repeated_cursor_an_empty_page_or_an_error() {
    // The same cursor handed back: walked once, not forever.
    let repeat = FaultServer::always(Reply::json(
        200,
        &json!({ "permits": [record("p1", "issued")], "total": 9, "next_cursor": "same" }),
    ));
    let items: Vec<_> = blocking(&repeat.url(), Wire::Current)
        .permits(PermitQuery::new().cursor("same"))
        .collect();
    assert_eq!(items.len(), 1);
    assert_eq!(repeat.request_count(), 1);

    let empty = FaultServer::always(Reply::json(
        200,
        &json!({ "permits": [], "total": 9, "next_cursor": "more" }),
    ));
    let items: Vec<_> = blocking(&empty.url(), Wire::Current)
        .permits(PermitQuery::new())
        .collect();
    assert!(items.is_empty());
    assert_eq!(empty.request_count(), 1);

    let failing = FaultServer::start(|_, n| {
        if n == 0 {
            Reply::json(
                200,
                &json!({ "permits": [record("p1", "issued")], "next_cursor": "c1" }),
            )
        } else {
            Reply::json(403, &json!({ "message": "no audit scope" }))
        }
    });
    let items: Vec<_> = support::rt().block_on(
        current(&failing.url())
            .permits(PermitQuery::new())
            .collect::<Vec<_>>(),
    );
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    let err = items[1].as_ref().expect_err("the error ends the stream");
    assert_eq!(err.code(), Some(ErrorCode::Forbidden));
    assert_eq!(failing.request_count(), 2);
}

fn verify_reply(id: &str, valid: bool) -> Value {
    let mut body = record(id, if valid { "verified" } else { "consumed" });
    let obj = body.as_object_mut().expect("o");
    obj.insert("verified_at".into(), "2026-04-17T10:01:00.000Z".into());
    obj.insert("valid".into(), valid.into());
    obj.insert("verification_type".into(), "permit".into());
    obj.insert(
        "reason".into(),
        if valid {
            "permit verified"
        } else {
            "permit already used"
        }
        .into(),
    );
    obj.insert(
        "evidence".into(),
        json!({ "permit_id": id, "status": if valid { "verified" } else { "consumed" },
                "actor_id": AGENT, "action_id": ACTION, "expires_at": "2026-04-17T10:05:00.000Z",
                "payload_hash": null, "decision_id": id }),
    );
    body
}

#[test]
fn verify_and_revoke_by_id_post_to_their_paths() {
    let server = FaultServer::start(|req, _| {
        if req.path.ends_with("/verify") {
            Reply::json(200, &verify_reply("dec 1", true))
        } else {
            let mut body = record("dec 1", "revoked");
            body["revoke_reason"] = "rotated".into();
            body["revoked_by"] = "key_1".into();
            Reply::json(200, &body)
        }
    });
    let client = current(&server.url());
    let rt = support::rt();
    let verification = rt
        .block_on(client.verify_permit_by_id("dec 1"))
        .expect("verified");
    assert!(verification.valid);
    assert_eq!(verification.verification_type, "permit");
    assert_eq!(verification.reason, "permit verified");
    assert_eq!(verification.evidence.status, PermitStatus::Verified);
    assert_eq!(verification.permit.status, PermitStatus::Verified);
    assert_eq!(
        verification.permit.verified_at.as_deref(),
        Some("2026-04-17T10:01:00.000Z")
    );
    let revoked = rt
        .block_on(client.revoke_permit_by_id("dec 1", Some("rotated")))
        .expect("revoked");
    assert_eq!(revoked.status, PermitStatus::Revoked);
    assert_eq!(revoked.revoked_by.as_deref(), Some("key_1"));
    let blocking = blocking(&server.url(), Wire::Legacy);
    blocking
        .verify_permit_by_id("dec 1")
        .expect("blocking verify");
    blocking
        .revoke_permit_by_id("dec 1", None)
        .expect("blocking revoke");
    blocking.get_permit("dec 1").expect("blocking get");

    let requests = server.requests();
    let seen: Vec<(&str, &str, Value)> = requests
        .iter()
        .map(|r| {
            let body = if r.body.is_empty() {
                Value::Null
            } else {
                r.json()
            };
            (r.method.as_str(), r.path.as_str(), body)
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "/v1/permits/dec%201/verify", json!({})),
            (
                "POST",
                "/v1/permits/dec%201/revoke",
                json!({ "reason": "rotated" })
            ),
            ("POST", "/v1/permits/dec%201/verify", json!({})),
            ("POST", "/v1/permits/dec%201/revoke", json!({})),
            ("GET", "/v1/permits/dec%201", Value::Null),
        ]
    );
}

#[test]
fn a_verify_by_id_verdict_is_data_and_bound_to_its_permit() {
    let rt = support::rt();
    let server = FaultServer::always(Reply::json(200, &verify_reply("dec_1", false)));
    let verdict = rt
        .block_on(current(&server.url()).verify_permit_by_id("dec_1"))
        .expect("data");
    assert!(!verdict.valid);
    // The time of this verification; the permit's own is unset: this
    // attempt did not use it.
    let times = (verdict.verified_at.as_deref(), verdict.permit.verified_at);
    assert_eq!(times, (Some("2026-04-17T10:01:00.000Z"), None));

    let mut other = verify_reply("dec_1", true);
    other["evidence"]["permit_id"] = "dec_other".into();
    let server = FaultServer::always(Reply::json(200, &other));
    let err = expect_err(rt.block_on(current(&server.url()).verify_permit_by_id("dec_1")));
    assert_bad_response(&err, "\"dec_other\" (`evidence.permit_id`)");

    let mut no_evidence = verify_reply("dec_1", true);
    no_evidence.as_object_mut().expect("o").remove("evidence");
    let server = FaultServer::always(Reply::json(200, &no_evidence));
    let err = expect_err(rt.block_on(current(&server.url()).verify_permit_by_id("dec_1")));
    assert_bad_response(&err, "required field `evidence` is missing");

    let mut yes = verify_reply("dec_1", true);
    yes["valid"] = "yes".into();
    let server = FaultServer::always(Reply::json(200, &yes));
    let err = expect_err(rt.block_on(current(&server.url()).verify_permit_by_id("dec_1")));
    assert_bad_response(&err, "field `valid` must be a boolean");
}

#[test]
fn permit_endpoint_errors_keep_their_status() {
    let rt = support::rt();
    let server = FaultServer::always(Reply::json(
        404,
        &json!({ "message": "permit not found", "code": "permit_not_found" }),
    ));
    let err = expect_err(rt.block_on(current(&server.url()).get_permit("dec_x")));
    assert_eq!(
        (err.code(), err.status()),
        (Some(ErrorCode::BadRequest), Some(404))
    );
    assert!(err.to_string().contains("permit not found"), "{err}");
    let server = FaultServer::always(Reply::json(
        409,
        &json!({ "message": "permit already used" }),
    ));
    let err = expect_err(rt.block_on(current(&server.url()).revoke_permit_by_id("dec_x", None)));
    assert_eq!(err.status(), Some(409));
    assert_eq!(server.request_count(), 1, "a 4xx is not retried");
}

// ---- The global client and #[protect] use the configured wire ----

#[atlasent::protect(action = "deploy.production", agent = "deploy-bot",
                    context = serde_json::json!({ "environment": "production" }))]
async fn guarded(permit: &Permit) -> Result<String, Error> {
    Ok(permit.permit_id().to_owned())
}

/// The only test in this binary that touches the global client.
#[test]
fn the_global_client_and_the_macro_speak_the_configured_wire() {
    // Each body is answered in its own shape: a wrong shape gets no permit.
    let server = FaultServer::start(|req, _| {
        let body: Value = req.json();
        let reply = if req.path == "/v1-evaluate" {
            if body.get("action_type").is_some() {
                allow()
            } else {
                json!({ "permitted": true, "decision_id": "dec_1" })
            }
        } else if body.get("permit_token").is_some() {
            valid()
        } else {
            json!({ "verified": true, "outcome": "verified" })
        };
        Reply::json(200, &reply)
    });
    let rt = support::rt();
    for wire in [Wire::Current, Wire::Legacy] {
        atlasent::configure(support::client_on(&server.url(), wire));
        let before = server.request_count();
        assert_eq!(rt.block_on(guarded()).expect("allowed"), "dec_1");
        rt.block_on(atlasent::protect(AGENT, ACTION, &()))
            .expect("free function");
        atlasent::blocking::protect(AGENT, ACTION, &()).expect("blocking free function");
        let requests = server.requests();
        for request in &requests[before..] {
            let body = request.json();
            match wire {
                Wire::Current => assert!(body.get("api_key").is_none(), "{body}"),
                _ => assert_eq!(body["api_key"], TEST_KEY, "{body}"),
            }
        }
        assert_eq!(requests.len() - before, 6);
    }
    atlasent::reset_default_client();
}

// ---- The legacy wire fails closed on the same contradictions ----

fn legacy_protect(evaluate: Value, verify: Value) -> (Result<Permit, Error>, Vec<Recorded>) {
    let server = serve(evaluate, verify);
    let result = protect(&support::legacy_client(&server.url()));
    (result, server.requests())
}

fn legacy_allow() -> Value {
    json!({ "permitted": true, "decision_id": "dec_1", "reason": "ok" })
}

fn legacy_verified() -> Value {
    json!({ "verified": true, "outcome": "verified", "permit_hash": "h" })
}

#[test]
fn on_the_legacy_wire_a_decision_member_must_agree_with_permitted() {
    for (decision, needle) in [
        (json!("deny"), "`permitted` is true"),
        (json!("ALLOW"), "`decision`"),
        (json!("maybe"), "`decision`"),
        (json!(7), "field `decision` must be a string"),
    ] {
        let mut reply = legacy_allow();
        reply["decision"] = decision.clone();
        let (result, requests) = legacy_protect(reply, legacy_verified());
        let err = expect_err(result);
        assert_bad_response(&err, needle);
        assert_eq!(paths(&requests), ["/v1-evaluate"], "{decision}");
    }
    // Agreeing members, or none: the 1.4.1 reading.
    let mut reply = legacy_allow();
    reply["decision"] = "allow".into();
    legacy_protect(reply, legacy_verified())
        .0
        .expect("agreeing");
    let deny = json!({ "permitted": false, "decision_id": "dec_1", "decision": "hold" });
    let err = expect_err(legacy_protect(deny, legacy_verified()).0);
    assert_eq!(err.denial().map(|d| d.decision()), Some(Decision::Deny));
}

#[test]
fn on_the_legacy_wire_a_verify_reply_must_not_contradict_itself_or_name_another_permit() {
    for (verify, needle) in [
        (
            json!({ "verified": true, "valid": false }),
            "`valid` is false but `verified` is true",
        ),
        (
            json!({ "verified": true, "valid": "yes" }),
            "field `valid` must be a boolean",
        ),
        (
            json!({ "verified": true, "permit_token": "dec_other" }),
            "\"dec_other\" (`permit_token`)",
        ),
        (
            json!({ "verified": true, "decision_id": "dec_other" }),
            "\"dec_other\" (`decision_id`)",
        ),
    ] {
        let (result, requests) = legacy_protect(legacy_allow(), verify.clone());
        let err = expect_err(result);
        assert_bad_response(&err, needle);
        assert_eq!(requests.len(), 2, "{verify}: not retried");
    }
}

#[test]
fn on_the_legacy_wire_an_expiry_our_server_adds_is_read_or_refused() {
    let mut reply = legacy_allow();
    reply["expires_at"] = "2026-04-17T10:05:00.000Z".into();
    let permit = legacy_protect(reply, legacy_verified()).0.expect("permit");
    assert_eq!(
        permit.expires_at(),
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_776_420_300))
    );
    let mut reply = legacy_allow();
    reply["expires_at"] = "in five minutes".into();
    let err = expect_err(legacy_protect(reply, legacy_verified()).0);
    assert_bad_response(&err, "expires_at");
}

// ---- Replies that contradict themselves (hostile review of the current wire) ----

/// `protect`, `gate`, `authorize` and a bare `verify` on `wire`, each
/// against a server answering `evaluate` then `verify`: every one must be
/// bad_response naming `needle`, never a permit or a verdict.
fn all_refuse(wire: Wire, evaluate: &Value, verify: &Value, needle: &str) {
    let server = serve(evaluate.clone(), verify.clone());
    let client = support::client_on(&server.url(), wire);
    let rt = support::rt();
    let err = expect_err(rt.block_on(client.protect(AGENT, ACTION, &context())));
    assert_bad_response(&err, needle);
    assert_eq!(
        paths(&server.requests()),
        ["/v1-evaluate", "/v1-verify-permit"],
        "{verify}: not retried"
    );
    let err = expect_err(rt.block_on(client.gate(AGENT, ACTION, &context())));
    assert_bad_response(&err, needle);
    let err = expect_err(rt.block_on(client.authorize(AGENT, ACTION, &context())));
    assert_bad_response(&err, needle);
    let err = expect_err(blocking(&server.url(), wire).protect(AGENT, ACTION, &context()));
    assert_bad_response(&err, needle);
}

/// Like [`all_refuse`], and a bare `verify` of `dec_1` too.
fn verify_refuses(wire: Wire, evaluate: &Value, verify: &Value, needle: &str) {
    all_refuse(wire, evaluate, verify, needle);
    let server = serve(evaluate.clone(), verify.clone());
    let client = support::client_on(&server.url(), wire);
    let err = expect_err(support::rt().block_on(client.verify("dec_1", AGENT, ACTION, &())));
    assert_bad_response(&err, needle);
}

#[test]
fn a_valid_verification_that_names_a_failure_is_bad_response_never_a_permit() {
    // The reply of the review: `valid` with every member of a replayed permit.
    let replayed = json!({
        "valid": true, "outcome": "permit_consumed", "verify_error_code": "PERMIT_CONSUMED",
        "consumed": false, "permit_token": "dec_1"
    });
    for needle in [
        "`valid` is true but",
        "`outcome` is \"permit_consumed\"",
        "`verify_error_code` is \"PERMIT_CONSUMED\"",
        "`consumed` is false",
        "contradicts itself",
    ] {
        verify_refuses(Wire::Current, &allow(), &replayed, needle);
    }
    // Each contradiction alone.
    for outcome in [
        "permit_consumed",
        "permit_expired",
        "permit_revoked",
        "permit_not_found",
        "permit_mismatch",
        "approval_missing",
        "deny",
        "expired",
        "Verified",
    ] {
        let mut reply = valid();
        reply["outcome"] = outcome.into();
        verify_refuses(
            Wire::Current,
            &allow(),
            &reply,
            &format!("`outcome` is {outcome:?}"),
        );
    }
    let mut reply = valid();
    reply["verify_error_code"] = "PERMIT_EXPIRED".into();
    verify_refuses(
        Wire::Current,
        &allow(),
        &reply,
        "`verify_error_code` is \"PERMIT_EXPIRED\"",
    );
    let mut reply = valid();
    reply["consumed"] = false.into();
    verify_refuses(Wire::Current, &allow(), &reply, "`consumed` is false");
    // A 1.4.1 reply on the current wire: `verified` is what says valid.
    verify_refuses(
        Wire::Current,
        &allow(),
        &json!({ "verified": true, "outcome": "consumed", "permit_hash": "h" }),
        "`verified` is true but `outcome` is \"consumed\"",
    );
}

#[test]
fn a_valid_verification_without_a_contradiction_is_a_permit() {
    // Our server's reply, the minimum, and the hosted API's `allow` outcome
    // (2.18's models.py: `outcome: "allow"|"deny"`).
    let mut cases = vec![
        valid(),
        json!({ "valid": true }),
        json!({ "valid": true, "outcome": "" }),
        json!({ "valid": true, "outcome": null, "verify_error_code": null, "consumed": null }),
        json!({ "valid": true, "outcome": "allow", "consumed": true }),
        json!({ "verified": true, "outcome": "verified" }),
    ];
    let mut empty_code = valid();
    empty_code["verify_error_code"] = "".into();
    cases.push(empty_code);
    for reply in cases {
        let server = serve(allow(), reply.clone());
        let permit =
            protect(&current(&server.url())).unwrap_or_else(|e| panic!("{reply} is a permit: {e}"));
        assert_eq!(permit.permit_id(), "dec_1");
    }
    // `valid: false` naming any failure is a denial, as before.
    let consumed = json!({
        "valid": false, "outcome": "permit_consumed", "verify_error_code": "PERMIT_CONSUMED",
        "consumed": false, "permit_token": "dec_1"
    });
    let err = expect_err(protect(&current(&serve(allow(), consumed).url())));
    assert_eq!(
        err.denial().map(|d| d.stage()),
        Some(DenialStage::Verification),
        "{err}"
    );
}

#[test]
fn on_the_legacy_wire_a_verified_reply_that_names_a_failure_is_bad_response() {
    for outcome in [
        "consumed",
        "expired",
        "revoked",
        "not_found",
        "denied",
        "mismatch",
        "permit_consumed",
    ] {
        let verify = json!({ "verified": true, "outcome": outcome, "permit_hash": "h" });
        verify_refuses(
            Wire::Legacy,
            &legacy_allow(),
            &verify,
            &format!("`verified` is true but `outcome` is {outcome:?}"),
        );
    }
    // Current members a 1.4.1 reply may carry must not contradict it either.
    for (extra, needle) in [
        (
            json!({ "verify_error_code": "PERMIT_CONSUMED" }),
            "`verify_error_code` is \"PERMIT_CONSUMED\"",
        ),
        (json!({ "consumed": false }), "`consumed` is false"),
        (
            json!({ "consumed": "no" }),
            "field `consumed` must be a boolean",
        ),
        (
            json!({ "verify_error_code": 7 }),
            "field `verify_error_code` must be a string",
        ),
    ] {
        let mut verify = legacy_verified();
        for (k, v) in extra.as_object().expect("o") {
            verify[k] = v.clone();
        }
        verify_refuses(Wire::Legacy, &legacy_allow(), &verify, needle);
    }
    // The 1.4.1 reading otherwise.
    for verify in [
        legacy_verified(),
        json!({ "verified": true }),
        json!({ "verified": true, "outcome": "" }),
        json!({ "verified": true, "outcome": "verified", "consumed": true, "verify_error_code": null }),
    ] {
        legacy_protect(legacy_allow(), verify.clone())
            .0
            .unwrap_or_else(|e| panic!("{verify} is a permit: {e}"));
    }
    let (result, _) = legacy_protect(
        legacy_allow(),
        json!({ "verified": false, "outcome": "consumed" }),
    );
    assert_eq!(
        expect_err(result).denial().map(|d| d.stage()),
        Some(DenialStage::Verification)
    );
}

const EXPIRED_BEFORE: &str = "the server says the permit expired before it verified it";

#[test]
fn a_permit_the_server_says_expired_before_it_verified_it_is_bad_response() {
    // The verify reply's own expiry is earlier than its timestamp.
    let mut verify = valid();
    verify["timestamp"] = "2026-04-17T10:05:00.001Z".into();
    verify_refuses(Wire::Current, &allow(), &verify, EXPIRED_BEFORE);
    verify_refuses(Wire::Current, &allow(), &verify, "2026-04-17T10:05:00.001Z");
    // The evaluate reply's expiry is earlier (the verify reply states none).
    let mut evaluate = allow();
    evaluate["expires_at"] = "2026-04-17T10:00:00.500Z".into();
    let mut verify = valid();
    verify["expires_at"] = Value::Null;
    all_refuse(Wire::Current, &evaluate, &verify, EXPIRED_BEFORE);
    all_refuse(Wire::Current, &evaluate, &verify, "evaluate");
    // Offsets are compared as instants: 10:30+01:00 is 09:30Z.
    let mut verify = valid();
    verify["expires_at"] = "2026-04-17T10:30:00+01:00".into();
    verify_refuses(Wire::Current, &allow(), &verify, EXPIRED_BEFORE);
    // The 1.4.1 wire: our server's evaluate `expires_at` against the
    // verification's timestamp.
    let mut evaluate = legacy_allow();
    evaluate["expires_at"] = "2026-04-17T10:05:00Z".into();
    let verify = json!({
        "verified": true, "outcome": "verified", "permit_hash": "h",
        "timestamp": "2026-04-17T10:06:00Z"
    });
    all_refuse(Wire::Legacy, &evaluate, &verify, EXPIRED_BEFORE);
}

#[test]
fn an_expiry_is_only_compared_with_the_servers_own_verification_time() {
    // Expiring the very instant it is verified is not "before".
    let mut verify = valid();
    verify["timestamp"] = "2026-04-17T10:05:00.000Z".into();
    protect(&current(&serve(allow(), verify).url())).expect("expires as it is verified");
    // No verification time: nothing to compare with (the local clock is
    // not used: these expiries are long past).
    let mut verify = valid();
    verify.as_object_mut().expect("o").remove("timestamp");
    protect(&current(&serve(allow(), verify).url())).expect("no timestamp");
    let mut verify = valid();
    verify["timestamp"] = "".into();
    protect(&current(&serve(allow(), verify).url())).expect("empty timestamp");
    // A failed verification of an expired permit is the expected denial.
    let expired = json!({
        "valid": false, "outcome": "permit_expired", "verify_error_code": "PERMIT_EXPIRED",
        "consumed": false, "permit_token": "dec_1", "expires_at": "2026-04-17T10:05:00.000Z",
        "timestamp": "2026-04-17T10:09:00.000Z"
    });
    let err = expect_err(protect(&current(&serve(allow(), expired.clone()).url())));
    assert_eq!(
        err.denial().map(|d| d.outcome()),
        Some(Some("permit_expired"))
    );
    let result = support::rt()
        .block_on(current(&serve(allow(), expired).url()).verify("dec_1", AGENT, ACTION, &()))
        .expect("data");
    assert!(!result.verified);
}

#[test]
fn on_the_legacy_wire_a_permit_token_must_agree_with_decision_id() {
    // Python 2.18 reads `permit_token` first: this reply names dec_9 to it.
    let mut reply = legacy_allow();
    reply["permit_token"] = "dec_9".into();
    let (result, requests) = legacy_protect(reply.clone(), legacy_verified());
    let err = expect_err(result);
    assert_bad_response(
        &err,
        "`permit_token` is \"dec_9\" but `decision_id` is \"dec_1\"",
    );
    assert_eq!(paths(&requests), ["/v1-evaluate"], "nothing verified");
    let server = serve(reply, legacy_verified());
    let err = expect_err(
        support::rt().block_on(support::legacy_client(&server.url()).evaluate(AGENT, ACTION, &())),
    );
    assert_bad_response(&err, "contradicts itself");
    // On a deny too: the reply must be about one decision.
    let deny = json!({ "permitted": false, "decision_id": "dec_1", "permit_token": "dec_9" });
    let (result, _) = legacy_protect(deny, legacy_verified());
    assert_bad_response(&expect_err(result), "`permit_token` is \"dec_9\"");
    let mut reply = legacy_allow();
    reply["permit_token"] = json!(9);
    let (result, _) = legacy_protect(reply, legacy_verified());
    assert_bad_response(&expect_err(result), "field `permit_token` must be a string");
    // Agreeing, empty or null: the decision_id.
    for token in [json!("dec_1"), json!(""), Value::Null] {
        let mut reply = legacy_allow();
        reply["permit_token"] = token.clone();
        let permit = legacy_protect(reply, legacy_verified())
            .0
            .unwrap_or_else(|e| panic!("{token}: {e}"));
        assert_eq!(permit.permit_id(), "dec_1");
    }
}
