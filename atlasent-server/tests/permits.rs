//! The permit lifecycle over HTTP, through the real SDK where possible:
//! single use, expiry, revocation, unknown ids, mismatches, denied decisions,
//! concurrency and idempotent retries — on both wires, each with its own
//! spelling of the outcomes.

mod common;

use std::time::Duration;

use atlasent::{DenialStage, ErrorCode, Wire};
use atlasent_server::RunningServer;
use common::{client, client_on, export_and_verify, post, start, start_with, KEY};
use serde_json::{json, Value};

const WIRES: [Wire; 2] = [Wire::Legacy, Wire::Current];

/// The outcome 1.4.1 calls `legacy`, as `wire` spells it.
fn outcome(wire: Wire, legacy: &'static str) -> &'static str {
    match (wire, legacy) {
        (Wire::Legacy, _) | (_, "verified") => legacy,
        (_, "expired") => "permit_expired",
        (_, "consumed") => "permit_consumed",
        (_, "revoked") => "permit_revoked",
        (_, "mismatch") => "permit_mismatch",
        // The current wire does not tell a denied decision's id apart.
        (_, "not_found" | "denied") => "permit_not_found",
        (_, other) => panic!("no outcome {other}"),
    }
}

fn finance_ok() -> Value {
    json!({ "amount_usd": 500, "counterparty_id": "cp-1", "memo": "invoice 7" })
}

/// A verify of `id` for the finance agent's wire transfer of [`finance_ok`].
async fn verify_finance(c: &atlasent::Client, id: &str) -> atlasent::VerifyResult {
    let context = finance_ok();
    let verify = c.verify(id, "finance-agent", "wire_transfer", &context);
    verify.await.expect("verify")
}

/// A verify of `id` that names nothing else.
async fn verify_bare(c: &atlasent::Client, id: &str) -> atlasent::VerifyResult {
    c.verify(id, "", "", &()).await.expect("verify")
}

/// A finance transfer of `amount_usd` and nothing else: denied above the
/// policy's limit.
fn transfer(amount_usd: u64) -> Value {
    json!({ "amount_usd": amount_usd })
}

/// Tests that run `$on(server, client, wire)` on each wire, each on a
/// fresh server.
macro_rules! on_each_wire {
    ($($(#[$attr:meta])+ $name:ident => $on:ident;)+) => {$(
        $(#[$attr])+
        async fn $name() {
            for wire in WIRES {
                let server = start().await;
                $on(&server, client_on(&server, wire), wire).await;
            }
        }
    )+};
}

on_each_wire! {
    #[tokio::test]
    protect_returns_the_permit_the_server_issued => protect_returns_the_permit_on;
    #[tokio::test]
    a_revoked_permit_does_not_verify => a_revoked_permit_does_not_verify_on;
    #[tokio::test]
    unknown_mismatched_and_denied_permits => unknown_mismatched_and_denied_on;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    of_fifty_concurrent_verifies_exactly_one_wins => exactly_one_of_fifty_on;
}

async fn allow(c: &atlasent::Client) -> atlasent::EvaluateResult {
    let r = c
        .evaluate("finance-agent", "wire_transfer", &finance_ok())
        .await
        .expect("evaluate");
    assert!(r.permitted, "{}", r.reason);
    r
}

#[tokio::test]
async fn a_permit_verifies_once_then_is_consumed() {
    let server = start().await;
    for wire in WIRES {
        a_permit_verifies_once_then_is_consumed_on(&server, wire).await;
    }
    assert!(export_and_verify(&server).await.1.verified());
}

async fn a_permit_verifies_once_then_is_consumed_on(
    server: &atlasent_server::RunningServer,
    wire: Wire,
) {
    let c = client_on(server, wire);
    let e = allow(&c).await;
    let first = verify_finance(&c, &e.permit_id).await;
    assert!(first.verified);
    assert_eq!(first.outcome, "verified");
    assert!(!first.permit_hash.is_empty(), "the permit is signed");
    let second = verify_finance(&c, &e.permit_id).await;
    assert!(!second.verified);
    assert_eq!(second.outcome, outcome(wire, "consumed"));
}

async fn protect_returns_the_permit_on(server: &RunningServer, c: atlasent::Client, wire: Wire) {
    let permit = c
        .protect("finance-agent", "wire_transfer", &finance_ok())
        .await
        .expect("permit");
    assert!(permit.permit_id().starts_with("dec_"));
    assert_eq!(
        (permit.agent(), permit.action()),
        ("finance-agent", "wire_transfer")
    );
    assert!(permit.reason().contains("allow_small_transfers"));
    let (bundle, result) = export_and_verify(server).await;
    assert!(result.verified(), "{result:?}");
    assert!(
        bundle.contains(permit.audit_hash()),
        "the permit's audit hash is an event of the chain"
    );
    // The permit is single-use: a second verify of the same id fails.
    let again = verify_bare(&c, permit.permit_id()).await;
    assert_eq!(again.outcome, outcome(wire, "consumed"));
}

#[tokio::test]
async fn an_expired_permit_does_not_verify() {
    // A manual clock: the permit expires when the test moves time, not by
    // sleeping.
    let clock = atlasent_server::clock::Clock::manual(atlasent_server::clock::now_ms());
    let server = start_with(|b| b.permit_ttl(Duration::from_millis(50)).clock(clock.clone())).await;
    for wire in WIRES {
        let c = client_on(&server, wire);
        let e = allow(&c).await;
        clock.advance(120);
        let v = verify_bare(&c, &e.permit_id).await;
        assert_eq!(
            (v.verified, v.outcome.as_str()),
            (false, outcome(wire, "expired"))
        );
    }
}

async fn a_revoked_permit_does_not_verify_on(_: &RunningServer, c: atlasent::Client, wire: Wire) {
    let e = allow(&c).await;
    let r = c
        .revoke_permit(&e.permit_id, Some("operator pulled it"))
        .await
        .expect("revoke");
    assert!(r.revoked);
    assert!(r.audit_hash.is_some());
    let v = verify_bare(&c, &e.permit_id).await;
    assert_eq!(v.outcome, outcome(wire, "revoked"));
    let small = transfer(1);
    let gate = c.gate("finance-agent", "wire_transfer", &small);
    let err = gate.await.expect_err("deny");
    assert!(err.is_denied());
    let unknown = c.revoke_permit("dec_nope", None).await.expect("answer");
    assert!(!unknown.revoked);
}

async fn unknown_mismatched_and_denied_on(_: &RunningServer, c: atlasent::Client, wire: Wire) {
    let v = verify_bare(&c, "dec_00000000000000000000000000000000").await;
    assert_eq!(v.outcome, outcome(wire, "not_found"));

    let e = allow(&c).await;
    for (agent, action, ctx) in [
        ("other-agent", "wire_transfer", finance_ok()),
        ("finance-agent", "other_action", finance_ok()),
        (
            "finance-agent",
            "wire_transfer",
            json!({ "amount_usd": 9999, "counterparty_id": "cp-1", "memo": "invoice 7" }),
        ),
    ] {
        let v = c
            .verify(&e.permit_id, agent, action, &ctx)
            .await
            .expect("verify");
        assert_eq!(
            (v.verified, v.outcome.as_str()),
            (false, outcome(wire, "mismatch")),
            "{wire:?} {agent} {action} {ctx}"
        );
    }
    // A mismatch does not burn the permit for its rightful holder.
    assert!(verify_finance(&c, &e.permit_id).await.verified);

    let large = transfer(50000);
    let evaluate = c.evaluate("finance-agent", "wire_transfer", &large);
    let denied = evaluate.await.expect("deny");
    assert!(!denied.permitted);
    let v = verify_bare(&c, &denied.permit_id).await;
    assert_eq!(v.outcome, outcome(wire, "denied"));
    let protect = c.protect("finance-agent", "wire_transfer", &large);
    let err = protect.await.expect_err("denied");
    let d = err.denial().expect("denial");
    assert_eq!(d.stage(), DenialStage::Policy);
    assert!(d.reason().contains("deny_high_value"));
    assert!(!d.audit_hash().is_empty());
}

async fn exactly_one_of_fifty_on(server: &RunningServer, c: atlasent::Client, wire: Wire) {
    let e = allow(&c).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let c = c.clone();
            let id = e.permit_id.clone();
            tokio::spawn(async move { verify_finance(&c, &id).await })
        })
        .collect();
    let mut verified = 0;
    let mut consumed = 0;
    for t in tasks {
        let v = t.await.expect("task");
        match v.outcome.as_str() {
            "verified" => verified += 1,
            o if o == outcome(wire, "consumed") => consumed += 1,
            other => panic!("unexpected outcome {other}"),
        }
    }
    assert_eq!((verified, consumed), (1, 49));
    assert!(export_and_verify(server).await.1.verified());
}

#[tokio::test]
async fn a_retried_request_gets_the_first_answer() {
    let server = start().await;
    let auth = format!("Bearer {KEY}");
    let h = |rid: &'static str| [("authorization", auth.as_str()), ("x-request-id", rid)];
    let body =
        json!({ "action": "wire_transfer", "agent": "finance-agent", "context": finance_ok() })
            .to_string();
    let hdrs = h("retry-eval-0001");
    let (s1, _, first) = post(&server, "/v1-evaluate", &hdrs, body.clone()).await;
    let (s2, _, second) = post(&server, "/v1-evaluate", &hdrs, body).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first, second, "the same decision id, not a second permit");

    let verify = json!({ "decision_id": first["decision_id"], "action": "wire_transfer", "agent": "finance-agent", "context": finance_ok() }).to_string();
    let hdrs = h("retry-verify-0001");
    let (_, _, v1) = post(&server, "/v1-verify-permit", &hdrs, verify.clone()).await;
    let (_, _, v2) = post(&server, "/v1-verify-permit", &hdrs, verify.clone()).await;
    assert_eq!(v1["outcome"], "verified");
    assert_eq!(v1, v2, "a retried verify is answered, not consumed twice");
    let hdrs = h("another-request-01");
    let (_, _, v3) = post(&server, "/v1-verify-permit", &hdrs, verify).await;
    assert_eq!(
        v3["outcome"], "consumed",
        "a new request id is a new verify"
    );
    let (bundle, result) = export_and_verify(&server).await;
    assert!(result.verified());
    let events: Value = serde_json::from_str(&bundle).expect("json");
    assert_eq!(
        events["event_count"], 3,
        "one evaluate, two verifies: retries add no events"
    );
}

