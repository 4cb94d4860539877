//! The `hold` and `escalate` effects and rule `code`s: deny beats escalate
//! beats hold beats allow whatever the order of rules and policies; hold and
//! escalate rules fail closed like deny rules and ignore `require`; every
//! refusal carries a code (the rule's, or the documented default), an allow
//! none; the linter refuses a code on an allow rule or one that is not
//! UPPER_SNAKE, and warns about allow rules that rely on a hold rule.

mod common;

use std::path::PathBuf;

use atlasent_server::policy::{Decision, Effect, Policy, PolicySet};
use serde_json::{json, Map, Value};

fn ctx(v: Value) -> Map<String, Value> {
    v.as_object().expect("object").clone()
}

fn doc(id: &str, default: &str, rules: Value) -> Value {
    json!({ "policy_id": id, "version": "1.0.0", "default": default, "rules": rules })
}

fn set(docs: &[Value]) -> PolicySet {
    common::policy_set(docs)
}

fn one(rules: Value) -> PolicySet {
    set(&[doc("p", "deny", rules)])
}

/// The lint errors of a policy, as `path: message` lines.
fn errors(doc: Value) -> Vec<String> {
    match Policy::from_value(&doc) {
        Ok(_) => Vec::new(),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

fn rule(id: &str, effect: &str) -> Value {
    json!({ "id": id, "effect": effect, "match": { "action": "act" } })
}

/// Every ordering of `items`.
fn permutations(items: &[Value]) -> Vec<Vec<Value>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            out.push(tail);
        }
    }
    out
}

#[test]
fn effect_names_and_only_allow_issues_a_permit() {
    let all = [Effect::Allow, Effect::Deny, Effect::Hold, Effect::Escalate];
    let names: Vec<&str> = all.iter().map(|e| e.as_str()).collect();
    assert_eq!(names, ["allow", "deny", "hold", "escalate"]);
    let permits: Vec<bool> = all.iter().map(|e| e.issues_permit()).collect();
    assert_eq!(permits, [true, false, false, false]);
}

#[test]
fn deny_beats_escalate_beats_hold_beats_allow_in_every_rule_order() {
    let rules = [
        rule("a", "allow"),
        rule("h", "hold"),
        rule("e", "escalate"),
        rule("d", "deny"),
    ];
    // With the strongest rules taken away one by one, the next one decides.
    for (kept, effect, rule_id) in [
        (4, Effect::Deny, "d"),
        (3, Effect::Escalate, "e"),
        (2, Effect::Hold, "h"),
        (1, Effect::Allow, "a"),
    ] {
        for order in permutations(&rules[..kept]) {
            let d = one(json!(order)).evaluate("x", "act", &Map::new());
            assert_eq!(
                (d.effect, d.rule_id.as_deref()),
                (effect, Some(rule_id)),
                "order {}: {}",
                json!(order),
                d.reason
            );
        }
    }
}

#[test]
fn the_combination_does_not_depend_on_the_order_of_policies() {
    let docs = [
        doc("pa", "allow", json!([rule("a", "allow")])),
        doc("ph", "deny", json!([rule("h", "hold")])),
        doc("pe", "deny", json!([rule("e", "escalate")])),
    ];
    for order in permutations(&docs) {
        let d = set(&order).evaluate("x", "act", &Map::new());
        assert_eq!(d.effect, Effect::Escalate, "{}", d.reason);
        assert_eq!(d.policy_id.as_deref(), Some("pe"));
        assert_eq!(d.reason, "escalated by policy pe rule e");
    }
}

#[test]
fn the_first_rule_of_the_winning_effect_decides_in_load_and_file_order() {
    let d = set(&[
        doc(
            "p1",
            "deny",
            json!([rule("a1", "allow"), rule("h1", "hold")]),
        ),
        doc("p2", "deny", json!([rule("h2", "hold")])),
    ])
    .evaluate("x", "act", &Map::new());
    assert_eq!(
        (d.policy_id.as_deref(), d.rule_id.as_deref()),
        (Some("p1"), Some("h1"))
    );
    assert_eq!(d.reason, "held by policy p1 rule h1");
}

/// A hold and an escalate rule whose comparisons and regex cannot always be
/// tested, next to an allow rule that lets everything else through.
fn fail_closed_set() -> PolicySet {
    one(json!([
        { "id": "allow_all", "effect": "allow", "match": {} },
        { "id": "hold_big", "effect": "hold",
          "match": { "action": "wire", "context": { "amount_usd": { "gt": 10000 } } } },
        { "id": "esc_prod", "effect": "escalate",
          "match": { "action": "deploy", "context": { "target": { "regex": "^prod" } } } },
        { "id": "hold_tables", "effect": "hold",
          "match": { "action": "drop", "context": { "table": { "in": ["users"] } } } }
    ]))
}

