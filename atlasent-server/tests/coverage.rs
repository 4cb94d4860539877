//! Policy coverage: `PolicySet::coverage` on hand-built manifests (each
//! problem, each action matcher, several policies, defaults), and
//! `atlasent_server::testing` on the actions this test binary registers
//! with `#[atlasent::action]`.

mod common;

use std::path::{Path, PathBuf};

use atlasent::actions::{ActionManifest, ManifestAction, ManifestContext};
use atlasent_server::policy::{CoverageProblem, CoverageProblemKind, Effect, Policy, PolicySet};
use atlasent_server::testing::{assert_policies_cover, check_policies_cover};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Hand-built manifests.

fn untyped(name: &str) -> ManifestAction {
    ManifestAction {
        name: name.to_owned(),
        declared_by: format!("fn app::{name}"),
        source: "src/app.rs:7".to_owned(),
        context: None,
    }
}

fn typed(name: &str, ty: &str, keys: Option<&[&str]>) -> ManifestAction {
    ManifestAction {
        name: name.to_owned(),
        declared_by: format!("app::{ty}Action"),
        source: "src/actions.rs:3".to_owned(),
        context: Some(ManifestContext {
            type_name: format!("app::{ty}"),
            keys: keys.map(|k| k.iter().map(|s| (*s).to_owned()).collect()),
        }),
    }
}

fn set(docs: &[Value]) -> PolicySet {
    let policies = docs
        .iter()
        .map(|d| Policy::from_value(d).expect("a valid policy"))
        .collect();
    PolicySet::new(policies).expect("distinct ids")
}

fn policy(id: &str, rules: Value) -> Value {
    json!({ "policy_id": id, "version": "1.0.0", "rules": rules })
}

fn coverage(set: &PolicySet, actions: Vec<ManifestAction>) -> Vec<CoverageProblem> {
    set.coverage(&ActionManifest::new(actions))
}

fn kinds(problems: &[CoverageProblem]) -> Vec<(CoverageProblemKind, &str)> {
    problems
        .iter()
        .map(|p| (p.kind, p.action.as_str()))
        .collect()
}

#[test]
fn every_action_matcher_counts_and_an_unmatched_action_is_named() {
    let set = set(&[policy(
        "ops",
        json!([
            { "id": "exact", "effect": "allow", "match": { "action": "deploy" } },
            { "id": "equals", "effect": "allow", "match": { "action": { "equals": "rollback" } } },
            { "id": "listed", "effect": "allow", "match": { "action": { "in": ["pause", "resume"] } } },
            { "id": "reads", "effect": "allow", "match": { "action": { "prefix": "read_" } } },
            { "id": "audits", "effect": "allow", "match": { "action": { "regex": "^audit\\.[a-z]+$" } } },
            // The agent matcher is not consulted: agents are not known here.
            { "id": "bots_only", "effect": "allow",
              "match": { "agent": "nobody-real", "action": "restart" } }
        ]),
    )]);
    let covered = [
        "deploy",
        "rollback",
        "pause",
        "resume",
        "read_logs",
        "audit.export",
        "restart",
    ];
    let mut actions: Vec<ManifestAction> = covered.iter().map(|a| untyped(a)).collect();
    assert!(
        coverage(&set, actions.clone()).is_empty(),
        "{:#?}",
        coverage(&set, actions)
    );

    for missed in ["drop_table", "reads", "audit.export.all", "deploy_prod"] {
        actions.push(untyped(missed));
    }
    let problems = coverage(&set, actions);
    assert_eq!(
        kinds(&problems),
        [
            (CoverageProblemKind::NeverAllowed, "drop_table"),
            (CoverageProblemKind::NeverAllowed, "reads"),
            (CoverageProblemKind::NeverAllowed, "audit.export.all"),
            (CoverageProblemKind::NeverAllowed, "deploy_prod"),
        ]
    );
    let p = &problems[0];
    assert_eq!(
        (p.declared_by.as_str(), p.source.as_str()),
        ("fn app::drop_table", "src/app.rs:7")
    );
    assert!(p.rules.is_empty(), "{:?}", p.rules);
    assert_eq!(
        p.to_string(),
        "action drop_table (fn app::drop_table, src/app.rs:7) can never be allowed: no allow \
         rule of policy ops matches it; the default (deny) decides every request for it; fix: \
         add an allow rule for drop_table, or stop guarding it"
    );
    assert!(!p.to_string().contains('\n'));
}