#[tokio::test]
async fn wrong_keys_and_rate_limits_surface_the_contract_codes() {
    let server = start_with(|b| b.rate_limit_per_minute(3)).await;
    let wrong = atlasent::Client::builder()
        .api_key("ask_wrong")
        .base_url(server.base_url())
        .build()
        .expect("client");
    let err = wrong.evaluate("a", "b", &()).await.expect_err("401");
    assert_eq!(
        (err.code(), err.status()),
        (Some(ErrorCode::InvalidApiKey), Some(401))
    );

    let c = client(&server);
    for _ in 0..3 {
        c.evaluate("a", "b", &()).await.expect("within the limit");
    }
    let err = c.evaluate("a", "b", &()).await.expect_err("429");
    assert_eq!(err.code(), Some(ErrorCode::RateLimited));
    let wait = err.retry_after().expect("Retry-After");
    assert!(
        wait >= Duration::from_secs(1) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
}

#[tokio::test]
async fn rate_limit_headers_and_key_self() {
    let server = start_with(|b| b.rate_limit_per_minute(100)).await;
    let c = client(&server);
    let r = c.evaluate("a", "b", &()).await.expect("answer");
    let rl = r.rate_limit.expect("headers parsed");
    assert_eq!((rl.limit, rl.remaining), (100, 99));
    let me = c.key_self().await.expect("key self");
    assert_eq!(me.rate_limit_per_minute, 100);
    assert!(me.key_id.starts_with("key_"));
    assert!(!me.key_id.contains(KEY));
}
