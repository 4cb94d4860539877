//! Guarded code under a test server: allow runs the body once, a denial or
//! any fault never runs it, assertions name what they found, servers do
//! not see each other, and a dropped server is gone.

use std::time::Instant;

use atlasent::{Decision, ErrorCode};
use atlasent_testing::{
    assert_denied, assert_denied_by, assert_denied_fail_closed_by, BodyProbe, Fault, Policy, Rule,
    TestServer,
};

#[atlasent::protect(action = "deploy", agent = "deploy-bot")]
async fn deploy(probe: &BodyProbe, permit: atlasent::Permit) -> Result<(), atlasent::Error> {
    probe.hit();
    assert_eq!(permit.action(), "deploy");
    Ok(())
}

#[cfg(feature = "blocking")]
#[atlasent::protect(action = "drop_table", agent = "ops-cli")]
fn drop_table(probe: &BodyProbe, permit: atlasent::Permit) -> Result<(), atlasent::Error> {
    probe.hit();
    let _ = permit;
    Ok(())
}

fn allow_deploys() -> Policy {
    Policy::new("deploys").rule(Rule::allow("deploy").agent("deploy-bot"))
}

fn deny_deploys() -> Policy {
    Policy::new("deploys").rule(Rule::deny("deploy").id("freeze").code("CHANGE_FREEZE"))
}

/// The server decided one call: `deploy-bot`'s `deploy`, as `decision`.
async fn assert_one_deploy(server: &TestServer, decision: Decision) {
    server
        .assert_decisions(&[("deploy-bot", "deploy", decision)])
        .await;
}

#[tokio::test]
async fn an_allowed_guarded_fn_runs_its_body_once() {
    let server = TestServer::start(allow_deploys()).await;
    let probe = BodyProbe::new();
    atlasent::with_client(server.client(), deploy(&probe))
        .await
        .expect("allowed");
    probe.assert_ran_once();
    assert_one_deploy(&server, Decision::Allow).await;
}

#[tokio::test]
async fn a_denied_guarded_fn_never_runs_its_body() {
    let server = TestServer::start(deny_deploys()).await;
    let probe = BodyProbe::new();
    let err = atlasent::with_client(server.client(), deploy(&probe))
        .await
        .expect_err("denied");
    probe.assert_never_ran();
    let denial = assert_denied_by(&err, "freeze");
    assert_eq!(denial.reason(), "denied by policy deploys rule freeze");
    assert_eq!(
        assert_denied(&err).deny_code().map(|c| c.as_str()),
        Some("CHANGE_FREEZE")
    );
    assert_one_deploy(&server, Decision::Deny).await;
}

fn panic_message(f: impl FnOnce()) -> String {
    // Only the message is read after the panic: nothing is left half-updated.
    let panic =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("the assertion fails");
    match panic.downcast::<String>() {
        Ok(message) => *message,
        Err(panic) => panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .unwrap_or_default(),
    }
}

/// `f` panics with a message starting with `prefix`; the message.
fn panics_starting_with(prefix: &str, f: impl FnOnce()) -> String {
    let message = panic_message(f);
    assert!(message.starts_with(prefix), "{message}");
    message
}

#[tokio::test]
async fn assert_denied_by_names_what_it_found_instead() {
    let server = TestServer::start(
        Policy::new("p")
            .rule(Rule::deny("deploy").id("freeze"))
            .rule(Rule::hold("migrate").id("needs_dba")),
    )
    .await;
    let client = server.client();
    let ask = |action| client.protect("bot", action, &());
    let by_freeze = ask("deploy").await.expect_err("denied");
    let by_default = ask("other").await.expect_err("denied");
    let held = ask("migrate").await.expect_err("held");

    assert_denied_by(&by_freeze, "freeze");
    assert_eq!(
        panic_message(|| {
            assert_denied_by(&by_freeze, "thaw");
        }),
        "expected a denial by rule thaw, found a denial by rule freeze \
         (denied by policy p rule freeze)"
    );
    panics_starting_with(
        "expected a denial by rule freeze, found a denial by no rule (no rule matched",
        || {
            assert_denied_by(&by_default, "freeze");
        },
    );
    assert_eq!(
        panic_message(|| {
            assert_denied(&held);
        }),
        "expected a denial, found a hold (not a denial): held by policy p rule needs_dba"
    );
}

