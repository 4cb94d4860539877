//! Warnings about a policy set that loads but leaves a gap: an allow rule
//! that can apply without a context key a deny, hold or escalate rule on the
//! same action relies on (see the module docs of [`policy`](super), "Lint
//! warnings"). Hold and escalate rules match like deny rules, so an allow
//! rule leaves the same gaps in them; "deny rule" below stands for all
//! three.

use std::fmt;

use serde_json::Value;

use super::matcher::{scalar_eq, Rule, StrMatcher, ValueMatcher};
use super::{Effect, PolicySet};

/// An allow rule that lacks a bound a deny (or hold, or escalate) rule
/// relies on. Warnings do not stop a policy set from loading or serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintWarning {
    /// The allow rule's policy.
    pub policy_id: String,
    /// JSON path of the allow rule in its policy, e.g. `$.rules[0]`.
    pub path: String,
    /// The context key the allow rule leaves unbounded.
    pub key: String,
    /// The deny (or hold, or escalate) rule's policy.
    pub deny_policy_id: String,
    /// JSON path of the deny (or hold, or escalate) rule's matcher on
    /// [`key`](Self::key), e.g. `$.rules[1].match.context.amount_usd`.
    pub deny_path: String,
    /// The sentence `lint` prints: both rules, the key, what happens, the fix.
    pub message: String,
}

impl fmt::Display for LintWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.policy_id, self.path, self.message)
    }
}

impl PolicySet {
    /// Every allow rule that can apply to a request a deny, hold or
    /// escalate rule also applies to, while leaving a key that rule relies
    /// on unbounded (neither required nor matched). One warning per allow
    /// rule, refusing rule and key, in load order.
    pub fn warnings(&self) -> Vec<LintWarning> {
        let rules = || {
            self.policies.iter().flat_map(|p| {
                p.rules
                    .iter()
                    .enumerate()
                    .map(move |(i, r)| (p.id.as_str(), i, r))
            })
        };
        let mut out = Vec::new();
        for (allow_policy, a, allow) in rules().filter(|(_, _, r)| r.effect == Effect::Allow) {
            for (deny_policy, d, deny) in rules().filter(|(_, _, r)| r.effect != Effect::Allow) {
                if !may_meet(allow, deny) {
                    continue;
                }
                for (key, matcher) in &deny.context {
                    if !relies_on(matcher) || bounds(allow, key) {
                        continue;
                    }
                    let deny_path = format!("$.rules[{d}].match.context.{key}");
                    out.push(LintWarning {
                        policy_id: allow_policy.to_owned(),
                        path: format!("$.rules[{a}]"),
                        key: key.clone(),
                        deny_policy_id: deny_policy.to_owned(),
                        message: message(allow, deny, deny_policy, &deny_path, key, matcher),
                        deny_path,
                    });
                }
            }
        }
        out
    }
}

fn message(
    allow: &Rule,
    deny: &Rule,
    deny_policy: &str,
    deny_path: &str,
    key: &str,
    matcher: &ValueMatcher,
) -> String {
    let (a, d) = (&allow.id, &deny.id);
    let (effect, done) = (deny.effect.as_str(), deny.effect.past_tense());
    let fails_closed = |kind: &str| {
        format!(
            "a request whose {key} is missing or not a {kind} is {done} only because \
             {effect} rules fail closed"
        )
    };
    let (what_happens, bound) = match matcher {
        ValueMatcher::Compare(op, n) => (
            fails_closed("number"),
            Some(ValueMatcher::Compare(op.negated(), *n).as_written()),
        ),
        ValueMatcher::Regex(_) => (fails_closed("string"), None),
        _ => (
            format!("a request without {key} is not {done} by {d} and can be allowed by {a}"),
            None,
        ),
    };
    let or = match bound {
        Some(b) => format!("or a bound such as {b} on {key}"),
        None => format!("or a matcher on {key}"),
    };
    format!(
        "allow rule {a} has no bound on context {key}, which {effect} rule {d} \
         (policy {deny_policy} {deny_path}) relies on; {what_happens}; \
         fix: add \"require\": [\"{key}\"] to {a}, {or}"
    )
}

/// Whether a deny matcher stops firing when its key is left out: the exact
/// matchers (absent is not a listed value), and the comparisons, which fire
/// on an absent key only by the fail-closed rule. `exists` is a condition
/// on presence itself: leaving the key out is what it asks or forbids.
fn relies_on(m: &ValueMatcher) -> bool {
    match m {
        ValueMatcher::Exists(_) => false,
        other => !matches_absent(other),
    }
}

/// Whether an allow rule guarantees `key` is present when it allows.
fn bounds(allow: &Rule, key: &str) -> bool {
    allow.require.iter().any(|k| k == key)
        || allow
            .context
            .iter()
            .any(|(k, m)| k == key && !matches_absent(m))
}

/// Whether a matcher, in an allow rule, matches an absent key.
fn matches_absent(m: &ValueMatcher) -> bool {
    match m {
        ValueMatcher::Exists(want) => !want,
        ValueMatcher::Equals(v) => v.is_null(),
        ValueMatcher::In(options) => options.iter().any(Value::is_null),
        _ => false,
    }
}

/// Whether some request might match both rules. Conservative (a false
/// "yes" costs a spurious warning, a false "no" a missed one): agents and
/// actions are compared exactly where the matchers allow it, a regex
/// against anything but literals is assumed to overlap, and context keys
/// only rule a pair out when both list exact values with none in common.
fn may_meet(allow: &Rule, deny: &Rule) -> bool {
    may_overlap(allow.agent.as_ref(), deny.agent.as_ref())
        && may_overlap(allow.action.as_ref(), deny.action.as_ref())
        && !allow.context.iter().any(|(key, a)| {
            deny.context
                .iter()
                .any(|(k, d)| k == key && exact_disjoint(a, d))
        })
}

fn may_overlap(a: Option<&StrMatcher>, b: Option<&StrMatcher>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return true;
    };
    match (literals(a), literals(b)) {
        (Some(x), Some(y)) => x.iter().any(|s| y.contains(s)),
        (Some(lits), None) => lits.iter().any(|s| b.matches(s)),
        (None, Some(lits)) => lits.iter().any(|s| a.matches(s)),
        (None, None) => match (a, b) {
            (StrMatcher::Prefix(p), StrMatcher::Prefix(q)) => {
                p.starts_with(q.as_str()) || q.starts_with(p.as_str())
            }
            _ => true,
        },
    }
}

fn literals(m: &StrMatcher) -> Option<Vec<&str>> {
    match m {
        StrMatcher::Equals(s) => Some(vec![s.as_str()]),
        StrMatcher::In(set) => Some(set.iter().map(String::as_str).collect()),
        StrMatcher::Prefix(_) | StrMatcher::Regex(_) => None,
    }
}

/// The values an exact matcher lists.
fn exact_values(m: &ValueMatcher) -> Option<&[Value]> {
    match m {
        ValueMatcher::Equals(v) => Some(std::slice::from_ref(v)),
        ValueMatcher::In(options) => Some(options),
        _ => None,
    }
}

fn exact_disjoint(a: &ValueMatcher, b: &ValueMatcher) -> bool {
    match (exact_values(a), exact_values(b)) {
        (Some(x), Some(y)) => !x.iter().any(|v| y.iter().any(|w| scalar_eq(v, w))),
        _ => false,
    }
}