#[test]
fn an_allow_rule_in_any_policy_covers_and_several_policies_are_named() {
    let set = set(&[
        policy(
            "deploys",
            json!([{ "id": "d", "effect": "allow", "match": { "action": "deploy" } }]),
        ),
        policy(
            "wires",
            json!([{ "id": "w", "effect": "allow", "match": { "action": "wire_transfer" } }]),
        ),
    ]);
    let problems = coverage(
        &set,
        vec![untyped("deploy"), untyped("wire_transfer"), untyped("drop")],
    );
    assert_eq!(
        kinds(&problems),
        [(CoverageProblemKind::NeverAllowed, "drop")]
    );
    assert!(
        problems[0]
            .message
            .contains("no allow rule of policies deploys, wires matches it"),
        "{}",
        problems[0]
    );
}

#[test]
fn a_deny_only_action_is_named_with_its_refusing_rules() {
    let set = set(&[
        policy(
            "guard",
            json!([
                { "id": "allow_reads", "effect": "allow", "match": { "action": { "prefix": "read_" } } },
                { "id": "deny_drops", "effect": "deny", "match": { "action": "drop_table" } },
                { "id": "hold_everything_else", "effect": "hold", "match": { "action": { "regex": "^drop" } } }
            ]),
        ),
        policy(
            "esc",
            json!([{ "id": "escalate_drops", "effect": "escalate", "match": { "action": "drop_table" } }]),
        ),
    ]);
    let problems = coverage(&set, vec![untyped("drop_table"), untyped("read_logs")]);
    assert_eq!(
        kinds(&problems),
        [(CoverageProblemKind::NeverAllowed, "drop_table")]
    );
    let p = &problems[0];
    let rules: Vec<(&str, &str, Effect)> = p
        .rules
        .iter()
        .map(|r| (r.policy_id.as_str(), r.rule_id.as_str(), r.effect))
        .collect();
    assert_eq!(
        rules,
        [
            ("guard", "deny_drops", Effect::Deny),
            ("guard", "hold_everything_else", Effect::Hold),
            ("esc", "escalate_drops", Effect::Escalate),
        ]
    );
    assert!(
        p.message.contains(
            "only refusing rules apply to it: deny rule deny_drops of policy guard, hold rule \
             hold_everything_else of policy guard, escalate rule escalate_drops of policy esc"
        ),
        "{p}"
    );
}

#[test]
fn a_default_of_allow_in_every_policy_covers_an_action_no_rule_names() {
    let allow_all = json!({ "policy_id": "open", "version": "1.0.0", "default": "allow",
        "rules": [{ "id": "deny_drops", "effect": "deny", "match": { "action": "drop_table" } }] });
    assert!(coverage(
        &set(std::slice::from_ref(&allow_all)),
        vec![untyped("anything")]
    )
    .is_empty());

    // One policy defaulting to deny makes the default deny.
    let closed = policy(
        "closed",
        json!([{ "id": "r", "effect": "allow", "match": { "action": "other" } }]),
    );
    let problems = coverage(&set(&[allow_all, closed]), vec![untyped("anything")]);
    assert_eq!(
        kinds(&problems),
        [(CoverageProblemKind::NeverAllowed, "anything")]
    );

    // No policy at all.
    let problems = coverage(&PolicySet::default(), vec![untyped("anything")]);
    assert!(
        problems[0].message.contains("no policy is loaded"),
        "{}",
        problems[0]
    );
}

fn wires() -> PolicySet {
    set(&[policy(
        "wires",
        json!([
            { "id": "allow_small_wires", "effect": "allow",
              "match": { "action": "wire_transfer", "context": { "amount_usd": { "lte": 10000 } } },
              "require": ["memo"] },
            { "id": "deny_large_wires", "effect": "deny",
              "match": { "action": "wire_transfer", "context": { "amount_usd": { "gt": 10000 } } } }
        ]),
    )])
}

#[test]
fn a_typed_context_with_every_key_the_rules_need_is_covered() {
    let ctx = typed(
        "wire_transfer",
        "WireContext",
        Some(&["amount_usd", "memo", "counterparty_id"]),
    );
    assert_eq!(coverage(&wires(), vec![ctx]), []);
    // The keys of an untyped action are not checked.
    assert_eq!(coverage(&wires(), vec![untyped("wire_transfer")]), []);
}

#[test]
fn a_missing_required_key_is_named_with_its_rule_policy_and_type() {
    let ctx = typed("wire_transfer", "WireContext", Some(&["amount_usd"]));
    let problems = coverage(&wires(), vec![ctx]);
    assert_eq!(
        kinds(&problems),
        [
            (CoverageProblemKind::NeverAllowed, "wire_transfer"),
            (CoverageProblemKind::MissingRequiredKey, "wire_transfer"),
        ]
    );
    let missing = &problems[1];
    assert_eq!(missing.key.as_deref(), Some("memo"));
    assert_eq!(missing.context_type.as_deref(), Some("app::WireContext"));
    assert_eq!(
        (
            missing.rules[0].policy_id.as_str(),
            missing.rules[0].rule_id.as_str()
        ),
        ("wires", "allow_small_wires")
    );
    assert_eq!(
        missing.to_string(),
        "action wire_transfer (app::WireContextAction, src/actions.rs:3): context type \
         app::WireContext lacks key memo, which allow rule allow_small_wires of policy wires \
         requires, so that rule can never allow it; fix: add memo to app::WireContext, or \
         remove it from the rule's \"require\""
    );
    // The rule is dead, and it was the only one: the action is never allowed.
    assert!(
        problems[0].message.contains(
            "every allow rule that matches it needs a key context type app::WireContext lacks \
             (allow rule allow_small_wires of policy wires requires key memo)"
        ),
        "{}",
        problems[0]
    );
    assert!(problems[0]
        .message
        .contains("only refusing rules apply to it: deny rule deny_large_wires"));
}