/// Each fault fails the guarded call closed, with the code it should have,
/// without running the body or reaching the server; `Fault::None` recovers.
/// One client throughout: its pooled connection must not slip past a switch.
#[tokio::test]
async fn every_fault_fails_closed_and_none_recovers() {
    let server = TestServer::start(allow_deploys()).await;
    let client = server.client();
    let probe = BodyProbe::new();
    let run = || atlasent::with_client(client.clone(), deploy(&probe));

    run().await.expect("no fault");
    let mut expected = vec![("deploy-bot", "deploy", Decision::Allow)];
    for (fault, code) in [
        (Fault::Unavailable, ErrorCode::ServerError),
        (Fault::Disconnect, ErrorCode::Network),
        (Fault::Stall, ErrorCode::Timeout),
        (Fault::Unavailable, ErrorCode::ServerError),
        (Fault::Disconnect, ErrorCode::Network),
    ] {
        server.set_fault(fault);
        let started = Instant::now();
        let err = run().await.expect_err("a fault fails closed");
        assert_eq!(err.code(), Some(code), "{fault:?}: {err}");
        if fault == Fault::Unavailable {
            assert_eq!(err.status(), Some(503), "{err}");
        }
        if fault == Fault::Stall {
            assert!(
                started.elapsed() < atlasent_testing::CLIENT_TIMEOUT * 2,
                "{:?}",
                started.elapsed()
            );
        }
        assert_eq!(probe.count(), expected.len(), "{fault:?} ran the body");
        // The audit log is read past the proxy: faults do not hide it.
        assert_eq!(server.decisions().await.len(), expected.len(), "{fault:?}");

        server.set_fault(Fault::None);
        run().await.expect("recovered");
        expected.push(("deploy-bot", "deploy", Decision::Allow));
        assert_eq!(probe.count(), expected.len());
    }
    // The faulted requests never reached the server.
    server.assert_decisions(&expected).await;
}

#[tokio::test]
async fn a_fault_reaches_a_call_that_follows_a_successful_one_at_once() {
    let server = TestServer::start(allow_deploys()).await;
    let client = server.client();
    let deploy = || client.protect("deploy-bot", "deploy", &());
    for _ in 0..20 {
        deploy().await.expect("allowed");
        server.set_fault(Fault::Unavailable);
        let err = deploy().await.expect_err("503");
        assert_eq!(err.code(), Some(ErrorCode::ServerError), "{err}");
        server.set_fault(Fault::None);
    }
}

#[tokio::test]
async fn two_servers_do_not_see_each_others_decisions() {
    let allowing = TestServer::start(allow_deploys()).await;
    let denying = TestServer::start(deny_deploys()).await;
    let probe = BodyProbe::new();
    let (allowed, denied) = tokio::join!(
        atlasent::with_client(allowing.client(), deploy(&probe)),
        atlasent::with_client(denying.client(), deploy(&probe)),
    );
    allowed.expect("allowed");
    assert_denied_by(&denied.expect_err("denied"), "freeze");
    probe.assert_ran_once();
    assert_one_deploy(&allowing, Decision::Allow).await;
    assert_one_deploy(&denying, Decision::Deny).await;
}

#[tokio::test]
async fn a_dropped_server_is_gone() {
    let server = TestServer::start(allow_deploys()).await;
    let client = server.client();
    let deploy = || client.protect("deploy-bot", "deploy", &());
    deploy().await.expect("allowed");
    drop(server);
    let err = deploy().await.expect_err("no server");
    assert_eq!(err.code(), Some(ErrorCode::Network), "{err}");
}

#[cfg(feature = "blocking")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_guarded_fn_under_blocking_with_client() {
    let server =
        TestServer::start(Policy::new("ops").rule(Rule::allow("drop_table").agent("ops-cli")))
            .await;
    let client = server.blocking_client();
    let probe = BodyProbe::new();
    let in_task = probe.clone();
    tokio::task::spawn_blocking(move || {
        atlasent::blocking::with_client(client.clone(), || drop_table(&in_task)).expect("allowed");
    })
    .await
    .expect("the blocking task ran");
    probe.assert_ran_once();

    server.set_fault(Fault::Disconnect);
    let client = server.blocking_client();
    let in_task = probe.clone();
    let err = tokio::task::spawn_blocking(move || {
        atlasent::blocking::with_client(client, || drop_table(&in_task))
    })
    .await
    .expect("the blocking task ran")
    .expect_err("fails closed");
    assert_eq!(err.code(), Some(ErrorCode::Network), "{err}");
    probe.assert_ran_once();
    server
        .assert_decisions(&[("ops-cli", "drop_table", Decision::Allow)])
        .await;
}

#[cfg(feature = "blocking")]
#[test]
fn a_plain_test_keeps_its_runtime_for_the_server() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let server = runtime.block_on(TestServer::start(
        Policy::new("ops").rule(Rule::deny("drop_table")),
    ));
    let probe = BodyProbe::new();
    let err = atlasent::blocking::with_client(server.blocking_client(), || drop_table(&probe))
        .expect_err("denied");
    assert_denied_by(&err, "deny_drop_table_1");
    probe.assert_never_ran();
}

