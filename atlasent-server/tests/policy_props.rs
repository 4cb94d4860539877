//! The evaluator agrees with a naive reference evaluator written straight
//! from the policy language docs (the module docs of
//! `atlasent_server::policy`): random sets of 1 to 3 policies, with the four
//! effects (allow, deny, hold, escalate), rule codes, every matcher kind,
//! the fail-closed type rules, `require` keys and defaults, decide random
//! requests drawn from small alphabets (so that rules match) with the same
//! effect, policy, rule and code. The reference reads the policy JSON itself
//! with plain loops over every rule, so the action index of `PolicySet`
//! cannot hide a rule from it. Reordering policies and rules, which the docs
//! say cannot change an effect, does not.

mod common;

use std::cell::RefCell;
use std::collections::HashMap;

use atlasent_server::policy::{Effect, PolicySet};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use regex::Regex;
use serde_json::{json, Map, Value};

const AGENTS: &[&str] = &["fin-a", "fin-b", "ops", "ops-fin"];
const ACTIONS: &[&str] = &["wire", "wire_big", "read", "drop"];
const KEYS: &[&str] = &["amount", "table", "ticket"];
/// Prefixes and regexes that match some of the agents and actions above.
const STR_PREFIXES: &[&str] = &["fin", "o", "w", "wire_", "r", "zzz"];
const STR_REGEXES: &[&str] = &["^fin", "b$", "wire", "^o.s", "i", "^read$"];
const VALUE_REGEXES: &[&str] = &["^1", "s$", "OPS", "0", "^$"];

/// Scalars that policies and contexts share, so equality sometimes holds:
/// `1` and `1.0` are equal numbers; `"1"` and `true` are not numbers; the
/// two integers past 2^53 are equal as doubles.
fn scalar() -> impl Strategy<Value = Value> {
    select(vec![
        Value::Null,
        json!(true),
        json!(false),
        json!(-1),
        json!(0),
        json!(1),
        json!(1.0),
        json!(2.5),
        json!(10),
        json!(9_007_199_254_740_992_u64),
        json!(9_007_199_254_740_993_u64),
        json!(""),
        json!("1"),
        json!("10"),
        json!("users"),
        json!("OPS-1"),
        json!("fin"),
    ])
}

/// Any context value: scalars, and the arrays and objects a comparison
/// cannot test.
fn context_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => scalar(),
        1 => select(vec![json!([]), json!([1]), json!({}), json!({ "a": 1 })]),
    ]
}

