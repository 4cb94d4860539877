//! The loaded policies indexed by action, and evaluation: the first deny
//! decides, then escalate, hold, allow, and the defaults.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::matcher::StrMatcher;
use super::{Effect, Policy, PolicyError, MISSING_REQUIRED_CONTEXT, NO_TEMPLATE_MATCH};

/// Why a decision was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allow, deny, hold or escalate.
    pub effect: Effect,
    /// The deciding policy: the rule's, or for a default the only policy
    /// loaded (`None` when none or several are loaded).
    pub policy_id: Option<String>,
    /// The deciding rule (`None` for a default).
    pub rule_id: Option<String>,
    /// A sentence naming the deciding policy and rule.
    pub reason: String,
    /// Why the request was refused, machine-readable (e.g. `DENY_POLICY`):
    /// the deciding rule's `code` or the default of the module docs'
    /// "Codes". `Some` for every effect but allow, `None` for allow.
    pub code: Option<String>,
}

/// The loaded policies, indexed for evaluation.
#[derive(Debug, Default)]
pub struct PolicySet {
    pub(super) policies: Vec<Policy>,
    /// Rules whose action matcher is exact (`"x"`, `equals`, `in`), by action;
    /// each list sorted by (policy, rule).
    by_action: HashMap<String, Vec<(usize, usize)>>,
    /// Rules that must be checked for every action, in (policy, rule) order.
    any_action: Vec<(usize, usize)>,
}

impl PolicySet {
    /// Index a set of compiled policies.
    pub fn new(policies: Vec<Policy>) -> Result<PolicySet, PolicyError> {
        let mut seen = HashSet::new();
        let mut by_action: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        let mut any_action = Vec::new();
        for (p, policy) in policies.iter().enumerate() {
            if !seen.insert(policy.id.clone()) {
                return Err(PolicyError::Duplicate(policy.id.clone()));
            }
            for (r, rule) in policy.rules.iter().enumerate() {
                match &rule.action {
                    Some(StrMatcher::Equals(a)) => {
                        by_action.entry(a.clone()).or_default().push((p, r))
                    }
                    Some(StrMatcher::In(set)) => {
                        for a in set {
                            by_action.entry(a.clone()).or_default().push((p, r));
                        }
                    }
                    _ => any_action.push((p, r)),
                }
            }
        }
        for list in by_action.values_mut() {
            list.sort_unstable();
        }
        Ok(PolicySet {
            policies,
            by_action,
            any_action,
        })
    }

    /// The policies, in load order.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Decide `(agent, action, context)`.
    pub fn evaluate(&self, agent: &str, action: &str, context: &Map<String, Value>) -> Decision {
        let indexed = self.by_action.get(action).map(Vec::as_slice).unwrap_or(&[]);
        let candidates = merge_sorted(indexed, &self.any_action);

        // The first matching rule of each effect below deny (a deny decides
        // at once), with the fail-closed clauses of the refusing ones.
        let mut escalate: Option<(usize, usize, Vec<String>)> = None;
        let mut hold: Option<(usize, usize, Vec<String>)> = None;
        let mut allow: Option<(usize, usize)> = None;
        let mut unmet: Vec<String> = Vec::new();
        for (p, r) in candidates {
            let rule = &self.policies[p].rules[r];
            let Some(unknowns) = rule.check(agent, action, context) else {
                continue;
            };
            match rule.effect {
                Effect::Deny => return self.decided_by(p, r, &unknowns),
                Effect::Escalate => {
                    escalate.get_or_insert((p, r, unknowns));
                }
                Effect::Hold => {
                    hold.get_or_insert((p, r, unknowns));
                }
                Effect::Allow => {
                    let missing = rule.missing(context);
                    if missing.is_empty() {
                        allow.get_or_insert((p, r));
                    } else {
                        unmet.push(format!(
                            "rule {} of policy {} requires context {}",
                            rule.id,
                            self.policies[p].id,
                            missing.join(", ")
                        ));
                    }
                }
            }
        }
        if let Some((p, r, unknowns)) = escalate.or(hold) {
            return self.decided_by(p, r, &unknowns);
        }
        if let Some((p, r)) = allow {
            return self.decided_by(p, r, &[]);
        }
        let effect = if self.defaults_allow() {
            Effect::Allow
        } else {
            Effect::Deny
        };
        let policy_id = match self.policies.as_slice() {
            [only] => Some(only.id.clone()),
            _ => None,
        };
        let mut reason = match (&policy_id, effect) {
            (_, Effect::Allow) => "no rule matched; allowed by default".to_owned(),
            (Some(id), _) => {
                format!("no rule matched; denied by default of policy {id}")
            }
            (None, _) if self.policies.is_empty() => {
                "no policy is loaded; denied by default".to_owned()
            }
            (None, _) => "no rule matched; denied by default".to_owned(),
        };
        let code = match effect {
            Effect::Allow => None,
            _ if unmet.is_empty() => Some(NO_TEMPLATE_MATCH.to_owned()),
            _ => Some(MISSING_REQUIRED_CONTEXT.to_owned()),
        };
        if !unmet.is_empty() {
            reason.push_str(" (");
            reason.push_str(&unmet.join("; "));
            reason.push(')');
        }
        Decision {
            effect,
            policy_id,
            rule_id: None,
            reason,
            code,
        }
    }

