//! The guarded functions of this crate against a real decision server,
//! one per test: what runs under an allow, what never runs under a deny, a
//! hold or a fault, what the server decided, and whether the policies
//! production serves cover every action.
//!
//! Each test starts its own `TestServer` (in-process, on 127.0.0.1, in
//! milliseconds) and routes the guarded calls to it with
//! `atlasent::with_client`; nothing configures the global client, so the
//! tests run in parallel without meeting.

mod support;

use std::path::PathBuf;

use atlasent::{Decision, ErrorCode};
use atlasent_consumer_example::deploy::{self, Runner};
use atlasent_testing::{
    assert_denied, assert_denied_by, assert_policies_cover, check_policies_cover, BodyProbe, Fault,
    Policy, Rule, TestServer,
};
use serde_json::json;

use support::Desk;

/// The policies production serves.
fn policies() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// A desk whose server has the policies production serves (the whole
/// folder).
async fn desk_with_the_real_policies() -> Desk {
    Desk::start(policies()).await
}

#[tokio::test]
async fn an_allowed_wire_runs_its_body_once() {
    let desk = desk_with_the_real_policies().await;

    // payments-bot may wire $250 with a memo.
    let receipt = desk.allowed_wire("payments-bot", 250, "invoice 7").await;

    assert_eq!(
        (receipt.reference.as_str(), receipt.amount_usd),
        ("ref_250", 250)
    );
    let decisions = desk.server.decisions().await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0].rule.as_deref(), Some("allow_small_wires"));
    assert_eq!(
        receipt.permit_id, decisions[0].decision_id,
        "the receipt names the permit the server issued"
    );
}

#[tokio::test]
async fn a_large_wire_is_denied_and_never_runs() {
    let desk = desk_with_the_real_policies().await;

    // A wire over $10,000 is denied.
    let refusal = desk.refused_wire("payments-bot", 50_000, "invoice 8").await;

    let denial = assert_denied_by(&refusal, "deny_large_wires");
    assert_eq!(
        denial.reason(),
        "denied by policy payments rule deny_large_wires"
    );
    assert_eq!(
        denial.deny_code().map(|c| c.as_str()),
        Some("WIRE_TOO_LARGE")
    );
    desk.server
        .assert_decisions(&[("payments-bot", "payments.wire", Decision::Deny)])
        .await;
}

#[tokio::test]
async fn exactly_the_decisions_made_are_recorded() {
    let desk = desk_with_the_real_policies().await;
    let wired = desk.wire("payments-bot", 250, "invoice 7").await;
    let read = desk.balance("payments-bot").await;
    let too_large = desk.wire("payments-bot", 20_000, "invoice 9").await;
    let not_an_agent = desk.balance("intern-bot").await;

    wired.expect("allowed");
    read.expect("allowed");
    too_large.expect_err("a wire over $10,000 is denied");
    not_an_agent.expect_err("intern-bot is not a payments agent");
    assert_eq!(desk.probe.count(), 2, "only the two allowed bodies ran");
    desk.server
        .assert_decisions(&[
            ("payments-bot", "payments.wire", Decision::Allow),
            ("payments-bot", "payments.read_balance", Decision::Allow),
            ("payments-bot", "payments.wire", Decision::Deny),
            ("intern-bot", "payments.read_balance", Decision::Deny),
        ])
        .await;
    let rules: Vec<_> = desk
        .server
        .decisions()
        .await
        .into_iter()
        .map(|d| d.rule)
        .collect();
    assert_eq!(
        rules,
        [
            Some("allow_small_wires".to_owned()),
            Some("allow_balance_reads".to_owned()),
            Some("deny_large_wires".to_owned()),
            None, // the policy's default decided
        ]
    );
}

#[tokio::test]
async fn a_wire_without_a_memo_is_denied_by_the_default() {
    let desk = desk_with_the_real_policies().await;

    // allow_small_wires requires a memo.
    let refusal = desk.refused_wire("payments-bot", 250, "").await;

    let denial = assert_denied(&refusal);
    assert_eq!(
        denial.deny_code().map(|c| c.as_str()),
        Some("MISSING_REQUIRED_CONTEXT")
    );
    assert!(
        denial.reason().starts_with("no rule matched"),
        "{}",
        denial.reason()
    );
}

#[tokio::test]
async fn a_held_wire_never_runs() {
    // An inline policy, built in Rust: wires over $1,000 wait for a human.
    let policy = Policy::new("review")
        .rule(Rule::allow("payments.wire"))
        .rule(
            Rule::hold("payments.wire")
                .id("hold_wires_over_1000")
                .when("amount_usd", json!({ "gt": 1000 })),
        );
    let desk = Desk::start(policy).await;

    let refusal = desk.refused_wire("payments-bot", 5_000, "invoice 10").await;

    let held = refusal.held().expect("a hold, not a denial");
    assert_eq!(
        held.reason(),
        "held by policy review rule hold_wires_over_1000"
    );
    desk.server
        .assert_decisions(&[("payments-bot", "payments.wire", Decision::Hold)])
        .await;
}