fn distinct(items: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn str_matcher(pool: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop_oneof![
        select(pool).prop_map(|s| json!(s)),
        select(pool).prop_map(|s| json!({ "equals": s })),
        subsequence(pool, 1..=3).prop_map(|l| json!({ "in": l })),
        select(STR_PREFIXES).prop_map(|p| json!({ "prefix": p })),
        select(STR_REGEXES).prop_map(|r| json!({ "regex": r })),
    ]
}

fn value_matcher() -> impl Strategy<Value = Value> {
    let comparison = (
        select(&["gt", "gte", "lt", "lte"][..]),
        select(vec![
            json!(-1),
            json!(0),
            json!(1),
            json!(2.5),
            json!(10),
            json!(9_007_199_254_740_992_u64),
        ]),
    )
        .prop_map(|(op, n)| json!({ op: n }));
    prop_oneof![
        1 => scalar(),
        1 => scalar().prop_map(|v| json!({ "equals": v })),
        1 => vec(scalar(), 1..4).prop_map(|l| json!({ "in": distinct(l) })),
        1 => any::<bool>().prop_map(|b| json!({ "exists": b })),
        1 => select(VALUE_REGEXES).prop_map(|r| json!({ "regex": r })),
        3 => comparison,
    ]
}

/// A rule without its id (the policy numbers its rules).
fn rule() -> impl Strategy<Value = Value> {
    (
        select(&["allow", "deny", "hold", "escalate"][..]),
        proptest::option::of(str_matcher(AGENTS)),
        proptest::option::weighted(0.8, str_matcher(ACTIONS)),
        btree_map(select(KEYS), value_matcher(), 0..=2),
        proptest::option::of(subsequence(KEYS, 0..=2)),
        proptest::option::of(select(&["C1", "OTHER_CODE"][..])),
    )
        .prop_map(|(effect, agent, action, context, require, code)| {
            let mut m = Map::new();
            if let Some(a) = agent {
                m.insert("agent".into(), a);
            }
            if let Some(a) = action {
                m.insert("action".into(), a);
            }
            if !context.is_empty() {
                let c: Map<String, Value> = context
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect();
                m.insert("context".into(), Value::Object(c));
            }
            let mut r = json!({ "effect": effect, "match": m });
            if let Some(keys) = require {
                r["require"] = json!(keys);
            }
            // An allow rule may not carry a code.
            if let (Some(code), false) = (code, effect == "allow") {
                r["code"] = json!(code);
            }
            r
        })
}

fn policies() -> impl Strategy<Value = Vec<Value>> {
    let policy = (
        proptest::option::of(select(&["allow", "deny"][..])),
        vec(rule(), 1..=4),
    );
    vec(policy, 1..=3).prop_map(|ps| {
        ps.into_iter()
            .enumerate()
            .map(|(p, (default, rules))| {
                let rules: Vec<Value> = rules
                    .into_iter()
                    .enumerate()
                    .map(|(r, mut rule)| {
                        rule["id"] = json!(format!("r{r}"));
                        rule
                    })
                    .collect();
                let mut doc =
                    json!({ "policy_id": format!("p{p}"), "version": "1.0.0", "rules": rules });
                if let Some(d) = default {
                    doc["default"] = json!(d);
                }
                doc
            })
            .collect()
    })
}

fn request() -> impl Strategy<Value = (&'static str, &'static str, Map<String, Value>)> {
    (
        select(AGENTS),
        select(ACTIONS),
        btree_map(select(KEYS), context_value(), 0..=3),
    )
        .prop_map(|(agent, action, c)| {
            let context = c.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            (agent, action, context)
        })
}

// ---------------------------------------------------------------------------
// The reference evaluator: the docs, read literally.

/// The operator and argument of a matcher; a bare value means `equals`.
fn operator(m: &Value) -> (&str, &Value) {
    match m.as_object() {
        Some(o) => o.iter().next().map(|(k, v)| (k.as_str(), v)).expect("one"),
        None => ("equals", m),
    }
}

/// A regex of the few the strategies use, compiled once per thread.
fn regex(pattern: &Value) -> Regex {
    thread_local! {
        static CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
    }
    let pattern = pattern.as_str().expect("a regex is a string");
    CACHE.with(|c| {
        c.borrow_mut()
            .entry(pattern.to_owned())
            .or_insert_with(|| Regex::new(pattern).expect("valid"))
            .clone()
    })
}

fn str_holds(m: &Value, s: &str) -> bool {
    let (op, arg) = operator(m);
    match op {
        "equals" => arg.as_str() == Some(s),
        "in" => arg
            .as_array()
            .expect("list")
            .iter()
            .any(|x| x.as_str() == Some(s)),
        "prefix" => s.starts_with(arg.as_str().expect("string")),
        "regex" => regex(arg).is_match(s),
        other => panic!("unknown string matcher {other}"),
    }
}

/// "Equality never converts between types; numbers are equal by value."
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

enum Holds {
    Yes,
    No,
    /// A regex or comparison met a value it cannot test.
    CannotTell,
}

fn value_holds(m: &Value, v: Option<&Value>) -> Holds {
    let present = !matches!(v, None | Some(Value::Null));
    let value = v.unwrap_or(&Value::Null);
    let yes = |b: bool| if b { Holds::Yes } else { Holds::No };
    let (op, arg) = operator(m);
    let number = |holds: fn(f64, f64) -> bool| match value {
        Value::Number(n) => yes(holds(n.as_f64().expect("f64"), arg.as_f64().expect("f64"))),
        _ => Holds::CannotTell,
    };
    // "An exact matcher meeting a present value of a type none of its
    // literals has cannot tell" (a deny rule fires on it).
    let exact = |literals: &[Value]| {
        if literals.iter().any(|o| equal(value, o)) {
            Holds::Yes
        } else if present
            && literals.iter().any(|l| !l.is_null())
            && !literals
                .iter()
                .any(|l| !l.is_null() && std::mem::discriminant(l) == std::mem::discriminant(value))
        {
            Holds::CannotTell
        } else {
            Holds::No
        }
    };
    match op {
        "equals" => exact(std::slice::from_ref(arg)),
        "in" => exact(arg.as_array().expect("list")),
        "exists" => yes(present == arg.as_bool().expect("bool")),
        "regex" => match value {
            Value::String(s) if present => yes(regex(arg).is_match(s)),
            _ => Holds::CannotTell,
        },
        "gt" => number(|x, n| x > n),
        "gte" => number(|x, n| x >= n),
        "lt" => number(|x, n| x < n),
        "lte" => number(|x, n| x <= n),
        other => panic!("unknown value matcher {other}"),
    }
}

/// `Some(fail_closed)` when the rule matches: whether a deny, hold or
/// escalate rule matched only because a matcher could not tell.
fn rule_matches(rule: &Value, agent: &str, action: &str, ctx: &Map<String, Value>) -> Option<bool> {
    let m = &rule["match"];
    if m.get("agent").is_some_and(|a| !str_holds(a, agent)) {
        return None;
    }
    if m.get("action").is_some_and(|a| !str_holds(a, action)) {
        return None;
    }
    // "Hold and escalate rules match with the deny semantics."
    let deny = rule["effect"] != "allow";
    let mut fail_closed = false;
    if let Some(context) = m.get("context").and_then(Value::as_object) {
        for (key, matcher) in context {
            match value_holds(matcher, ctx.get(key)) {
                Holds::Yes => {}
                Holds::No => return None,
                Holds::CannotTell if deny => fail_closed = true,
                Holds::CannotTell => return None,
            }
        }
    }
    Some(fail_closed)
}

/// "present and non-empty (not absent, "", [] or {})".
fn required_present(rule: &Value, ctx: &Map<String, Value>) -> bool {
    let Some(keys) = rule.get("require").and_then(Value::as_array) else {
        return true;
    };
    keys.iter()
        .all(|k| match ctx.get(k.as_str().expect("key")) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Object(o)) => !o.is_empty(),
            Some(_) => true,
        })
}