#[tokio::test]
async fn switching_the_fault_ends_a_call_in_flight_at_once() {
    let server = TestServer::start(allow_deploys()).await;
    server.set_fault(Fault::Stall);
    let client = server.client();
    let started = Instant::now();
    let stalled = tokio::spawn(async move { client.protect("deploy-bot", "deploy", &()).await });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    server.set_fault(Fault::None);
    let err = stalled
        .await
        .expect("the call ran")
        .expect_err("its connection was closed");
    assert_eq!(err.code(), Some(ErrorCode::Network), "{err}");
    assert!(
        started.elapsed() < atlasent_testing::CLIENT_TIMEOUT,
        "{:?}",
        started.elapsed()
    );
    server.assert_no_decisions().await;
}

/// Once `set_fault` returns, no new request reaches the server: not one
/// fired after it, nor one whose head the proxy had read but not yet
/// forwarded. (A request already forwarded before the switch may still be
/// decided: its client sees the fault, its decision is in the log.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_switch_returns_no_new_request_reaches_the_server() {
    let server = TestServer::start(allow_deploys()).await;
    let client = server.client();
    for round in 0..5 {
        server.set_fault(Fault::None);
        let in_flight: Vec<_> = (0..16)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { client.evaluate("deploy-bot", "deploy", &()).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        server.set_fault(Fault::Disconnect);
        let mut succeeded = 0;
        for call in in_flight {
            if call.await.expect("the call ran").is_ok() {
                succeeded += 1;
            }
        }
        // Let the server finish what was forwarded before the switch.
        let mut before = server.decisions().await.len();
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let now = server.decisions().await.len();
            if now == before {
                break;
            }
            before = now;
        }
        assert!(
            before >= succeeded,
            "round {round}: {succeeded} allowed, {before} decided"
        );

        let fired: Vec<_> = (0..16)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { client.evaluate("deploy-bot", "deploy", &()).await })
            })
            .collect();
        for call in fired {
            let err = call.await.expect("the call ran").expect_err("disconnected");
            assert_eq!(err.code(), Some(ErrorCode::Network), "round {round}: {err}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(
            server.decisions().await.len(),
            before,
            "round {round}: a request fired after the switch was decided"
        );
    }
}

/// A deny rule that did not match but could not be ruled out (a context
/// key it tests missing, null or of the wrong type) denies fail-closed:
/// `assert_denied_by` refuses that, naming the key; the fail-closed
/// assertion accepts exactly that.
#[tokio::test]
async fn assert_denied_by_refuses_a_fail_closed_denial() {
    let server = TestServer::start(
        Policy::new("refunds")
            .default_allow()
            .rule(
                Rule::deny("refund")
                    .id("too_large")
                    .when("amount_usd", serde_json::json!({ "gt": 100 })),
            )
            .rule(
                Rule::deny("refund")
                    .id("blocked_region")
                    .when("region", serde_json::json!({ "equals": "xx" })),
            ),
    )
    .await;
    let client = server.client();
    let deny = |context: serde_json::Value| {
        let client = client.clone();
        async move {
            client
                .protect("billing-bot", "refund", &context)
                .await
                .expect_err("denied")
        }
    };
    let matched = deny(serde_json::json!({ "amount_usd": 500, "region": "eu" })).await;
    let missing = deny(serde_json::json!({ "region": "eu" })).await;
    let null = deny(serde_json::json!({ "amount_usd": null, "region": "eu" })).await;
    let wrong_type = deny(serde_json::json!({ "amount_usd": "500", "region": "eu" })).await;

    assert_denied_by(&matched, "too_large");
    let message = panics_starting_with(
        "expected a denial by rule too_large, found a fail-closed denial: rule too_large \
         did not match, but context key amount_usd is missing",
        || {
            assert_denied_by(&missing, "too_large");
        },
    );
    assert!(
        message.contains("assert_denied_fail_closed_by") && message.contains("amount_usd"),
        "{message}"
    );
    let message = panic_message(|| {
        assert_denied_by(&null, "too_large");
    });
    assert!(
        message.contains("context key amount_usd is null")
            && message
                .ends_with("give the call a value other than null for context key amount_usd"),
        "{message}"
    );
    let message = panic_message(|| {
        assert_denied_by(&wrong_type, "too_large");
    });
    assert!(
        message.contains("context amount_usd is a string where a number was expected"),
        "{message}"
    );

    for err in [&missing, &null, &wrong_type] {
        let denial = assert_denied_fail_closed_by(err, "too_large");
        assert!(
            denial.reason().contains("amount_usd"),
            "{}",
            denial.reason()
        );
    }
    panics_starting_with(
        "expected a fail-closed denial by rule too_large, found a denial by rule too_large \
         that matched (denied by policy refunds rule too_large); use assert_denied_by",
        || {
            assert_denied_fail_closed_by(&matched, "too_large");
        },
    );
    panics_starting_with(
        "expected a fail-closed denial by rule blocked_region, found a denial by rule too_large",
        || {
            assert_denied_fail_closed_by(&missing, "blocked_region");
        },
    );
}