/// Under `fault`, an allowed wire fails with `code` and its body never
/// runs; once the fault is lifted, the same call goes through. The server
/// decided only that last call: the faulted one never reached it.
async fn fails_closed_under(fault: Fault, code: ErrorCode) {
    let desk = desk_with_the_real_policies().await;

    desk.server.set_fault(fault);
    // No answer is no permit.
    let refusal = desk.refused_wire("payments-bot", 250, "invoice 7").await;
    assert_eq!(refusal.code(), Some(code), "{fault:?}: {refusal}");

    // Allowed once the server answers again.
    desk.server.set_fault(Fault::None);
    desk.allowed_wire("payments-bot", 250, "invoice 7").await;
    desk.server
        .assert_decisions(&[("payments-bot", "payments.wire", Decision::Allow)])
        .await;
}

#[tokio::test]
async fn a_server_answering_503_fails_closed() {
    fails_closed_under(Fault::Unavailable, ErrorCode::ServerError).await;
}

#[tokio::test]
async fn a_server_that_never_answers_fails_closed() {
    fails_closed_under(Fault::Stall, ErrorCode::Timeout).await;
}

#[tokio::test]
async fn a_connection_dropped_mid_call_fails_closed() {
    fails_closed_under(Fault::Disconnect, ErrorCode::Network).await;
}

/// A `Runner` that runs nothing: it hits its probe.
struct ProbeRunner(BodyProbe);

impl Runner for ProbeRunner {
    fn run(&self, _command: &str) -> Result<(), String> {
        self.0.hit();
        Ok(())
    }
}

#[tokio::test]
async fn the_blocking_rollback_runs_under_its_threads_client() {
    let server = TestServer::start(policies()).await;
    let client = server.blocking_client();
    let probe = BodyProbe::new();
    let runner = ProbeRunner(probe.clone());

    // A plain fn blocks its thread: call it where blocking is allowed (a
    // `spawn_blocking` thread), with this test's client for that thread.
    let (service, database) = tokio::task::spawn_blocking(move || {
        atlasent::blocking::with_client(client, || {
            (
                deploy::rollback(&runner, "billing", "v41"),
                deploy::rollback(&runner, "ledger-db", "v7"),
            )
        })
    })
    .await
    .expect("the blocking task did not panic");

    service.expect("deploy-bot may roll billing back");
    let err = database.expect_err("never a database");
    assert_denied_by(
        err.authorization().expect("AtlaSent refused it"),
        "deny_database_rollbacks",
    );
    probe.assert_ran_once();
    server
        .assert_decisions(&[
            ("deploy-bot", "deploy.rollback", Decision::Allow),
            ("deploy-bot", "deploy.rollback", Decision::Deny),
        ])
        .await;
}

#[tokio::test]
async fn the_blocking_rollback_is_refused_on_an_async_thread() {
    // Called straight from the test's task, the blocking client would stall
    // the runtime the server runs on: it refuses before sending anything.
    let server = TestServer::start(policies()).await;
    let probe = BodyProbe::new();
    let runner = ProbeRunner(probe.clone());
    let client = server.blocking_client();

    let result = atlasent::blocking::with_client(client.clone(), || {
        deploy::rollback(&runner, "billing", "v41")
    });

    let err = result.expect_err("refused on a runtime thread");
    let refusal = err.authorization().expect("a failed authorization");
    assert!(
        matches!(refusal, atlasent::Error::Config { .. }),
        "{refusal}"
    );
    assert!(refusal.to_string().contains("spawn_blocking"), "{refusal}");
    probe.assert_never_ran();
    server.assert_no_decisions().await;
    // The blocking client owns a runtime, which may not be dropped here.
    tokio::task::spawn_blocking(move || drop(client))
        .await
        .expect("dropped");
}

#[test]
fn the_policies_cover_every_action() {
    // Every #[atlasent::action] and literal #[atlasent::protect] action of
    // this crate can be allowed, with the keys its typed context carries.
    assert_policies_cover([policies()]);
}

#[test]
fn a_policy_missing_an_action_is_named() {
    // Without payments.json, the payment actions can never be allowed: the
    // check names each one (what `assert_policies_cover` would panic with).
    let manifest = atlasent::actions::ActionManifest::from_registered();
    let report = check_policies_cover([policies().join("deploys.json")], &manifest)
        .expect_err("payments.json is missing");
    let never_allowed: Vec<_> = report
        .problems()
        .iter()
        .map(|p| p.action.as_str())
        .collect();
    assert_eq!(
        never_allowed,
        ["payments.read_balance", "payments.wire"],
        "{report}"
    );
}