#[test]
fn a_missing_required_key_is_named_even_when_another_rule_allows() {
    let set = set(&[
        policy(
            "strict",
            json!([{ "id": "with_approver", "effect": "allow", "match": { "action": "deploy" },
                 "require": ["approver", "ticket"] }]),
        ),
        policy(
            "lenient",
            json!([{ "id": "any_deploy", "effect": "allow", "match": { "action": { "prefix": "dep" } } }]),
        ),
    ]);
    let problems = coverage(&set, vec![typed("deploy", "Deploy", Some(&["commit"]))]);
    let named: Vec<(CoverageProblemKind, Option<&str>, &str)> = problems
        .iter()
        .map(|p| (p.kind, p.key.as_deref(), p.rules[0].rule_id.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            (
                CoverageProblemKind::MissingRequiredKey,
                Some("approver"),
                "with_approver"
            ),
            (
                CoverageProblemKind::MissingRequiredKey,
                Some("ticket"),
                "with_approver"
            ),
        ]
    );
}

#[test]
fn a_matcher_that_needs_a_key_the_type_lacks_makes_its_rule_dead() {
    let set = set(&[policy(
        "tickets",
        json!([
            { "id": "needs_ticket", "effect": "allow",
              "match": { "action": "drop", "context": { "ticket": { "regex": "^OPS-[0-9]+$" } } } },
            { "id": "not_prod", "effect": "allow",
              "match": { "action": "restart", "context": { "prod": { "exists": false }, "env": null } } }
        ]),
    )]);
    let problems = coverage(
        &set,
        vec![
            typed("drop", "Drop", Some(&["table"])),
            // Matchers that hold on an absent key need nothing from the type.
            typed("restart", "Restart", Some(&[])),
        ],
    );
    assert_eq!(
        kinds(&problems),
        [
            (CoverageProblemKind::NeverAllowed, "drop"),
            (CoverageProblemKind::MissingMatchedKey, "drop"),
        ]
    );
    assert_eq!(problems[1].key.as_deref(), Some("ticket"));
    assert!(
        problems[1].message.contains(
            "context type app::Drop lacks key ticket, which allow rule needs_ticket of policy \
             tickets matches with {\"regex\": \"^OPS-[0-9]+$\"}"
        ),
        "{}",
        problems[1]
    );
}

#[test]
fn unknown_context_keys_are_named_and_not_guessed() {
    let set = set(&[policy(
        "p",
        json!([{ "id": "r", "effect": "allow", "match": { "action": "a" }, "require": ["k"] }]),
    )]);
    let problems = coverage(&set, vec![typed("a", "Opaque", None)]);
    assert_eq!(
        kinds(&problems),
        [(CoverageProblemKind::UnknownContextKeys, "a")]
    );
    assert_eq!(
        problems[0].to_string(),
        "action a (app::OpaqueAction, src/actions.rs:3): the keys of context type app::Opaque \
         cannot be read, so they cannot be checked against the policies; fix: derive \
         Default for app::Opaque (its keys are those app::Opaque::default() serializes) and \
         serialize it as a struct (no #[serde(flatten)])"
    );
}

// ---------------------------------------------------------------------------
// Real registrations: the actions this test binary declares.

/// A typed context whose key `amountUsd` is renamed (with a deserialize-only
/// alias), one field never serialized and one sometimes skipped: the
/// manifest must list the keys the wire can carry, and only those.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TransferContext {
    #[serde(rename = "amountUsd", alias = "amount")]
    amount: u64,
    memo: String,
    #[serde(skip_serializing)]
    #[allow(dead_code)]
    approver: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<String>,
}

/// A typed action.
#[atlasent::action("coverage_test.transfer", context = TransferContext)]
pub struct Transfer;

/// An untyped action.
#[atlasent::action("coverage_test.read")]
pub struct Read;

fn scratch(name: &str, policies: &[Value]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("coverage")
        .join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    for old in std::fs::read_dir(&dir).expect("read dir") {
        std::fs::remove_file(old.expect("entry").path()).expect("clean");
    }
    for (i, p) in policies.iter().enumerate() {
        std::fs::write(dir.join(format!("{i}.json")), p.to_string()).expect("write");
    }
    dir
}