#[test]
fn a_hold_rule_fires_on_a_mistyped_or_missing_value_and_says_why() {
    let s = fail_closed_set();
    let held = |c: Value| s.evaluate("bot", "wire", &ctx(c));
    let d = held(json!({ "amount_usd": 500 }));
    assert_eq!(d.effect, Effect::Allow, "a small number: {}", d.reason);
    let d = held(json!({ "amount_usd": 50000 }));
    assert_eq!(
        (d.effect, d.reason.as_str()),
        (Effect::Hold, "held by policy p rule hold_big")
    );
    for (amount, why) in [
        (
            json!("500"),
            "context amount_usd is a string where a number was expected",
        ),
        (
            json!(true),
            "context amount_usd is a boolean where a number was expected",
        ),
        (
            json!([1]),
            "context amount_usd is an array where a number was expected",
        ),
        (
            Value::Null,
            "context key amount_usd is null, so hold rule hold_big could not be ruled out",
        ),
    ] {
        let d = held(json!({ "amount_usd": amount }));
        assert_eq!(d.effect, Effect::Hold, "{amount}: {}", d.reason);
        assert_eq!(d.reason, format!("held by policy p rule hold_big: {why}"));
    }
    let d = held(json!({}));
    assert_eq!(d.effect, Effect::Hold);
    assert_eq!(
        d.reason,
        "held by policy p rule hold_big: context key amount_usd is missing, \
         so hold rule hold_big could not be ruled out"
    );
}

#[test]
fn an_escalate_rule_fires_on_a_value_its_regex_cannot_test() {
    let s = fail_closed_set();
    let d = s.evaluate("bot", "deploy", &ctx(json!({ "target": 7 })));
    assert_eq!(d.effect, Effect::Escalate, "{}", d.reason);
    assert_eq!(
        d.reason,
        "escalated by policy p rule esc_prod: context target is a number where a string was expected"
    );
    let d = s.evaluate("bot", "deploy", &ctx(json!({ "target": "staging" })));
    assert_eq!(d.effect, Effect::Allow, "{}", d.reason);
}

#[test]
fn a_hold_rule_on_exact_values_fires_on_another_type_but_not_on_an_absent_key() {
    let s = fail_closed_set();
    let d = s.evaluate("bot", "drop", &ctx(json!({ "table": ["users"] })));
    assert_eq!(d.effect, Effect::Hold, "{}", d.reason);
    assert!(
        d.reason
            .ends_with("context table is an array where a string was expected"),
        "{}",
        d.reason
    );
    let d = s.evaluate("bot", "drop", &Map::new());
    assert_eq!(
        d.effect,
        Effect::Allow,
        "an absent key is not a listed value: {}",
        d.reason
    );
}

#[test]
fn hold_and_escalate_rules_do_not_wait_for_their_require_keys() {
    let s = one(json!([
        { "id": "h", "effect": "hold", "match": { "action": "a" }, "require": ["ticket"] },
        { "id": "e", "effect": "escalate", "match": { "action": "b" }, "require": ["ticket"] }
    ]));
    assert_eq!(s.evaluate("x", "a", &Map::new()).effect, Effect::Hold);
    assert_eq!(s.evaluate("x", "b", &Map::new()).effect, Effect::Escalate);
}

fn code(d: &Decision) -> Option<&str> {
    d.code.as_deref()
}

#[test]
fn every_refusal_has_a_default_code_and_an_allow_has_none() {
    let s = one(json!([
        { "id": "a", "effect": "allow", "match": { "action": "ok" } },
        { "id": "needs", "effect": "allow", "match": { "action": "needs" }, "require": ["ticket"] },
        { "id": "d", "effect": "deny", "match": { "action": "no" } },
        { "id": "h", "effect": "hold", "match": { "action": "wait" } },
        { "id": "e", "effect": "escalate", "match": { "action": "ask" } }
    ]));
    let decide = |action: &str| s.evaluate("x", action, &Map::new());
    for (action, effect, want) in [
        ("ok", Effect::Allow, None),
        ("no", Effect::Deny, Some("DENY_POLICY")),
        ("wait", Effect::Hold, Some("ACTOR_HELD")),
        ("ask", Effect::Escalate, Some("ESCALATE_REQUIRED")),
        ("other", Effect::Deny, Some("NO_TEMPLATE_MATCH")),
        ("needs", Effect::Deny, Some("MISSING_REQUIRED_CONTEXT")),
    ] {
        let d = decide(action);
        assert_eq!(
            (d.effect, code(&d)),
            (effect, want),
            "{action}: {}",
            d.reason
        );
    }
    // The reasons stay what they were before codes existed.
    assert_eq!(decide("no").reason, "denied by policy p rule d");
    assert_eq!(
        decide("other").reason,
        "no rule matched; denied by default of policy p"
    );
    assert_eq!(
        decide("needs").reason,
        "no rule matched; denied by default of policy p (rule needs of policy p requires context ticket)"
    );
    let with_ticket = s.evaluate("x", "needs", &ctx(json!({ "ticket": "T-1" })));
    assert_eq!(
        (with_ticket.effect, code(&with_ticket)),
        (Effect::Allow, None)
    );
}