#[derive(Debug, PartialEq)]
struct Expected {
    effect: Effect,
    policy_id: Option<String>,
    rule_id: Option<String>,
    fail_closed: bool,
    code: Option<String>,
}

fn reference(docs: &[Value], agent: &str, action: &str, ctx: &Map<String, Value>) -> Expected {
    let rules = |p: &Value| p["rules"].as_array().expect("rules").clone();
    let id = |v: &Value, field: &str| Some(v[field].as_str().expect("id").to_owned());
    // 1.-3. Any matching deny, else escalate, else hold: the first such rule
    // in load and file order, with its code or the effect's default.
    for (name, effect, default_code) in [
        ("deny", Effect::Deny, "DENY_POLICY"),
        ("escalate", Effect::Escalate, "ESCALATE_REQUIRED"),
        ("hold", Effect::Hold, "ACTOR_HELD"),
    ] {
        for p in docs {
            for r in rules(p) {
                if r["effect"] != name {
                    continue;
                }
                if let Some(fail_closed) = rule_matches(&r, agent, action, ctx) {
                    return Expected {
                        effect,
                        policy_id: id(p, "policy_id"),
                        rule_id: id(&r, "id"),
                        fail_closed,
                        code: Some(r["code"].as_str().unwrap_or(default_code).to_owned()),
                    };
                }
            }
        }
    }
    // 4. Else the first matching allow whose require keys are present.
    let mut lacked_context = false;
    for p in docs {
        for r in rules(p) {
            if r["effect"] != "allow" || rule_matches(&r, agent, action, ctx).is_none() {
                continue;
            }
            if !required_present(&r, ctx) {
                lacked_context = true;
                continue;
            }
            return Expected {
                effect: Effect::Allow,
                policy_id: id(p, "policy_id"),
                rule_id: id(&r, "id"),
                fail_closed: false,
                code: None,
            };
        }
    }
    // 5. Defaults: allow only if every policy says so.
    let all_allow = !docs.is_empty() && docs.iter().all(|p| p["default"] == "allow");
    Expected {
        effect: if all_allow {
            Effect::Allow
        } else {
            Effect::Deny
        },
        policy_id: match docs {
            [only] => id(only, "policy_id"),
            _ => None,
        },
        rule_id: None,
        fail_closed: false,
        code: match (all_allow, lacked_context) {
            (true, _) => None,
            (false, true) => Some("MISSING_REQUIRED_CONTEXT".to_owned()),
            (false, false) => Some("NO_TEMPLATE_MATCH".to_owned()),
        },
    }
}

