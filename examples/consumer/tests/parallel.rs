//! Parallel tests do not interfere: each starts its own decision server
//! with its own policy and routes the same guarded fn to it with
//! `atlasent::with_client`, and each server sees exactly its own test's
//! decisions.
//!
//! Every policy here allows one agent only (`agent-0` ... `agent-9`), and
//! nothing configures the global client. Were a test's call to reach
//! another test's server it would be denied there and missing from its
//! own; were it to escape its scope it would fail ("no client in scope":
//! starting a `TestServer` turns on `atlasent::scoped_clients_only`, so no
//! call falls back to a global client). Either way the test fails.

mod support;

use std::sync::Arc;

use atlasent::Decision;
use atlasent_consumer_example::payments;
use atlasent_testing::{assert_denied, Policy, Rule};
use tokio::sync::Barrier;

use support::Desk;

/// How many servers run at once in `ten_tasks_with_ten_servers_overlap_without_interference`.
const TASKS: usize = 10;

/// A policy that allows `agent` to wire, and nobody else anything.
fn only(agent: &str) -> Policy {
    Policy::new(format!("only-{agent}")).rule(Rule::allow("payments.wire").agent(agent))
}

/// Start a server allowing only `agent`, wire as `agent` through it, and
/// check that this server, and only it, decided that one call.
async fn own_server_decides_own_call(agent: &str) {
    let desk = Desk::start(only(agent)).await;

    // Allowed by its own server.
    let receipt = desk.allowed_wire(agent, 100, "parallel").await;

    desk.server
        .assert_decisions(&[(agent, "payments.wire", Decision::Allow)])
        .await;
    let decisions = desk.server.decisions().await;
    assert_eq!(receipt.permit_id, decisions[0].decision_id);
}

/// One `#[tokio::test]` per agent; libtest runs them on parallel threads,
/// each on its own runtime.
macro_rules! one_server_per_test {
    ($($name:ident => $agent:literal,)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                own_server_decides_own_call($agent).await;
            }
        )*
    };
}

one_server_per_test! {
    test_0_sees_only_its_own_decision => "agent-0",
    test_1_sees_only_its_own_decision => "agent-1",
    test_2_sees_only_its_own_decision => "agent-2",
    test_3_sees_only_its_own_decision => "agent-3",
    test_4_sees_only_its_own_decision => "agent-4",
    test_5_sees_only_its_own_decision => "agent-5",
    test_6_sees_only_its_own_decision => "agent-6",
    test_7_sees_only_its_own_decision => "agent-7",
    test_8_sees_only_its_own_decision => "agent-8",
    test_9_sees_only_its_own_decision => "agent-9",
}

/// Ten tasks on one multi-thread runtime, each with its own server and its
/// own `with_client` scope. The barrier holds every task after its server
/// started and before its first call, and again after its last call and
/// before its server stops: all ten servers and scopes are provably live
/// at once while every call is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_tasks_with_ten_servers_overlap_without_interference() {
    let barrier = Arc::new(Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| tokio::spawn(one_task(i, Arc::clone(&barrier))))
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        task.await
            .unwrap_or_else(|e| panic!("task {i} failed: {e}"));
    }
}

/// Task `i`: wire as `agent-i` (allowed by its server) and as the next
/// task's agent (denied by its server, though that agent's own server,
/// live at the same moment, would allow it).
async fn one_task(i: usize, barrier: Arc<Barrier>) {
    let agent = format!("agent-{i}");
    let neighbour = format!("agent-{}", (i + 1) % TASKS);
    let desk = Desk::start(only(&agent)).await;
    let rail = desk.rail();

    let (own, other) = atlasent::with_client(desk.server.client(), async {
        barrier.wait().await; // every server is up, every scope entered
        let own = payments::wire(rail, &agent, 100, "parallel").await;
        let other = payments::wire(rail, &neighbour, 100, "parallel").await;
        barrier.wait().await; // no server stops before every call is made
        (own, other)
    })
    .await;

    own.unwrap_or_else(|e| panic!("{agent} is allowed by its own server: {e}"));
    let err = other.expect_err("another task's agent is denied by this server");
    let denial = assert_denied(err.authorization().expect("AtlaSent refused it"));
    assert_eq!(
        denial.deny_code().map(|c| c.as_str()),
        Some("NO_TEMPLATE_MATCH"),
        "{agent}'s server denied {neighbour} by its default"
    );
    desk.probe.assert_ran_once();
    desk.server
        .assert_decisions(&[
            (agent.as_str(), "payments.wire", Decision::Allow),
            (neighbour.as_str(), "payments.wire", Decision::Deny),
        ])
        .await;
}
