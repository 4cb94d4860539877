//! Policy loading (validation + compilation) and evaluation, with the four
//! effects (allow, deny, hold, escalate) and rule codes.
//!
//! Input: `policy JSON NUL agent NUL action NUL context JSON` (a missing or
//! non-object context is `{}`).
//!
//! Invariants (a violation panics):
//! - `Policy::from_value` never panics; a refusal lists at least one problem.
//!   A document with an allow rule carrying `code`, or a rule whose `code`
//!   is not UPPER_SNAKE (`^[A-Z][A-Z0-9_]{0,63}$`), is refused.
//! - With no policy compiled, every request is denied (`NO_TEMPLATE_MATCH`).
//! - A compiled policy: evaluation never panics, is deterministic, names the
//!   policy and gives a reason; every decision but allow carries a code
//!   (UPPER_SNAKE), an allow none; a decision by a rule names the rule and
//!   a default names none; adding an empty policy whose default is allow
//!   changes no decision.
//! - Combination, deny > escalate > hold > allow > default: next to a
//!   policy whose rule matches the action, the decision is
//!   - deny rule: always deny;
//!   - escalate rule: deny if a deny rule of the fuzzed policy matched,
//!     else escalate;
//!   - hold rule: deny or escalate if the fuzzed policy's own rule of that
//!     effect matched, else hold;
//!   - allow rule: the fuzzed policy's refusal by a rule if it had one,
//!     else allow.
//!
//!   The added rule decides whenever its effect wins and the fuzzed policy
//!   had no deciding rule of that effect, and its own `code` (or the
//!   effect's default code) is then the decision's.
#![no_main]

use atlasent_fuzz::split_parts;
use atlasent_server::policy::{Decision, Effect};
use atlasent_server::{Policy, PolicySet};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

/// `^[A-Z][A-Z0-9_]{0,63}$`, written out.
fn is_code(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=64).contains(&b.len())
        && b[0].is_ascii_uppercase()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// Whether the document has a rule `Policy::from_value` must refuse for
/// its `code`: on an allow rule, or not UPPER_SNAKE.
fn has_bad_code(doc: &Value) -> bool {
    let Some(rules) = doc.get("rules").and_then(Value::as_array) else {
        return false;
    };
    rules.iter().filter_map(Value::as_object).any(|rule| {
        rule.get("code").is_some_and(|code| {
            rule.get("effect") == Some(&Value::from("allow")) || !code.as_str().is_some_and(is_code)
        })
    })
}

/// The code rules every decision follows.
fn check_code(d: &Decision, what: &str) {
    match (d.effect, &d.code) {
        (Effect::Allow, None) => {}
        (Effect::Allow, Some(code)) => panic!("{what}: an allow with the code {code:?}"),
        (effect, None) => panic!("{what}: a {} without a code", effect.as_str()),
        (_, Some(code)) => assert!(
            is_code(code),
            "{what}: the code {code:?} is not UPPER_SNAKE"
        ),
    }
    if d.rule_id.is_none() {
        assert!(
            matches!(d.effect, Effect::Allow | Effect::Deny),
            "{what}: a {} by default",
            d.effect.as_str()
        );
        if d.effect == Effect::Deny {
            assert!(
                matches!(
                    d.code.as_deref(),
                    Some("NO_TEMPLATE_MATCH" | "MISSING_REQUIRED_CONTEXT")
                ),
                "{what}: a deny by default with the code {:?}",
                d.code
            );
        }
    }
}

/// A policy of one rule of `effect` matching `action` (every agent and
/// context), with `code` when given.
fn one_rule(id: &str, effect: &str, action: &str, code: Option<&str>) -> Option<Policy> {
    let mut rule =
        json!({ "id": format!("{effect}-it"), "effect": effect, "match": { "action": action } });
    if let Some(code) = code {
        rule["code"] = Value::from(code);
    }
    Policy::from_value(&json!({
        "policy_id": id,
        "version": "1.0.0",
        "default": "allow",
        "rules": [rule],
    }))
    .ok()
}