// ---------------------------------------------------------------------------

fn compile(docs: &[Value]) -> PolicySet {
    common::policy_set(docs)
}

/// The same policies in another order, each with its rules reversed.
fn reordered(docs: &[Value], order: &[usize]) -> Vec<Value> {
    order
        .iter()
        .map(|&i| {
            let mut doc = docs[i].clone();
            if let Some(rules) = doc["rules"].as_array_mut() {
                rules.reverse();
            }
            doc
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_evaluator_agrees_with_the_reference(
        docs in policies(),
        requests in vec(request(), 1..8),
        order in Just(vec![0_usize, 1, 2]).prop_shuffle(),
    ) {
        let set = compile(&docs);
        let order: Vec<usize> = order.into_iter().filter(|&i| i < docs.len()).collect();
        let shuffled_docs = reordered(&docs, &order);
        let shuffled = compile(&shuffled_docs);
        for (agent, action, ctx) in &requests {
            let want = reference(&docs, agent, action, ctx);
            let got = set.evaluate(agent, action, ctx);
            let verb = match got.effect {
                Effect::Deny => "denied",
                Effect::Hold => "held",
                Effect::Escalate => "escalated",
                _ => "allowed",
            };
            let plain = format!(
                "{verb} by policy {} rule {}",
                got.policy_id.as_deref().unwrap_or("-"),
                got.rule_id.as_deref().unwrap_or("-"),
            );
            let fail_closed = !got.effect.issues_permit()
                && got.rule_id.is_some()
                && got.reason != plain;
            let got_summary = Expected {
                effect: got.effect,
                policy_id: got.policy_id.clone(),
                rule_id: got.rule_id.clone(),
                fail_closed,
                code: got.code.clone(),
            };
            prop_assert_eq!(
                &got_summary, &want,
                "agent {} action {} context {} reason {:?}\npolicies {}",
                agent, action, Value::Object(ctx.clone()), got.reason, Value::Array(docs.clone())
            );
            if fail_closed {
                prop_assert!(
                    got.reason.contains("could not be ruled out")
                        || got.reason.contains(" was expected"),
                    "{}", got.reason
                );
            }
            let again = shuffled.evaluate(agent, action, ctx);
            prop_assert_eq!(
                again.effect, got.effect,
                "reordering changed the effect: {} vs {}", again.reason, got.reason
            );
            prop_assert_eq!(
                reference(&shuffled_docs, agent, action, ctx).rule_id,
                again.rule_id,
                "reordered: agent {} action {} context {}", agent, action, Value::Object(ctx.clone())
            );
        }
    }
}
