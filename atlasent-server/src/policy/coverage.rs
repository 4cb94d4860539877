//! Coverage: whether the policies can allow every action a program guards
//! (see the module docs of [`policy`](super), "Checking that policies cover
//! your actions"). The actions come as an
//! [`ActionManifest`]: the registry of
//! `#[atlasent::action]` types and literal `#[atlasent::protect]` actions,
//! or the JSON a program wrote of it.

use std::collections::HashSet;
use std::fmt;

use atlasent::actions::{ActionManifest, ManifestAction};

use super::matcher::Test;
use super::{Effect, PolicySet};

/// What is wrong with one action of a manifest, as
/// [`PolicySet::coverage`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoverageProblemKind {
    /// No allow rule of any policy can ever allow the action, and the
    /// defaults do not either: every request for it is refused. An allow
    /// rule counts only if its `action` matcher matches the action's name
    /// (the `agent` matcher is not consulted: agents are not known before
    /// run time) and, for a typed context whose keys are known, the context
    /// type has every key the rule requires or matches with a matcher that
    /// does not hold on an absent key.
    NeverAllowed,
    /// The action's typed context lacks a key that an allow rule matching
    /// the action `require`s: that rule can never allow it.
    MissingRequiredKey,
    /// The action's typed context lacks a key that an allow rule matching
    /// the action matches with a matcher that does not hold on an absent
    /// key (all but `{"exists": false}` and a `null` literal): that rule
    /// can never allow it.
    MissingMatchedKey,
    /// The keys of the action's typed context could not be read (the type
    /// does not implement `Default`, does not serialize as a struct — a map,
    /// `#[serde(flatten)]` — or panicked), so they cannot be checked.
    UnknownContextKeys,
}

/// A rule named by a [`CoverageProblem`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// The rule's policy.
    pub policy_id: String,
    /// The rule's `id`.
    pub rule_id: String,
    /// The rule's effect.
    pub effect: Effect,
}

impl fmt::Display for RuleRef {
    /// `deny rule deny_wires of policy wires`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rule {} of policy {}",
            self.effect.as_str(),
            self.rule_id,
            self.policy_id
        )
    }
}

/// One action of a manifest that the policies do not cover, or whose
/// context cannot be checked against them: what
/// [`PolicySet::coverage`] returns, and `atlasent-server lint --actions`
/// and [`assert_policies_cover`](crate::testing::assert_policies_cover)
/// print one a line.
///
/// Its [`Display`](fmt::Display) is [`message`](Self::message): one line
/// naming the action, where it was declared, the context type, the key and
/// the rules involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageProblem {
    /// What is wrong.
    pub kind: CoverageProblemKind,
    /// The action string.
    pub action: String,
    /// The action's context type, for an action declared with `context = T`.
    pub context_type: Option<String>,
    /// What declared it: the action type's path, or the guarded function's
    /// (`fn path`), as the manifest says.
    pub declared_by: String,
    /// Where: `file:line` of the declaration, as the manifest says.
    pub source: String,
    /// The context key the type lacks, for
    /// [`MissingRequiredKey`](CoverageProblemKind::MissingRequiredKey) and
    /// [`MissingMatchedKey`](CoverageProblemKind::MissingMatchedKey).
    pub key: Option<String>,
    /// The rules involved: for a missing key, the allow rule that needs it;
    /// for [`NeverAllowed`](CoverageProblemKind::NeverAllowed), each allow
    /// rule that matches the action's name but can never apply to its
    /// context, then each deny, hold or escalate rule that matches the
    /// action's name. Policies in load order, rules in document order.
    pub rules: Vec<RuleRef>,
    /// The sentence `lint` prints: everything above, and the fix.
    pub message: String,
}

impl fmt::Display for CoverageProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CoverageProblem {}

impl PolicySet {
    /// Every way these policies fail to cover the actions of `manifest`, in
    /// manifest order (one action's problems together): an action no allow
    /// rule can ever allow, a typed context that lacks a key an allow rule
    /// requires or matches on, a typed context whose keys cannot be read.
    /// Empty when every action can be allowed by some rule (or, when every
    /// policy's `default` is `allow`, by default) and every typed context
    /// has the keys the rules need.
    ///
    /// The check reads the matchers, not requests: an allow rule that
    /// matches the action's name is assumed to be able to apply, unless a
    /// key it needs is missing from the context type. Deny, hold and
    /// escalate rules are listed when nothing else matches, never counted
    /// against an allow rule.
    pub fn coverage(&self, manifest: &ActionManifest) -> Vec<CoverageProblem> {
        let default_allows = self.defaults_allow();
        let mut out = Vec::new();
        for action in &manifest.actions {
            self.cover(action, default_allows, &mut out);
        }
        out
    }