fn covering(require: &str) -> Value {
    policy(
        "app",
        json!([
            { "id": "transfers", "effect": "allow", "match": { "action": "coverage_test.transfer",
              "context": { "amountUsd": { "lte": 100 } } }, "require": [require] },
            { "id": "reads", "effect": "allow", "match": { "action": { "prefix": "coverage_test.read" } } }
        ]),
    )
}

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("it panics");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn the_registry_lists_this_binarys_actions_with_renamed_keys() {
    let manifest = ActionManifest::from_registered();
    let transfer = manifest
        .actions
        .iter()
        .find(|a| a.name == "coverage_test.transfer")
        .expect("registered");
    assert!(
        transfer.declared_by.ends_with("::Transfer"),
        "{}",
        transfer.declared_by
    );
    assert!(
        transfer.source.contains("coverage.rs:"),
        "{}",
        transfer.source
    );
    let context = transfer.context.as_ref().expect("typed");
    assert!(context.type_name.ends_with("TransferContext"));
    let mut keys = context.keys.clone().expect("keys read from Serialize");
    keys.sort();
    assert_eq!(keys, ["amountUsd", "memo", "ticket"]);

    let read = manifest
        .actions
        .iter()
        .find(|a| a.name == "coverage_test.read")
        .expect("registered");
    assert_eq!(read.context, None);
    // The manifest round-trips through the JSON the CLI reads.
    assert_eq!(
        ActionManifest::from_json(&manifest.to_json()).expect("reads"),
        manifest
    );
}

#[test]
fn the_helper_passes_when_the_policies_cover_the_registered_actions() {
    let dir = scratch("pass", &[covering("memo")]);
    assert_policies_cover([&dir]);
    assert_policies_cover([dir.join("0.json")]);
}

#[test]
fn the_helper_names_a_renamed_key_the_policy_misspells() {
    // The policy requires `amount`, the Rust field's name; the wire key is
    // `amountUsd`.
    let dir = scratch("renamed", &[covering("amount")]);
    let report = common::uncovered(&dir, "amount is never sent");
    let missing = common::missing_keys(&report);
    assert_eq!(missing, [("coverage_test.transfer", Some("amount"))]);

    let message = panic_message(|| assert_policies_cover([&dir]));
    assert!(
        message.contains("lacks key amount, which allow rule transfers of policy app requires"),
        "{message}"
    );
    assert!(
        message.contains("action coverage_test.transfer ("),
        "{message}"
    );
    // One problem a line, under a heading.
    assert_eq!(
        message.lines().count(),
        1 + report.problems().len(),
        "{message}"
    );
}

#[test]
fn the_helper_fails_naming_an_action_the_policies_miss() {
    let only_reads = policy(
        "reads",
        json!([{ "id": "reads", "effect": "allow", "match": { "action": { "prefix": "coverage_test.read" } } }]),
    );
    let dir = scratch("miss", &[only_reads]);
    let message = panic_message(|| assert_policies_cover([&dir]));
    assert!(
        message.contains("action coverage_test.transfer (")
            && message.contains("can never be allowed: no allow rule of policy reads matches it"),
        "{message}"
    );
    assert!(
        !message.contains("action coverage_test.read ("),
        "{message}"
    );
}

#[test]
fn the_helper_names_a_policy_that_fails_to_load_and_an_empty_manifest() {
    let dir = scratch(
        "broken",
        &[json!({ "policy_id": "Bad", "version": "1.0.0", "rules": [] })],
    );
    let file = dir.join("0.json");
    let message = panic_message(|| assert_policies_cover([&file]));
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(message.contains("$.policy_id"), "{message}");

    let dup = scratch("dup", &[covering("memo"), covering("memo")]);
    let message = panic_message(|| assert_policies_cover([&dup]));
    assert!(
        message.contains("policy_id \"app\" is defined twice"),
        "{message}"
    );

    let empty = scratch("empty", &[]);
    let report =
        check_policies_cover([&empty], &ActionManifest::from_registered()).expect_err("no policy");
    assert!(report.errors()[0].contains("holds no policy"), "{report}");

    let report = check_policies_cover([dup.join("0.json")], &ActionManifest::new(vec![]))
        .expect_err("nothing to check");
    assert!(report.errors()[0].contains("lists no actions"), "{report}");
}

#[test]
fn the_manifest_written_for_ci_is_the_registry() {
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("coverage-actions.json");
    atlasent_server::testing::write_action_manifest(&file).expect("written");
    let text = std::fs::read_to_string(&file).expect("read");
    assert_eq!(
        ActionManifest::from_json(&text).expect("valid"),
        ActionManifest::from_registered()
    );
}