#[test]
fn defaults_carry_codes_only_when_they_deny() {
    let open = set(&[doc("p", "allow", json!([rule("d", "deny")]))]);
    let d = open.evaluate("x", "other", &Map::new());
    assert_eq!((d.effect, code(&d)), (Effect::Allow, None));
    let needs = set(&[doc(
        "p",
        "allow",
        json!([{ "id": "n", "effect": "allow", "match": {}, "require": ["k"] }]),
    )]);
    let d = needs.evaluate("x", "y", &Map::new());
    assert_eq!((d.effect, code(&d)), (Effect::Allow, None), "{}", d.reason);
    let nothing = PolicySet::new(Vec::new()).expect("empty");
    let d = nothing.evaluate("x", "y", &Map::new());
    assert_eq!(
        (d.effect, code(&d)),
        (Effect::Deny, Some("NO_TEMPLATE_MATCH"))
    );
    assert_eq!(d.reason, "no policy is loaded; denied by default");
}

#[test]
fn a_rule_code_replaces_the_default() {
    let s = one(json!([
        { "id": "d", "effect": "deny", "code": "OFF_HOURS", "match": { "action": "no" } },
        { "id": "h", "effect": "hold", "code": "AMOUNT_OVER_LIMIT_2", "match": { "action": "wait" } },
        { "id": "e", "effect": "escalate", "code": "X", "match": { "action": "ask" } }
    ]));
    for (action, want) in [
        ("no", "OFF_HOURS"),
        ("wait", "AMOUNT_OVER_LIMIT_2"),
        ("ask", "X"),
    ] {
        assert_eq!(code(&s.evaluate("x", action, &Map::new())), Some(want));
    }
}

#[test]
fn a_code_on_an_allow_rule_is_refused() {
    let errs = errors(doc(
        "p",
        "deny",
        json!([
            { "id": "ok", "effect": "deny", "code": "FINE", "match": {} },
            { "id": "a", "effect": "allow", "code": "ALLOWED", "match": {} }
        ]),
    ));
    assert_eq!(
        errs,
        ["$.rules[1].code: `code` names why a request is refused; an allow rule has none"]
    );
}

#[test]
fn a_code_that_is_not_upper_snake_is_refused_with_its_path() {
    let long_ok = format!("A{}", "B".repeat(63));
    assert_eq!(
        errors(doc(
            "p",
            "deny",
            json!([{ "id": "d", "effect": "deny", "code": long_ok, "match": {} }])
        )),
        Vec::<String>::new(),
        "64 characters is the limit"
    );
    let too_long = format!("A{}", "B".repeat(64));
    for bad in [
        json!("deny_policy"),
        json!(""),
        json!("1ABC"),
        json!("_ABC"),
        json!("A-B"),
        json!("ÄB"),
        json!(too_long),
    ] {
        let errs = errors(doc(
            "p",
            "deny",
            json!([rule("a", "allow"), { "id": "h", "effect": "hold", "code": bad, "match": {} }]),
        ));
        assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
        assert!(
            errs[0].starts_with(&format!("$.rules[1].code: {bad} must match"))
                && errs[0].contains("^[A-Z][A-Z0-9_]{0,63}$"),
            "{bad}: {errs:?}"
        );
    }
    let errs = errors(doc(
        "p",
        "deny",
        json!([{ "id": "d", "effect": "deny", "code": 7, "match": {} }]),
    ));
    assert_eq!(
        errs,
        ["$.rules[0].code: must be a string, got the number 7"]
    );
}

#[test]
fn an_unknown_effect_names_all_four_and_a_default_is_allow_or_deny() {
    let errs = errors(doc("p", "deny", json!([rule("r", "maybe")])));
    assert_eq!(
        errs,
        ["$.rules[0].effect: must be \"allow\", \"deny\", \"hold\" or \"escalate\", got the string \"maybe\""]
    );
    for default in ["hold", "escalate"] {
        let errs = errors(doc("p", default, json!([rule("r", "allow")])));
        assert_eq!(
            errs,
            [format!(
                "$.default: must be \"allow\" or \"deny\", got the string \"{default}\""
            )]
        );
    }
}

