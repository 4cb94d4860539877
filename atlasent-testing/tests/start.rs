//! Starting a test server from each kind of policy, and reading back what
//! it decided.

use std::path::Path;
use std::sync::Arc;

use atlasent::Decision;
use atlasent_testing::{Error, Policy, Rule, TestServer};
use serde_json::json;

const OPS_FIXTURE: &str = "tests/policies/ops.json";

/// `ops-bot` may read logs and may not drop a table; the server decided
/// exactly `earlier`, then those two calls.
async fn read_logs_allowed_drop_denied(server: &TestServer, earlier: &[(&str, &str, Decision)]) {
    let client = server.client();
    let ask = |action| client.protect("ops-bot", action, &());
    ask("read_logs").await.expect("read_logs is allowed");
    let err = ask("drop_table").await.expect_err("drop_table is denied");
    assert!(err.is_denied(), "{err}");
    let mut expected = earlier.to_vec();
    expected.push(("ops-bot", "read_logs", Decision::Allow));
    expected.push(("ops-bot", "drop_table", Decision::Deny));
    server.assert_decisions(&expected).await;
}

#[tokio::test]
async fn starts_from_an_inline_json_policy() {
    let server = TestServer::start(json!({
        "policy_id": "ops",
        "version": "1.0.0",
        "rules": [
            { "id": "allow_read_logs", "effect": "allow", "match": { "action": "read_logs" } }
        ]
    }))
    .await;
    read_logs_allowed_drop_denied(&server, &[]).await;
}

#[tokio::test]
async fn starts_from_a_rust_policy() {
    let server = TestServer::start(Policy::new("ops").rule(Rule::allow("read_logs"))).await;
    read_logs_allowed_drop_denied(&server, &[]).await;
}

#[tokio::test]
async fn starts_from_a_policy_file_and_a_folder() {
    let server = TestServer::start(OPS_FIXTURE).await;
    read_logs_allowed_drop_denied(&server, &[]).await;
    let server = TestServer::start(Path::new("tests/policies")).await;
    read_logs_allowed_drop_denied(&server, &[]).await;
}

#[tokio::test]
async fn the_builder_combines_policies_and_speaks_the_legacy_wire() {
    let server = TestServer::builder()
        .policy_file(OPS_FIXTURE)
        .policy(Policy::new("reports").rule(Rule::allow("read_reports")))
        .policy_json(json!({ "policy_id": "audits", "version": "1.0.0",
            "rules": [{ "id": "hold_exports", "effect": "hold", "match": { "action": "export" } }] }))
        .api_key("ask_test_another_key")
        .wire(atlasent::Wire::Legacy)
        .start()
        .await
        .expect("starts");
    assert_eq!(server.api_key(), "ask_test_another_key");
    let client = server.client();
    assert_eq!(client.config().wire(), atlasent::Wire::Legacy);
    client
        .protect("anyone", "read_reports", &())
        .await
        .expect("allowed by the Rust policy");
    let earlier = [("anyone", "read_reports", Decision::Allow)];
    read_logs_allowed_drop_denied(&server, &earlier).await;
}

#[tokio::test]
async fn decisions_record_reason_rule_code_and_id() {
    let server = TestServer::start(
        Policy::new("ops")
            .rule(Rule::allow("read_logs").id("logs"))
            .rule(Rule::deny("drop_table").code("NO_DROPS"))
            .rule(Rule::escalate("delete_user")),
    )
    .await;
    server.assert_no_decisions().await;
    let client = server.client();
    let ask = |action| client.protect("bot", action, &());
    let permit = ask("read_logs").await.expect("allowed");
    ask("drop_table").await.expect_err("denied");
    let held = ask("delete_user").await.expect_err("held");
    assert!(held.is_held(), "{held}");
    ask("unknown").await.expect_err("default deny");

    let decisions = server.decisions().await;
    assert_eq!(decisions.len(), 4, "{decisions:#?}");
    assert_eq!(decisions[0].decision, Decision::Allow);
    assert_eq!(decisions[0].rule.as_deref(), Some("logs"));
    assert_eq!(decisions[0].policy.as_deref(), Some("ops"));
    assert_eq!(decisions[0].reason, "allowed by policy ops rule logs");
    assert_eq!(decisions[0].decision_id, permit.permit_id());
    assert_eq!(decisions[0].code, None);
    assert_eq!(decisions[1].rule.as_deref(), Some("deny_drop_table_1"));
    assert_eq!(decisions[1].code.as_deref(), Some("NO_DROPS"));
    assert_eq!(decisions[2].decision, Decision::Escalate);
    assert_eq!(decisions[2].rule.as_deref(), Some("escalate_delete_user_1"));
    assert_eq!(decisions[3].rule, None);
    assert_eq!(decisions[3].code.as_deref(), Some("NO_TEMPLATE_MATCH"));
    assert!(
        decisions[3].reason.starts_with("no rule matched"),
        "{}",
        decisions[3].reason
    );
}