    fn cover(&self, action: &ManifestAction, default_allows: bool, out: &mut Vec<CoverageProblem>) {
        let context_type = action.context.as_ref().map(|c| c.type_name.as_str());
        let keys: Option<HashSet<&str>> = action
            .context
            .as_ref()
            .and_then(|c| c.keys.as_ref())
            .map(|keys| keys.iter().map(String::as_str).collect());
        let problem =
            |kind, key: Option<&str>, rules: Vec<RuleRef>, message: String| CoverageProblem {
                kind,
                action: action.name.clone(),
                declared_by: action.declared_by.clone(),
                source: action.source.clone(),
                context_type: context_type.map(str::to_owned),
                key: key.map(str::to_owned),
                rules,
                message,
            };
        let what = format!(
            "action {} ({}, {})",
            action.name, action.declared_by, action.source
        );

        let mut key_problems = Vec::new();
        if let (Some(ty), None) = (context_type, &keys) {
            key_problems.push(problem(
                CoverageProblemKind::UnknownContextKeys,
                None,
                Vec::new(),
                format!(
                    "{what}: the keys of context type {ty} cannot be read, so they cannot be \
                     checked against the policies; fix: derive Default for {ty} (its keys are \
                     those {ty}::default() serializes) and serialize it as a struct (no \
                     #[serde(flatten)])"
                ),
            ));
        }

        let mut live = false;
        let mut any_allow = false;
        let mut dead: Vec<(RuleRef, Vec<String>)> = Vec::new();
        let mut refusing: Vec<RuleRef> = Vec::new();
        for policy in &self.policies {
            for rule in &policy.rules {
                if !rule.action.as_ref().is_none_or(|m| m.matches(&action.name)) {
                    continue;
                }
                let rule_ref = RuleRef {
                    policy_id: policy.id.clone(),
                    rule_id: rule.id.clone(),
                    effect: rule.effect,
                };
                if rule.effect != Effect::Allow {
                    refusing.push(rule_ref);
                    continue;
                }
                any_allow = true;
                let (Some(keys), Some(ty)) = (&keys, context_type) else {
                    live = true;
                    continue;
                };
                // The keys the rule needs: those it matches with a matcher
                // that does not hold on an absent key, then those it
                // requires; each with how the rule needs it and the fix.
                let matched = rule.context.iter().filter_map(|(key, matcher)| {
                    if matcher.test(None) == Test::Match {
                        return None;
                    }
                    let m = matcher.as_written();
                    Some((
                        key,
                        CoverageProblemKind::MissingMatchedKey,
                        format!("matches key {key} with {m}"),
                        format!("matches with {m} (a matcher that does not hold on an absent key)"),
                        "change the rule",
                    ))
                });
                let required = rule.require.iter().map(|key| {
                    (
                        key,
                        CoverageProblemKind::MissingRequiredKey,
                        format!("requires key {key}"),
                        "requires".to_owned(),
                        "remove it from the rule's \"require\"",
                    )
                });
                let mut why = Vec::new();
                for (key, kind, short, needs, fix) in matched.chain(required) {
                    if keys.contains(key.as_str()) {
                        continue;
                    }
                    why.push(short);
                    key_problems.push(problem(
                        kind,
                        Some(key),
                        vec![rule_ref.clone()],
                        format!(
                            "{what}: context type {ty} lacks key {key}, which {rule_ref} {needs}, \
                             so that rule can never allow it; fix: add {key} to {ty}, or {fix}"
                        ),
                    ));
                }
                if why.is_empty() {
                    live = true;
                } else {
                    dead.push((rule_ref, why));
                }
            }
        }

        if !live && !default_allows {
            let mut reasons = Vec::new();
            if self.policies.is_empty() {
                reasons.push("no policy is loaded".to_owned());
            } else if !any_allow {
                let ids: Vec<&str> = self.policies.iter().map(|p| p.id.as_str()).collect();
                reasons.push(format!(
                    "no allow rule of {} {} matches it",
                    if ids.len() == 1 { "policy" } else { "policies" },
                    ids.join(", ")
                ));
            } else {
                let ty = context_type.unwrap_or("its context type");
                let each: Vec<String> = dead
                    .iter()
                    .map(|(r, why)| format!("{r} {}", why.join(" and ")))
                    .collect();
                reasons.push(format!(
                    "every allow rule that matches it needs a key context type {ty} lacks ({})",
                    each.join("; ")
                ));
            }
            if !refusing.is_empty() {
                let names: Vec<String> = refusing.iter().map(ToString::to_string).collect();
                reasons.push(format!(
                    "only refusing rules apply to it: {}",
                    names.join(", ")
                ));
            }
            let fix = match (dead.is_empty(), context_type) {
                (false, Some(ty)) => format!(
                    "add the keys those rules need to {ty}, or an allow rule for {} that {ty} \
                     can meet",
                    action.name
                ),
                _ => format!("add an allow rule for {}, or stop guarding it", action.name),
            };
            let rules = dead.into_iter().map(|(r, _)| r).chain(refusing).collect();
            out.push(problem(
                CoverageProblemKind::NeverAllowed,
                None,
                rules,
                format!(
                    "{what} can never be allowed: {}; the default (deny) decides every request \
                     for it; fix: {fix}",
                    reasons.join("; "),
                ),
            ));
        }
        out.append(&mut key_problems);
    }
}