fuzz_target!(|data: &[u8]| {
    let parts = split_parts(data, 0, 4);
    let agent = String::from_utf8_lossy(parts[1]);
    let action = String::from_utf8_lossy(parts[2]);
    let context: Map<String, Value> = serde_json::from_slice(parts[3]).unwrap_or_default();

    let nothing = PolicySet::new(Vec::new()).expect("an empty set");
    let d = nothing.evaluate(&agent, &action, &context);
    assert_eq!(d.effect, Effect::Deny, "allowed with no policy loaded");
    assert_eq!(d.code.as_deref(), Some("NO_TEMPLATE_MATCH"));

    let Ok(doc) = serde_json::from_slice::<Value>(parts[0]) else {
        return;
    };
    let policy = match Policy::from_value(&doc) {
        Ok(p) => p,
        Err(errors) => {
            assert!(!errors.is_empty(), "a policy was refused with no reason");
            return;
        }
    };
    assert!(
        !has_bad_code(&doc),
        "a policy with a code on an allow rule, or a code that is not UPPER_SNAKE, compiled"
    );
    let id = policy.id().to_owned();
    let set = PolicySet::new(vec![policy]).expect("one policy always indexes");
    let decision = set.evaluate(&agent, &action, &context);
    assert_eq!(
        set.evaluate(&agent, &action, &context),
        decision,
        "evaluation is not deterministic"
    );
    assert_eq!(decision.policy_id.as_deref(), Some(id.as_str()));
    assert!(!decision.reason.is_empty(), "a decision without a reason");
    check_code(&decision, "the fuzzed policy");
    // The fuzzed policy's own refusal by a rule, if any.
    let refused_by_rule =
        (decision.rule_id.is_some() && decision.effect != Effect::Allow).then_some(decision.effect);
    // The effect of the fuzzed policy's deciding rule, if a rule decided.
    let own_rule = decision.rule_id.is_some().then_some(decision.effect);

    // The same document again, next to other policies.
    let again = || Policy::from_value(&doc).expect("compiled once, compiles again");
    if let (Some(neutral), false) = (
        Policy::from_value(&json!({
            "policy_id": "zz-fuzz-neutral",
            "version": "1.0.0",
            "default": "allow",
            "rules": [],
        }))
        .ok(),
        id == "zz-fuzz-neutral",
    ) {
        let both = PolicySet::new(vec![again(), neutral]).expect("distinct ids");
        assert_eq!(
            both.evaluate(&agent, &action, &context).effect,
            decision.effect,
            "an empty allow-by-default policy changed a decision"
        );
    }

    // One more policy whose rule of each effect matches the action, with
    // and without a code of its own.
    for (effect, code) in [
        (Effect::Deny, None),
        (Effect::Deny, Some("ZZ_FUZZ_DENY")),
        (Effect::Escalate, None),
        (Effect::Escalate, Some("ZZ_FUZZ_ESCALATE")),
        (Effect::Hold, None),
        (Effect::Hold, Some("ZZ_FUZZ_HOLD")),
        (Effect::Allow, None),
    ] {
        let added_id = format!("zz-fuzz-{}", effect.as_str());
        if added_id == id {
            continue;
        }
        let Some(added) = one_rule(&added_id, effect.as_str(), &action, code) else {
            continue;
        };
        let both = PolicySet::new(vec![again(), added]).expect("distinct ids");
        let d = both.evaluate(&agent, &action, &context);
        let what = format!("next to a matching {} rule", effect.as_str());
        check_code(&d, &what);
        // The rank of an effect: deny > escalate > hold > allow.
        let rank = |e: Effect| match e {
            Effect::Deny => 3,
            Effect::Escalate => 2,
            Effect::Hold => 1,
            Effect::Allow => 0,
        };
        let want = match refused_by_rule {
            Some(own) if rank(own) >= rank(effect) => own,
            _ => effect,
        };
        assert_eq!(
            d.effect,
            want,
            "{what}: {} (the fuzzed policy alone: {} by {:?})",
            d.reason,
            decision.effect.as_str(),
            decision.rule_id
        );
        let added_decides = d.policy_id.as_deref() == Some(added_id.as_str());
        if want == effect && own_rule != Some(effect) {
            assert!(
                added_decides,
                "{what}: the added rule did not decide: {}",
                d.reason
            );
        }
        if added_decides && effect != Effect::Allow {
            let default = match effect {
                Effect::Deny => "DENY_POLICY",
                Effect::Escalate => "ESCALATE_REQUIRED",
                _ => "ACTOR_HELD",
            };
            assert_eq!(
                d.code.as_deref(),
                Some(code.unwrap_or(default)),
                "{what}: the deciding rule's code"
            );
        }
    }
});