#[test]
fn lint_warns_about_an_allow_rule_that_relies_on_a_hold_rule() {
    let s = one(json!([
        { "id": "allow_wires", "effect": "allow", "match": { "action": "wire" } },
        { "id": "hold_big", "effect": "hold",
          "match": { "action": "wire", "context": { "amount_usd": { "gt": 10000 } } } },
        { "id": "esc_tables", "effect": "escalate",
          "match": { "action": "wire", "context": { "desk": { "in": ["fx"] } } } }
    ]));
    let warnings = s.warnings();
    let found: Vec<(&str, &str, &str)> = warnings
        .iter()
        .map(|w| (w.path.as_str(), w.key.as_str(), w.deny_path.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "$.rules[0]",
                "amount_usd",
                "$.rules[1].match.context.amount_usd"
            ),
            ("$.rules[0]", "desk", "$.rules[2].match.context.desk"),
        ]
    );
    let hold = warnings[0].to_string();
    common::assert_contains_all(
        &hold,
        &[
            "allow rule allow_wires has no bound on context amount_usd, which hold rule hold_big",
            "is held only because hold rules fail closed",
            "{\"lte\": 10000}",
        ],
    );
    let escalate = warnings[1].to_string();
    assert!(
        escalate.contains("which escalate rule esc_tables")
            && escalate.contains("a request without desk is not escalated by esc_tables and can be allowed by allow_wires"),
        "{escalate}"
    );
}

fn current_example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/policies/current.json")
}

#[test]
fn the_current_example_decides_as_its_description_says() {
    let policy = Policy::from_file(&current_example()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.id(), "current-demo");
    let s = PolicySet::new(vec![policy]).expect("set");
    let decide = |agent: &str, action: &str, c: Value| {
        let d = s.evaluate(agent, action, &ctx(c));
        (d.effect, d.rule_id, d.code)
    };
    let some = |s: &str| Some(s.to_owned());
    let prod = json!({ "environment": "production" });
    assert_eq!(
        decide("deploy-bot", "deploy.production", prod.clone()),
        (Effect::Allow, some("allow_production_deploys"), None)
    );
    assert_eq!(
        decide(
            "deploy-bot",
            "deploy.production",
            json!({ "environment": "production", "force": true })
        ),
        (
            Effect::Deny,
            some("deny_forced_deploys"),
            some("DENY_POLICY")
        )
    );
    assert_eq!(
        decide(
            "deploy-bot",
            "deploy.production",
            json!({ "environment": "production", "force": "true" })
        )
        .0,
        Effect::Deny,
        "a mistyped flag fails closed"
    );
    assert_eq!(
        decide("other-bot", "deploy.production", prod.clone()),
        (Effect::Deny, None, some("NO_TEMPLATE_MATCH"))
    );
    assert_eq!(
        decide(
            "deploy-bot",
            "deploy.production",
            json!({ "environment": "staging" })
        ),
        (Effect::Deny, None, some("NO_TEMPLATE_MATCH"))
    );
    assert_eq!(
        decide("pay-bot", "payments.wire", json!({ "amount_usd": 500 })),
        (Effect::Allow, some("allow_small_wires"), None)
    );
    for amount in [json!(50000), json!("500"), Value::Null] {
        assert_eq!(
            decide("pay-bot", "payments.wire", json!({ "amount_usd": amount })),
            (Effect::Hold, some("hold_large_wires"), some("ACTOR_HELD")),
            "{amount}"
        );
    }
    assert_eq!(
        decide("pay-bot", "payments.wire", json!({})).0,
        Effect::Hold,
        "no amount: held, fail closed"
    );
    assert_eq!(
        decide("anyone", "records.delete", json!({})),
        (
            Effect::Escalate,
            some("escalate_deletes"),
            some("ESCALATE_REQUIRED")
        )
    );
    assert_eq!(
        decide("anyone", "records.read", json!({})),
        (Effect::Allow, some("allow_reads"), None)
    );
    // Leaving `force` out means "not forced": the one gap lint reports.
    let warned: Vec<(String, String)> = s.warnings().into_iter().map(|w| (w.path, w.key)).collect();
    assert_eq!(warned, [("$.rules[0]".to_owned(), "force".to_owned())]);
}

#[test]
fn the_lint_command_loads_the_current_example() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atlasent-server"))
        .arg("lint")
        .arg(current_example())
        .output()
        .expect("runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("ok: current-demo 1.0.0"), "{stdout}");
}
