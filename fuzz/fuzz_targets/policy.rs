//! Policy loading (validation + compilation) and evaluation.
//!
//! Input: `policy JSON NUL agent NUL action NUL context JSON` (a missing or
//! non-object context is `{}`).
//!
//! Invariants (a violation panics):
//! - `Policy::from_value` never panics; a refusal lists at least one problem.
//! - With no policy compiled, every request is denied.
//! - A compiled policy: evaluation never panics, is deterministic, names the
//!   policy and gives a reason; adding an empty policy whose default is
//!   allow changes no decision; adding a policy whose rule denies the action
//!   always turns the decision into a deny (deny-overrides).
#![no_main]

use atlasent_fuzz::split_parts;
use atlasent_server::policy::Effect;
use atlasent_server::{Policy, PolicySet};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

fuzz_target!(|data: &[u8]| {
    let parts = split_parts(data, 0, 4);
    let agent = String::from_utf8_lossy(parts[1]);
    let action = String::from_utf8_lossy(parts[2]);
    let context: Map<String, Value> = serde_json::from_slice(parts[3]).unwrap_or_default();

    let nothing = PolicySet::new(Vec::new()).expect("an empty set");
    assert_eq!(
        nothing.evaluate(&agent, &action, &context).effect,
        Effect::Deny,
        "allowed with no policy loaded"
    );

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

    // The same document again, next to other policies.
    let again = || Policy::from_value(&doc).expect("compiled once, compiles again");
    let neutral = Policy::from_value(&json!({
        "policy_id": "zz-fuzz-neutral",
        "version": "1.0.0",
        "default": "allow",
        "rules": [],
    }));
    if let (Ok(neutral), false) = (neutral, id == "zz-fuzz-neutral") {
        let both = PolicySet::new(vec![again(), neutral]).expect("distinct ids");
        assert_eq!(
            both.evaluate(&agent, &action, &context).effect,
            decision.effect,
            "an empty allow-by-default policy changed a decision"
        );
    }
    let deny = Policy::from_value(&json!({
        "policy_id": "zz-fuzz-deny",
        "version": "1.0.0",
        "default": "allow",
        "rules": [{ "id": "deny-it", "effect": "deny", "match": { "action": action } }],
    }));
    if let (Ok(deny), false) = (deny, id == "zz-fuzz-deny") {
        let both = PolicySet::new(vec![again(), deny]).expect("distinct ids");
        let d = both.evaluate(&agent, &action, &context);
        assert_eq!(d.effect, Effect::Deny, "a matching deny rule did not win");
    }
});
