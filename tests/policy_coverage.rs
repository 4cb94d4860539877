//! The examples' policies cover the examples' actions: the action type of
//! `examples/support/actions.rs` (`WireTransfer`, typed context
//! `WireContext`) and the guarded functions of `examples/guarded_cli.rs`
//! (the examples' literal actions), all registered in this test binary, checked against
//! `examples/policies/demo.json`. A policy that lacks the wire transfer's
//! allow rule fails, naming the action.

#[path = "../examples/support/actions.rs"]
#[allow(dead_code)]
mod actions;
#[path = "support/checks.rs"]
mod checks;
/// The example's own guarded functions (`list_tables`, `drop_table`),
/// registered in this binary.
#[path = "../examples/guarded_cli.rs"]
#[allow(dead_code)]
mod guarded_cli;

use std::path::PathBuf;

use atlasent::actions::ActionManifest;
use atlasent::Action;
use atlasent_server::policy::CoverageProblemKind;
use atlasent_server::testing::assert_policies_cover;
use serde_json::{json, Value};

const DEMO: &str = "examples/policies/demo.json";

/// Write `policy` as `name` in this test's scratch directory.
fn write_policy(name: &str, policy: &serde_json::Value) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("policy-coverage");
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join(name);
    std::fs::write(&file, policy.to_string()).expect("write");
    file
}

#[test]
fn this_binary_registers_the_examples_actions() {
    let manifest = ActionManifest::from_registered();
    let names: Vec<&str> = manifest.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["drop_table", "read_tables", actions::WireTransfer::NAME]
    );
    let wire = &manifest.actions[2];
    assert!(
        wire.declared_by.ends_with("actions::WireTransfer"),
        "{}",
        wire.declared_by
    );
    let mut keys = wire
        .context
        .as_ref()
        .and_then(|c| c.keys.clone())
        .expect("WireContext derives Default and Serialize");
    keys.sort();
    assert_eq!(keys, ["amount_usd", "counterparty_id", "memo"]);
    assert!(
        manifest.actions[1].declared_by.contains("list_tables"),
        "{}",
        manifest.actions[1].declared_by
    );
}

#[test]
fn the_demo_policy_covers_the_examples_actions() {
    assert_policies_cover([DEMO]);
}

#[test]
fn a_policy_without_the_wire_transfer_allow_names_the_action() {
    let mut demo: Value =
        serde_json::from_str(&std::fs::read_to_string(DEMO).expect("the demo policy"))
            .expect("JSON");
    let rules = demo["rules"].as_array_mut().expect("rules");
    let before = rules.len();
    rules.retain(|r| r["id"] != "allow_small_wires");
    assert_eq!(rules.len(), before - 1, "the demo policy's wire allow rule");

    let file = write_policy("no-wires.json", &demo);

    let report = checks::uncovered(&file, "wire_transfer is never allowed");
    let problems = report.problems();
    assert_eq!(problems.len(), 1, "{report}");
    assert_eq!(problems[0].kind, CoverageProblemKind::NeverAllowed);
    assert_eq!(problems[0].action, "wire_transfer");
    let text = report.to_string();
    assert!(
        text.contains("action wire_transfer (")
            && text.contains("actions::WireTransfer")
            && text.contains("examples/support/actions.rs:")
            && text.contains("can never be allowed")
            && text.contains("deny rule deny_large_wires of policy quickstart_demo"),
        "{text}"
    );

    // The panicking helper says the same.
    let panic = std::panic::catch_unwind(|| assert_policies_cover([&file])).expect_err("panics");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("action wire_transfer ("), "{message}");
}

#[test]
fn a_policy_requiring_a_key_wire_context_lacks_names_the_key() {
    let mut demo: Value =
        serde_json::from_str(&std::fs::read_to_string(DEMO).expect("the demo policy"))
            .expect("JSON");
    for rule in demo["rules"].as_array_mut().expect("rules") {
        if rule["id"] == "allow_small_wires" {
            rule["require"] = json!(["memo", "approver"]);
        }
    }
    let file = write_policy("wire-approver.json", &demo);

    let report = checks::uncovered(&file, "approver is never sent");
    let missing = checks::missing_keys(&report);
    assert_eq!(missing, [("wire_transfer", Some("approver"))], "{report}");
    assert!(
        report
            .to_string()
            .contains("WireContext lacks key approver"),
        "{report}"
    );
}