    /// Whether a request no rule decides is allowed: only when every
    /// policy's `default` is `allow` (and one is loaded).
    pub(super) fn defaults_allow(&self) -> bool {
        !self.policies.is_empty() && self.policies.iter().all(|p| p.default == Effect::Allow)
    }

    /// The decision of rule `r` of policy `p`; `unknowns` are the clauses
    /// of a refusing rule that fired by the fail-closed type rules.
    fn decided_by(&self, p: usize, r: usize, unknowns: &[String]) -> Decision {
        let (policy, rule) = (&self.policies[p], &self.policies[p].rules[r]);
        let mut reason = format!(
            "{} by policy {} rule {}",
            rule.effect.past_tense(),
            policy.id,
            rule.id
        );
        if !unknowns.is_empty() {
            reason.push_str(": ");
            reason.push_str(&unknowns.join("; "));
        }
        Decision {
            effect: rule.effect,
            policy_id: Some(policy.id.clone()),
            rule_id: Some(rule.id.clone()),
            reason,
            code: rule
                .effect
                .default_code()
                .map(|default| rule.code.as_deref().unwrap_or(default).to_owned()),
        }
    }
}

/// The rules of two lists, each sorted by (policy, rule), in that order:
/// the candidates of a request without collecting or sorting them (no
/// allocation per evaluation).
fn merge_sorted<'a>(
    a: &'a [(usize, usize)],
    b: &'a [(usize, usize)],
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x <= y => {
                i += 1;
                *x
            }
            (_, Some(y)) => {
                j += 1;
                *y
            }
            (Some(x), None) => {
                i += 1;
                *x
            }
            (None, None) => return None,
        };
        Some(next)
    })
}

#[cfg(test)]
mod tests {
    use super::merge_sorted;

    #[test]
    fn merge_sorted_interleaves_two_sorted_lists_in_order() {
        let a = [(0, 1), (0, 4), (2, 0)];
        let b = [(0, 0), (0, 2), (1, 7), (3, 3)];
        let merged: Vec<_> = merge_sorted(&a, &b).collect();
        assert_eq!(
            merged,
            [(0, 0), (0, 1), (0, 2), (0, 4), (1, 7), (2, 0), (3, 3)]
        );
        assert_eq!(merge_sorted(&[], &b).collect::<Vec<_>>(), b);
        assert_eq!(merge_sorted(&a, &[]).collect::<Vec<_>>(), a);
        assert_eq!(merge_sorted(&[], &[]).count(), 0);
    }
}
