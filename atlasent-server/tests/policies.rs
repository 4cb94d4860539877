//! The contract's policies decide as their authors meant, every matcher kind
//! behaves as documented (deny rules fail closed on a missing or mistyped
//! value, allow rules never do), the linter rejects the `INVALID_*` fixtures
//! and warns about an allow rule that lacks a bound a deny rule relies on.

mod common;

use std::path::PathBuf;

use atlasent_server::policy::{Decision, Effect, Policy, PolicySet};
use serde_json::{json, Map, Value};

/// `d` is `effect`, and its reason says `says`; `case` names what was
/// decided.
#[track_caller]
fn assert_decision(case: &dyn std::fmt::Display, d: &Decision, effect: Effect, says: &str) {
    assert_eq!(d.effect, effect, "{case}: {}", d.reason);
    assert!(
        d.reason.contains(says),
        "{case}: {:?} lacks {says:?}",
        d.reason
    );
}

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
                name: "gt: a string count fails closed in the deny rule",
                agent: "anyone",
                action: "export_patient_records",
                context: json!({ "count": "5000" }),
                effect: Effect::Deny,
                reason_contains:
                    "rule deny_bulk_export: context count is a string where a number was expected",
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
                name: "amount missing: the deny rule cannot be ruled out",
                agent: "finance-agent",
                action: "wire_transfer",
                context: json!({ "counterparty_id": "c", "memo": "m" }),
                effect: Effect::Deny,
                reason_contains: "rule deny_high_value: context key amount_usd is missing",
            },
            Case {
                name: "amount as a numeric string is not coerced, and the deny fires",
                agent: "finance-agent",
                action: "wire_transfer",
                context: json!({ "amount_usd": "500", "counterparty_id": "c", "memo": "m" }),
                effect: Effect::Deny,
                reason_contains: "context amount_usd is a string where a number was expected",
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
    use Effect::{Allow, Deny};
    // A row: agent, action, context => the effect (and why).
    macro_rules! decides {
        ($agent:literal, $action:literal, $c:tt => $effect:ident $(, $why:literal)?) => {{
            let (c, why) = (json!($c), concat!("" $(, $why)?));
            let got = s.evaluate($agent, $action, &ctx(c.clone())).effect;
            assert_eq!(got, $effect, "{} {} {c}: {why}", $agent, $action);
        }};
    }
    decides!("z", "eq", { "s": "x", "n": 1.0, "b": true } => Allow, "1.0 equals 1");
    decides!("z", "eq", { "s": "x", "n": 1, "b": "true" } => Deny, "\"true\" is not true");
    decides!("a", "in", { "tier": 3 } => Allow);
    decides!("c", "in", { "tier": "gold" } => Deny, "agent not in list");
    decides!("b", "in", { "tier": "silver" } => Deny);
    decides!("z", "deploy_staging", { "ticket": "OPS-12" } => Allow);
    decides!("z", "deploy_prod", { "ticket": "ops-12" } => Deny, "regex is case-sensitive");
    decides!("intern-joe", "deploy_prod", { "ticket": "OPS-1" } => Deny, "deny overrides allow");
    decides!("z", "ex", { "approver": "kim" } => Allow);
    decides!("z", "ex", { "approver": "kim", "override": true } => Deny);
    decides!("z", "ex", { "approver": null } => Deny, "null does not exist");
    decides!("z", "rng", { "a": 1, "b": 9.99 } => Allow);
    decides!("z", "rng", { "a": 0.5, "b": 1 } => Deny);
    decides!("z", "rng", { "a": 1, "b": 10 } => Deny);
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
            .contains("$.rules[0].effect: must be \"allow\", \"deny\", \"hold\" or \"escalate\", got the string \"maybe\""),
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

/// A wire-transfer policy whose allow rule has no bound of its own: only the
/// deny rule stands between an agent and an unlimited transfer.
fn unbounded_allow() -> PolicySet {
    policy(
        json!([
            { "id": "allow_any_wire", "effect": "allow", "match": { "action": "wire_transfer" }, "require": ["memo"] },
            { "id": "deny_high_value", "effect": "deny", "match": { "action": "wire_transfer", "context": { "amount_usd": { "gt": 10000 } } } }
        ]),
        "deny",
    )
}

#[test]
fn a_deny_comparison_fires_on_a_value_of_the_wrong_type_and_says_so() {
    let s = unbounded_allow();
    for (amount, found) in [
        (json!("50000"), "a string"),
        (json!("500"), "a string"),
        (json!(true), "a boolean"),
        (json!([50000]), "an array"),
        (json!({ "usd": 50000 }), "an object"),
    ] {
        let d = s.evaluate(
            "finance-agent",
            "wire_transfer",
            &ctx(json!({ "amount_usd": amount, "memo": "m" })),
        );
        assert_eq!(d.effect, Effect::Deny, "{amount}: {}", d.reason);
        assert_eq!(d.rule_id.as_deref(), Some("deny_high_value"), "{amount}");
        assert_eq!(
            d.reason,
            format!(
                "denied by policy p rule deny_high_value: context amount_usd is {found} where a number was expected"
            )
        );
    }
}

#[test]
fn a_deny_comparison_fires_when_its_key_is_absent_and_says_so() {
    let s = unbounded_allow();
    let d = s.evaluate(
        "finance-agent",
        "wire_transfer",
        &ctx(json!({ "memo": "m" })),
    );
    assert_eq!(d.effect, Effect::Deny, "{}", d.reason);
    assert_eq!(d.rule_id.as_deref(), Some("deny_high_value"));
    assert_eq!(
        d.reason,
        "denied by policy p rule deny_high_value: context key amount_usd is missing, so deny rule deny_high_value could not be ruled out"
    );
    let null = s.evaluate(
        "finance-agent",
        "wire_transfer",
        &ctx(json!({ "amount_usd": null, "memo": "m" })),
    );
    assert_decision(
        &"null",
        &null,
        Effect::Deny,
        "context key amount_usd is null",
    );
}

#[test]
fn an_allow_rule_without_its_own_bound_cannot_bypass_the_deny() {
    let s = unbounded_allow();
    let d = |c: Value| s.evaluate("finance-agent", "wire_transfer", &ctx(c)).effect;
    assert_eq!(d(json!({ "amount_usd": 500, "memo": "m" })), Effect::Allow);
    assert_eq!(
        d(json!({ "amount_usd": 10000, "memo": "m" })),
        Effect::Allow
    );
    for bypass in [
        json!({ "amount_usd": 50000, "memo": "m" }),
        json!({ "amount_usd": "50000", "memo": "m" }),
        json!({ "amount_usd": "5e4", "memo": "m" }),
        json!({ "amount_usd": [50000], "memo": "m" }),
        json!({ "amount_usd": null, "memo": "m" }),
        json!({ "memo": "m" }),
        json!({ "amount": 50000, "memo": "m" }),
    ] {
        assert_eq!(d(bypass.clone()), Effect::Deny, "{bypass}");
    }
}

#[test]
fn a_deny_regex_fires_on_a_non_string_or_an_absent_value() {
    let s = policy(
        json!([
            { "id": "allow_deploys", "effect": "allow", "match": { "action": "deploy" } },
            { "id": "deny_tmp_branches", "effect": "deny", "match": { "action": "deploy", "context": { "branch": { "regex": "^tmp/" } } } }
        ]),
        "deny",
    );
    let d = |c: Value| s.evaluate("ci", "deploy", &ctx(c));
    assert_eq!(d(json!({ "branch": "main" })).effect, Effect::Allow);
    assert_eq!(d(json!({ "branch": "tmp/x" })).effect, Effect::Deny);
    let number = d(json!({ "branch": 7 }));
    assert_eq!(number.effect, Effect::Deny);
    assert!(
        number.reason.ends_with(
            "rule deny_tmp_branches: context branch is a number where a string was expected"
        ),
        "{}",
        number.reason
    );
    let absent = d(json!({}));
    assert_decision(
        &"absent",
        &absent,
        Effect::Deny,
        "context key branch is missing",
    );
}

#[test]
fn allow_rules_match_strictly_and_never_coerce_a_numeric_string() {
    let s = policy(
        json!([
            { "id": "small", "effect": "allow", "match": { "action": "pay", "context": { "amount_usd": { "lte": 100 } } } },
            { "id": "ticketed", "effect": "allow", "match": { "action": "drop", "context": { "ticket": { "regex": "^OPS-" } } } }
        ]),
        "deny",
    );
    let d = |action: &str, c: Value| s.evaluate("a", action, &ctx(c));
    assert_eq!(d("pay", json!({ "amount_usd": 5 })).effect, Effect::Allow);
    for wrong in [json!("5"), json!(true), json!([5]), json!({}), json!(null)] {
        let decision = d("pay", json!({ "amount_usd": wrong }));
        assert_eq!(decision.effect, Effect::Deny, "{wrong}");
        assert_eq!(decision.rule_id, None, "{wrong}: denied by default");
    }
    assert_eq!(
        d("drop", json!({ "ticket": "OPS-1" })).effect,
        Effect::Allow
    );
    assert_eq!(d("drop", json!({ "ticket": 1 })).effect, Effect::Deny);
}

#[test]
fn exists_equals_and_in_keep_their_meaning_in_deny_rules() {
    let s = policy(
        json!([
            { "id": "allow_drops", "effect": "allow", "match": { "action": "drop" } },
            { "id": "deny_core_tables", "effect": "deny", "match": { "action": "drop", "context": { "table": { "in": ["users", "payments"] } } } },
            { "id": "deny_overrides", "effect": "deny", "match": { "action": "drop", "context": { "override": { "exists": true } } } },
            { "id": "deny_unapproved", "effect": "deny", "match": { "action": "drop", "context": { "approver": { "exists": false } } } },
            { "id": "deny_null_env", "effect": "deny", "match": { "action": "drop", "context": { "env": null } } }
        ]),
        "deny",
    );
    let d = |c: Value| s.evaluate("a", "drop", &ctx(c));
    let ok = d(json!({ "approver": "kim", "env": "prod", "table": "logs" }));
    assert_eq!(ok.effect, Effect::Allow, "{}", ok.reason);
    let no_table = d(json!({ "approver": "kim", "env": "prod" }));
    assert_eq!(
        no_table.effect,
        Effect::Allow,
        "`in` matches only its listed values, so an absent table is not denied (lint warns about it)"
    );
    let wrong_type = d(json!({ "approver": "kim", "env": "prod", "table": ["users"] }));
    assert_eq!(
        wrong_type.effect,
        Effect::Deny,
        "a value of a type none of the listed values has cannot be ruled out (a JS tool reads [\"users\"] as \"users\")"
    );
    assert!(
        wrong_type
            .reason
            .contains("context table is an array where a string was expected"),
        "{}",
        wrong_type.reason
    );
    let rule = |c: Value| d(c).rule_id;
    assert_eq!(
        rule(json!({ "approver": "kim", "env": "prod", "table": "users" })).as_deref(),
        Some("deny_core_tables")
    );
    assert_eq!(
        rule(json!({ "approver": "kim", "env": "prod", "override": 1 })).as_deref(),
        Some("deny_overrides")
    );
    let unapproved = d(json!({ "env": "prod" }));
    assert_eq!(unapproved.rule_id.as_deref(), Some("deny_unapproved"));
    assert_eq!(
        unapproved.reason, "denied by policy p rule deny_unapproved",
        "an absent key is what {{\"exists\": false}} asks for: no fail-closed note"
    );
    assert_eq!(
        rule(json!({ "approver": "kim" })).as_deref(),
        Some("deny_null_env")
    );
}

#[test]
fn lint_warns_about_an_allow_rule_without_the_bound_a_deny_rule_relies_on() {
    let s = unbounded_allow();
    let warnings = s.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let w = &warnings[0];
    assert_eq!(w.policy_id, "p");
    assert_eq!(w.path, "$.rules[0]");
    assert_eq!(w.key, "amount_usd");
    let text = w.to_string();
    common::assert_contains_all(
        &text,
        &[
            "allow rule allow_any_wire",
            "deny rule deny_high_value",
            "policy p $.rules[1].match.context.amount_usd",
            "amount_usd",
            "\"require\": [\"amount_usd\"]",
            "{\"lte\": 10000}",
        ],
    );
}

#[test]
fn lint_warns_only_where_an_allow_can_meet_the_deny_without_the_key() {
    let warned = |rules: Value| {
        policy(rules, "deny")
            .warnings()
            .iter()
            .map(|w| (w.path.clone(), w.key.clone()))
            .collect::<Vec<_>>()
    };
    let deny = json!({ "id": "d", "effect": "deny", "match": { "action": "wire", "context": { "amount": { "gt": 10 } } } });
    let none: Vec<(String, String)> = Vec::new();
    let bounded = json!({ "id": "a", "effect": "allow", "match": { "action": "wire", "context": { "amount": { "lte": 10 } } } });
    assert_eq!(
        warned(json!([bounded, deny.clone()])),
        none,
        "a bound of its own"
    );
    let required = json!({ "id": "a", "effect": "allow", "match": { "action": "wire" }, "require": ["amount"] });
    assert_eq!(warned(json!([required, deny.clone()])), none, "a require");
    let other_action =
        json!({ "id": "a", "effect": "allow", "match": { "action": { "in": ["read", "list"] } } });
    assert_eq!(
        warned(json!([other_action, deny.clone()])),
        none,
        "another action"
    );
    let other_prefix =
        json!({ "id": "a", "effect": "allow", "match": { "action": { "prefix": "read_" } } });
    assert_eq!(
        warned(json!([other_prefix, deny.clone()])),
        none,
        "a prefix that cannot be wire"
    );
    let other_agent =
        json!({ "id": "a", "effect": "allow", "match": { "action": "wire", "agent": "bob" } });
    let denied_agent = json!({ "id": "d", "effect": "deny", "match": { "action": "wire", "agent": "eve", "context": { "amount": { "gt": 10 } } } });
    assert_eq!(
        warned(json!([other_agent, denied_agent])),
        none,
        "disjoint agents"
    );
    let any_action = json!({ "id": "a", "effect": "allow", "match": { "agent": "bob" } });
    assert_eq!(
        warned(json!([any_action, deny.clone()])),
        vec![("$.rules[0]".to_owned(), "amount".to_owned())],
        "an allow on every action covers wire"
    );
    let exists_only = json!({ "id": "a", "effect": "allow", "match": { "action": "wire", "context": { "amount": { "exists": false } } } });
    assert_eq!(
        warned(json!([exists_only, deny.clone()])).len(),
        1,
        "{{\"exists\": false}} is not a bound"
    );
    let in_deny = json!({ "id": "d", "effect": "deny", "match": { "action": "drop", "context": { "table": { "in": ["users"] } } } });
    let drop =
        json!({ "id": "a", "effect": "allow", "match": { "action": { "regex": "^drop$" } } });
    assert_eq!(
        warned(json!([drop, in_deny.clone()])),
        vec![("$.rules[0]".to_owned(), "table".to_owned())],
        "without `table` an `in` deny never fires: the plainest bypass"
    );
    let flag_deny = json!({ "id": "d", "effect": "deny", "match": { "action": "drop", "context": { "override": { "exists": true } } } });
    let plain_drop = json!({ "id": "a", "effect": "allow", "match": { "action": "drop" } });
    assert_eq!(
        warned(json!([plain_drop, flag_deny.clone()])),
        none,
        "leaving out a flag the deny forbids is not a bypass"
    );
}

#[test]
fn lint_warnings_cross_policies() {
    let allow = Policy::from_value(&json!({ "policy_id": "ops", "version": "1.0.0", "rules": [
        { "id": "allow_wires", "effect": "allow", "match": { "action": "wire_transfer" } }
    ] }))
    .expect("valid");
    let finance = Policy::from_file(&contract("finance_wire_transfer.json")).expect("valid");
    let s = PolicySet::new(vec![allow, finance]).expect("set");
    let warnings = s.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let text = warnings[0].to_string();
    assert!(
        text.starts_with("ops $.rules[0]: allow rule allow_wires"),
        "{text}"
    );
    assert!(
        text.contains("deny rule deny_high_value (policy finance_wire_transfer $.rules[1].match.context.amount_usd)"),
        "{text}"
    );
}

#[test]
fn the_contract_and_demo_policies_lint_without_warnings() {
    let demo = Policy::from_file(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/policies/demo.json"),
    )
    .expect("valid");
    let s = PolicySet::new(vec![
        Policy::from_file(&contract("clinical_phi_access.json")).expect("valid"),
        Policy::from_file(&contract("finance_wire_transfer.json")).expect("valid"),
        demo,
    ])
    .expect("set");
    assert!(s.warnings().is_empty(), "{:#?}", s.warnings());
}

#[tokio::test]
async fn over_http_a_string_or_missing_amount_is_denied_by_the_deny_rule() {
    let server = common::start().await;
    let c = common::client(&server);
    for (context, why) in [
        (
            json!({ "amount_usd": "50000", "counterparty_id": "c", "memo": "m" }),
            "context amount_usd is a string where a number was expected",
        ),
        (
            json!({ "counterparty_id": "c", "memo": "m" }),
            "context key amount_usd is missing, so deny rule deny_high_value could not be ruled out",
        ),
    ] {
        let r = c
            .evaluate("finance-agent", "wire_transfer", &context)
            .await
            .expect("evaluate");
        assert!(!r.permitted, "{context}: {}", r.reason);
        assert!(
            r.reason.contains("rule deny_high_value") && r.reason.contains(why),
            "{context}: {}",
            r.reason
        );
    }
}

#[test]
fn a_deny_rule_on_exact_values_fires_on_a_value_of_another_type() {
    // The reviewer's bypass of the demo policy: the table named as an array.
    let policy = Policy::from_value(&serde_json::json!({
        "policy_id": "tables", "version": "1.0.0", "default": "deny",
        "rules": [
            { "id": "no_core_tables", "effect": "deny",
              "match": { "action": "drop_table", "context": { "table": { "in": ["users", "payments"] } } } },
            { "id": "other_tables", "effect": "allow",
              "match": { "action": "drop_table" }, "require": ["table", "ticket"] }
        ]
    }))
    .expect("policy");
    let set = atlasent_server::PolicySet::new(vec![policy]).expect("set");
    for table in [
        serde_json::json!(["users"]),
        serde_json::json!({ "name": "users" }),
        serde_json::json!(1),
        serde_json::json!(true),
    ] {
        let ctx = serde_json::json!({ "table": table, "ticket": "OPS-1" });
        let d = set.evaluate("ops", "drop_table", ctx.as_object().expect("object"));
        assert_decision(&table, &d, Effect::Deny, "context table is");
    }
    let ctx = serde_json::json!({ "table": "sessions", "ticket": "OPS-1" });
    let d = set.evaluate("ops", "drop_table", ctx.as_object().expect("object"));
    assert_eq!(d.effect, Effect::Allow, "{}", d.reason);
}
