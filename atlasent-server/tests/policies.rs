//! The contract's policies decide as their authors meant, every matcher kind
//! behaves as documented, and the linter rejects the `INVALID_*` fixtures.

use std::path::PathBuf;

use atlasent_server::policy::{Effect, Policy, PolicySet};
use serde_json::{json, Map, Value};

fn contract(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/contract/vectors/policies")
        .join(name)
}

fn set(files: &[&str]) -> PolicySet {
    let policies = files
        .iter()
        .map(|f| Policy::from_file(&contract(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect();
    PolicySet::new(policies).expect("distinct ids")
}

fn ctx(v: Value) -> Map<String, Value> {
    v.as_object().expect("object").clone()
}

struct Case {
    name: &'static str,
    agent: &'static str,
    action: &'static str,
    context: Value,
    effect: Effect,
    reason_contains: &'static str,
}

fn check(set: &PolicySet, cases: &[Case]) {
    for c in cases {
        let d = set.evaluate(c.agent, c.action, &ctx(c.context.clone()));
        assert_eq!(d.effect, c.effect, "{}: {}", c.name, d.reason);
        assert!(
            d.reason.contains(c.reason_contains),
            "{}: {:?} lacks {:?}",
            c.name,
            d.reason,
            c.reason_contains
        );
    }
}

#[test]
fn clinical_phi_access_decides_as_written() {
    let s = set(&["clinical_phi_access.json"]);
    let full = json!({ "environment": "production", "user": "dr_smith", "patient_id": "PT-001" });
    check(
        &s,
        &[
            Case {
                name: "clinical agent reads PHI in production",
                agent: "clinical-data-agent",
                action: "read_patient_record",
                context: full.clone(),
                effect: Effect::Allow,
                reason_contains: "rule allow_read_phi_for_clinical_agents",
            },
            Case {
                name: "read_phi is in the action list",
                agent: "clinical-bot",
                action: "read_phi",
                context: full.clone(),
                effect: Effect::Allow,
                reason_contains: "allow_read_phi_for_clinical_agents",
            },
            Case {
                name: "prefix: non-clinical agent",
                agent: "finance-agent",
                action: "read_patient_record",
                context: full.clone(),
                effect: Effect::Deny,
                reason_contains: "denied by default of policy clinical_phi_access",
            },
            Case {
                name: "prefix is case-sensitive",
                agent: "Clinical-data-agent",
                action: "read_phi",
                context: full.clone(),
                effect: Effect::Deny,
                reason_contains: "default",
            },
            Case {
                name: "exact context value: staging",
                agent: "clinical-data-agent",
                action: "read_phi",
                context: json!({ "environment": "staging", "user": "u", "patient_id": "p" }),
                effect: Effect::Deny,
                reason_contains: "default",
            },
            Case {
                name: "require: patient_id missing",
                agent: "clinical-data-agent",
                action: "read_phi",
                context: json!({ "environment": "production", "user": "u" }),
                effect: Effect::Deny,
                reason_contains: "requires context patient_id",
            },
            Case {
                name: "require: empty string counts as missing",
                agent: "clinical-data-agent",
                action: "read_phi",
                context: json!({ "environment": "production", "user": "", "patient_id": "p" }),
                effect: Effect::Deny,
                reason_contains: "requires context user",
            },
            Case {
                name: "require: null counts as missing",
                agent: "clinical-data-agent",
                action: "read_phi",
                context: json!({ "environment": "production", "user": null, "patient_id": "p" }),
                effect: Effect::Deny,
                reason_contains: "requires context user",
            },
            Case {
                name: "write needs change_reason",
                agent: "clinical-data-agent",
                action: "modify_patient_record",
                context: full.clone(),
                effect: Effect::Deny,
                reason_contains: "requires context change_reason",
            },
            Case {
                name: "write with change_reason",
                agent: "clinical-data-agent",
                action: "modify_patient_record",
                context: json!({ "environment": "production", "user": "u", "patient_id": "p", "change_reason": "typo" }),
                effect: Effect::Allow,
                reason_contains: "allow_write_phi_with_reason",
            },
            Case {
                name: "gt: bulk export over 1000 denied by rule",
                agent: "anyone",
                action: "export_patient_records",
                context: json!({ "count": 1001 }),
                effect: Effect::Deny,
                reason_contains: "rule deny_bulk_export",
            },
            Case {
                name: "gt: exactly 1000 is not over",
                agent: "anyone",
                action: "export_patient_records",
                context: json!({ "count": 1000 }),
                effect: Effect::Deny,
                reason_contains: "default",
            },
            Case {
                name: "gt: a string count is not a number",
                agent: "anyone",
                action: "export_patient_records",
                context: json!({ "count": "5000" }),
                effect: Effect::Deny,
                reason_contains: "default",
            },
            Case {
                name: "unknown action",
                agent: "clinical-data-agent",
                action: "delete_everything",
                context: full,
                effect: Effect::Deny,
                reason_contains: "default",
            },
        ],
    );
}

#[test]
fn finance_wire_transfer_decides_as_written() {
    let s = set(&["finance_wire_transfer.json"]);
    check(
        &s,
        &[
            Case {
                name: "small transfer with counterparty and memo",
                agent: "finance-agent",
                action: "wire_transfer",
                context: json!({ "amount_usd": 500, "counterparty_id": "c", "memo": "m" }),
                effect: Effect::Allow,
                reason_contains: "rule allow_small_transfers",
            },
            Case {
                name: "lte: exactly 10000 allowed",
                agent: "finance-agent",
                action: "wire_transfer",
                context: json!({ "amount_usd": 10000, "counterparty_id": "c", "memo": "m" }),
                effect: Effect::Allow,
                reason_contains: "allow_small_transfers",
            },
            Case {
                name: "gt: 10000.01 denied by rule",
                agent: "finance-agent",
                action: "wire_transfer",
                context: json!({ "amount_usd": 10000.01, "counterparty_id": "c", "memo": "m" }),
                effect: Effect::Deny,
                reason_contains: "rule deny_high_value",
            },
            Case {
                name: "deny_high_value applies to any agent",
                agent: "rogue",
                action: "wire_transfer",
                context: json!({ "amount_usd": 50000 }),
                effect: Effect::Deny,
                reason_contains: "deny_high_value",
            },
            Case {
                name: "equals: other agent, small amount",
                agent: "finance-agent-2",
                action: "wire_transfer",
                context: json!({ "amount_usd": 5, "counterparty_id": "c", "memo": "m" }),
                effect: Effect::Deny,
                reason_contains: "default",
            },
            Case {
                name: "require: memo missing",
                agent: "finance-agent",
                action: "wire_transfer",
                context: json!({ "amount_usd": 5, "counterparty_id": "c" }),
                effect: Effect::Deny,
                reason_contains: "requires context memo",
            },
            Case {
                name: "amount missing",
                agent: "finance-agent",
                action: "wire_transfer",
                context: json!({ "counterparty_id": "c", "memo": "m" }),
                effect: Effect::Deny,
                reason_contains: "default",
            },
            Case {
                name: "negative amounts are small",
                agent: "finance-agent",
                action: "wire_transfer",
                context: json!({ "amount_usd": -5, "counterparty_id": "c", "memo": "m" }),
                effect: Effect::Allow,
                reason_contains: "allow_small_transfers",
            },
        ],
    );
}

#[test]
fn deny_overrides_across_policies() {
    let s = set(&["clinical_phi_access.json", "finance_wire_transfer.json"]);
    let allowed = s.evaluate(
        "finance-agent",
        "wire_transfer",
        &ctx(json!({ "amount_usd": 1, "counterparty_id": "c", "memo": "m" })),
    );
    assert_eq!(
        allowed.effect,
        Effect::Allow,
        "an allow in one policy is not undone by another's default"
    );
    assert_eq!(allowed.policy_id.as_deref(), Some("finance_wire_transfer"));
    let none = s.evaluate("x", "y", &Map::new());
    assert_eq!(none.effect, Effect::Deny);
    assert_eq!(none.reason, "no rule matched; denied by default");
}

fn policy(rules: Value, default: &str) -> PolicySet {
    let doc = json!({ "policy_id": "p", "version": "1.0.0", "default": default, "rules": rules });
    PolicySet::new(vec![Policy::from_value(&doc).expect("valid")]).expect("set")
}

#[test]
fn every_matcher_kind() {
    let s = policy(
        json!([
            { "id": "eq", "effect": "allow", "match": { "action": "eq", "context": { "s": { "equals": "x" }, "n": 1, "b": true } } },
            { "id": "in", "effect": "allow", "match": { "action": "in", "agent": { "in": ["a", "b"] }, "context": { "tier": { "in": ["gold", 3] } } } },
            { "id": "rx", "effect": "allow", "match": { "action": { "regex": "^deploy_(staging|prod)$" }, "context": { "ticket": { "regex": "^[A-Z]+-[0-9]+$" } } } },
            { "id": "ex", "effect": "allow", "match": { "action": "ex", "context": { "approver": { "exists": true }, "override": { "exists": false } } } },
            { "id": "rng", "effect": "allow", "match": { "action": "rng", "context": { "a": { "gte": 1 }, "b": { "lt": 10 } } } },
            { "id": "deny_prod", "effect": "deny", "match": { "action": "deploy_prod", "agent": { "prefix": "intern-" } } }
        ]),
        "deny",
    );
    let d = |agent: &str, action: &str, c: Value| s.evaluate(agent, action, &ctx(c)).effect;
    use Effect::{Allow, Deny};
    assert_eq!(
        d("z", "eq", json!({ "s": "x", "n": 1.0, "b": true })),
        Allow,
        "1.0 equals 1"
    );
    assert_eq!(
        d("z", "eq", json!({ "s": "x", "n": 1, "b": "true" })),
        Deny,
        "\"true\" is not true"
    );
    assert_eq!(d("a", "in", json!({ "tier": 3 })), Allow);
    assert_eq!(
        d("c", "in", json!({ "tier": "gold" })),
        Deny,
        "agent not in list"
    );
    assert_eq!(d("b", "in", json!({ "tier": "silver" })), Deny);
    assert_eq!(
        d("z", "deploy_staging", json!({ "ticket": "OPS-12" })),
        Allow
    );
    assert_eq!(
        d("z", "deploy_prod", json!({ "ticket": "ops-12" })),
        Deny,
        "regex is case-sensitive"
    );
    assert_eq!(
        d("intern-joe", "deploy_prod", json!({ "ticket": "OPS-1" })),
        Deny,
        "deny overrides allow"
    );
    assert_eq!(d("z", "ex", json!({ "approver": "kim" })), Allow);
    assert_eq!(
        d("z", "ex", json!({ "approver": "kim", "override": true })),
        Deny
    );
    assert_eq!(
        d("z", "ex", json!({ "approver": null })),
        Deny,
        "null does not exist"
    );
    assert_eq!(d("z", "rng", json!({ "a": 1, "b": 9.99 })), Allow);
    assert_eq!(d("z", "rng", json!({ "a": 0.5, "b": 1 })), Deny);
    assert_eq!(d("z", "rng", json!({ "a": 1, "b": 10 })), Deny);
    let open = policy(
        json!([{ "id": "never", "effect": "deny", "match": { "action": "x" } }]),
        "allow",
    );
    assert_eq!(
        open.evaluate("a", "y", &Map::new()).effect,
        Allow,
        "default allow"
    );
    assert_eq!(open.evaluate("a", "x", &Map::new()).effect, Deny);
}

#[test]
fn the_invalid_fixtures_fail_lint_with_paths_and_the_others_pass() {
    let bad_rule = Policy::from_file(&contract("INVALID_bad_rule.json"))
        .expect_err("invalid")
        .to_string();
    assert!(
        bad_rule
            .contains("$.rules[0].effect: must be \"allow\" or \"deny\", got the string \"maybe\""),
        "{bad_rule}"
    );
    let no_rules = Policy::from_file(&contract("INVALID_missing_default.json"))
        .expect_err("invalid")
        .to_string();
    assert!(
        no_rules.contains("$.rules: must have at least 1 rule"),
        "{no_rules}"
    );
    for ok in ["clinical_phi_access.json", "finance_wire_transfer.json"] {
        Policy::from_file(&contract(ok)).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn lint_cli_exits_non_zero_on_invalid_policies() {
    let bin = env!("CARGO_BIN_EXE_atlasent-server");
    let out = std::process::Command::new(bin)
        .args(["lint"])
        .arg(contract("INVALID_bad_rule.json"))
        .arg(contract("finance_wire_transfer.json"))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("$.rules[0].effect"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok: finance_wire_transfer 1.2.0"),
        "{stdout}"
    );
    let good = std::process::Command::new(bin)
        .arg("lint")
        .arg(contract("clinical_phi_access.json"))
        .status()
        .expect("runs");
    assert!(good.success());
}