#[tokio::test]
async fn a_failed_assert_decisions_lists_expected_and_actual() {
    let server =
        Arc::new(TestServer::start(Policy::new("ops").rule(Rule::allow("read_logs"))).await);
    server
        .client()
        .protect("ops-bot", "read_logs", &())
        .await
        .expect("allowed");
    let asserting = Arc::clone(&server);
    let panic = tokio::spawn(async move {
        asserting
            .assert_decisions(&[("ops-bot", "read_logs", Decision::Deny)])
            .await;
    })
    .await
    .expect_err("the assertion fails")
    .into_panic();
    let message = panic
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert_eq!(
        message,
        "the test server's decisions are not the ones expected\n  \
         expected (1):\n    1. ops-bot read_logs DENY\n  \
         actual (1):\n    1. ops-bot read_logs ALLOW (allowed by policy ops rule allow_read_logs_1)\n  \
         first difference: #1"
    );
}

#[tokio::test]
#[should_panic(
    expected = "expected (0):\n    (none)\n  actual (1):\n    1. ops-bot read_logs ALLOW"
)]
async fn assert_no_decisions_panics_listing_what_was_decided() {
    let server = TestServer::start(Policy::new("ops").rule(Rule::allow("read_logs"))).await;
    let _ = server.client().protect("ops-bot", "read_logs", &()).await;
    server.assert_no_decisions().await;
}

#[tokio::test]
async fn a_bad_policy_is_an_error_naming_it_and_each_problem() {
    let err = TestServer::builder()
        .policy_json(json!({ "policy_id": "wires", "version": "1", "rules": [] }))
        .start()
        .await
        .expect_err("invalid");
    assert!(matches!(err, Error::Policy { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "policy policy_json #1 (policy_id \"wires\") did not load: invalid policy, 2 problems:\n  \
         $.version: \"1\" must be a semantic version like 1.0.0\n  \
         $.rules: must have at least 1 rule"
    );

    // Each: the policies, what the message starts with, what it names.
    let cases = [
        (
            TestServer::builder().policy(Policy::new("Bad Id").rule(Rule::allow("x"))),
            "policy Policy \"Bad Id\" did not load: ",
            "$.policy_id",
        ),
        (
            TestServer::builder().policy_file("tests/policies/missing.json"),
            "policy file tests/policies/missing.json did not load: ",
            "",
        ),
        (
            TestServer::builder()
                .policy(Policy::new("ops").rule(Rule::allow("x")))
                .policy_file(OPS_FIXTURE),
            "",
            "policy_id \"ops\" is defined twice",
        ),
    ];
    for (builder, starts, names) in cases {
        let err = builder.start().await.expect_err("refused");
        let message = err.to_string();
        assert!(message.starts_with(starts), "{message}");
        assert!(message.contains(names), "{message}");
    }
}

#[tokio::test]
#[should_panic(
    expected = "atlasent-testing: the test server did not start: policy Policy \"empty\" did not load: invalid policy, 1 problem:\n  $.rules: must have at least 1 rule"
)]
async fn start_panics_naming_the_policy_that_did_not_load() {
    TestServer::start(Policy::new("empty")).await;
}
