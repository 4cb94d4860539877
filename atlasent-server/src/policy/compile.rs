//! From a policy document to a compiled [`Policy`]: the walk of the schema
//! that builds the matchers (regexes built once) and rules, asking the
//! [`Linter`] to check each value on the way.

use std::collections::HashSet;

use serde_json::Value;

use super::lint::{is_id, is_scalar, is_semver, LintErrors, Linter};
use super::matcher::{Cmp, Rule, StrMatcher, ValueMatcher};
use super::{describe, Effect, Policy};

/// The members of a policy document.
const POLICY_MEMBERS: &[&str] = &[
    "policy_id",
    "version",
    "description",
    "default",
    "rules",
    "metadata",
];
/// The members of a rule.
const RULE_MEMBERS: &[&str] = &[
    "id",
    "description",
    "effect",
    "match",
    "require",
    "code",
    "obligations",
];
/// The members of a rule's `match`.
const MATCH_MEMBERS: &[&str] = &["agent", "action", "context"];
/// The operators of an `agent` or `action` matcher object.
const STR_OPERATORS: &[&str] = &["equals", "in", "prefix", "regex"];
/// The operators of a context matcher object.
const VALUE_OPERATORS: &[&str] = &["equals", "in", "exists", "regex", "gt", "gte", "lt", "lte"];

/// Validate and compile a policy document: every problem, each with its
/// JSON path, or the policy.
pub(super) fn compile(doc: &Value) -> Result<Policy, LintErrors> {
    let mut lint = Linter::default();
    let policy = policy(&mut lint, doc);
    lint.finish(policy)
}

/// An `agent` or `action` matcher: a string, or one operator of
/// [`STR_OPERATORS`].
fn str_matcher(lint: &mut Linter, path: &str, v: &Value) -> Option<StrMatcher> {
    if let Some(s) = v.as_str() {
        return Some(StrMatcher::Equals(s.to_owned()));
    }
    let obj = lint.object(path, v, STR_OPERATORS)?;
    let (op, arg) = lint.single_operator(path, obj)?;
    let p = format!("{path}.{op}");
    match op {
        "equals" => lint
            .string(&p, arg)
            .map(|s| StrMatcher::Equals(s.to_owned())),
        "in" => lint
            .string_list(&p, arg, 1)
            .map(|l| StrMatcher::In(l.into_iter().collect())),
        "prefix" => match lint.string(&p, arg) {
            Some("") => {
                lint.error(&p, "must not be empty");
                None
            }
            s => s.map(|s| StrMatcher::Prefix(s.to_owned())),
        },
        "regex" => lint.regex(&p, arg).map(StrMatcher::Regex),
        _ => None,
    }
}

/// A context key's matcher: a scalar, or one operator of
/// [`VALUE_OPERATORS`].
fn value_matcher(lint: &mut Linter, path: &str, v: &Value) -> Option<ValueMatcher> {
    if is_scalar(v) {
        return Some(ValueMatcher::Equals(v.clone()));
    }
    let obj = lint.object(path, v, VALUE_OPERATORS)?;
    let (op, arg) = lint.single_operator(path, obj)?;
    let p = format!("{path}.{op}");
    match op {
        "equals" if is_scalar(arg) => Some(ValueMatcher::Equals(arg.clone())),
        "equals" => {
            lint.error(
                &p,
                format!(
                    "must be a string, number, boolean or null, got {}",
                    describe(arg)
                ),
            );
            None
        }
        "in" => {
            let Some(items) = arg.as_array() else {
                lint.error(&p, format!("must be an array, got {}", describe(arg)));
                return None;
            };
            if items.is_empty() {
                lint.error(&p, "must have at least 1 item(s)");
            }
            for (i, item) in items.iter().enumerate() {
                if !is_scalar(item) {
                    lint.error(
                        &format!("{p}[{i}]"),
                        format!("must be a scalar, got {}", describe(item)),
                    );
                } else if items[..i].contains(item) {
                    lint.error(&format!("{p}[{i}]"), "duplicate item");
                }
            }
            Some(ValueMatcher::In(items.clone()))
        }
        "exists" => match arg.as_bool() {
            Some(b) => Some(ValueMatcher::Exists(b)),
            None => {
                lint.error(&p, format!("must be a boolean, got {}", describe(arg)));
                None
            }
        },
        "regex" => lint.regex(&p, arg).map(ValueMatcher::Regex),
        _ => {
            // Fail closed: an operator the linter admitted but no matcher
            // knows is an error, never a rule silently dropped.
            let Some(op) = Cmp::parse(op) else {
                lint.error(&p, format!("unknown operator `{op}`"));
                return None;
            };
            let n = arg.as_f64();
            if n.is_none() {
                lint.error(&p, format!("must be a number, got {}", describe(arg)));
            }
            n.map(|n| ValueMatcher::Compare(op, n))
        }
    }
}

/// A rule of a policy; `ids` are the rule ids seen before it.
fn rule(lint: &mut Linter, path: &str, v: &Value, ids: &mut HashSet<String>) -> Option<Rule> {
    let obj = lint.record(path, v, RULE_MEMBERS, &["id", "effect", "match"])?;
    let id = obj.get("id").and_then(|v| {
        let p = format!("{path}.id");
        let s = lint.string(&p, v)?;
        if !is_id(s) {
            lint.error(&p, format!("{s:?} must match ^[a-z0-9][a-z0-9_-]*$"));
        } else if !ids.insert(s.to_owned()) {
            lint.error(&p, format!("rule id {s:?} is used twice in this policy"));
        }
        Some(s.to_owned())
    });
    if let Some(d) = obj.get("description") {
        lint.string(&format!("{path}.description"), d);
    }
    let effect = obj
        .get("effect")
        .and_then(|v| lint.effect(&format!("{path}.effect"), v));
    let code = obj
        .get("code")
        .and_then(|v| lint.code(&format!("{path}.code"), v, effect));
    let mut agent = None;
    let mut action = None;
    let mut context = Vec::new();
    let mut match_ok = true;
    if let Some(m) = obj.get("match") {
        let mp = format!("{path}.match");
        match lint.object(&mp, m, MATCH_MEMBERS) {
            Some(mo) => {
                if let Some(a) = mo.get("agent") {
                    agent = str_matcher(lint, &format!("{mp}.agent"), a);
                    match_ok &= agent.is_some();
                }
                if let Some(a) = mo.get("action") {
                    action = str_matcher(lint, &format!("{mp}.action"), a);
                    match_ok &= action.is_some();
                }
                if let Some(c) = mo.get("context") {
                    let cp = format!("{mp}.context");
                    match c.as_object() {
                        Some(co) => {
                            for (key, vm) in co {
                                match value_matcher(lint, &format!("{cp}.{key}"), vm) {
                                    Some(m) => context.push((key.clone(), m)),
                                    None => match_ok = false,
                                }
                            }
                        }
                        None => {
                            lint.error(&cp, format!("must be an object, got {}", describe(c)));
                            match_ok = false;
                        }
                    }
                }
            }
            None => match_ok = false,
        }
    }
    let require = match obj.get("require") {
        Some(r) => lint.string_list(&format!("{path}.require"), r, 0)?,
        None => Vec::new(),
    };
    if let Some(o) = obj.get("obligations") {
        lint.string_list(&format!("{path}.obligations"), o, 0);
    }
    if !match_ok {
        return None;
    }
    Some(Rule {
        id: id?,
        effect: effect?,
        agent,
        action,
        context,
        require,
        code,
    })
}

/// A policy document's `Policy`, or `None` with the errors recorded.
fn policy(lint: &mut Linter, doc: &Value) -> Option<Policy> {
    let obj = lint.record("$", doc, POLICY_MEMBERS, &["policy_id", "version", "rules"])?;
    let id = obj.get("policy_id").and_then(|v| {
        let s = lint.string("$.policy_id", v)?;
        if s.is_empty() || s.len() > 128 || !is_id(s) {
            lint.error(
                "$.policy_id",
                format!("{s:?} must be 1 to 128 characters matching ^[a-z0-9][a-z0-9_-]*$"),
            );
        }
        Some(s.to_owned())
    });
    let version = obj.get("version").and_then(|v| {
        let s = lint.string("$.version", v)?;
        if !is_semver(s) {
            lint.error(
                "$.version",
                format!("{s:?} must be a semantic version like 1.0.0"),
            );
        }
        Some(s.to_owned())
    });
    if let Some(d) = obj.get("description") {
        lint.string("$.description", d);
    }
    let default = match obj.get("default") {
        Some(v) => lint.default_effect("$.default", v),
        None => Some(Effect::Deny),
    };
    if let Some(m) = obj.get("metadata") {
        if !m.is_object() {
            lint.error(
                "$.metadata",
                format!("must be an object, got {}", describe(m)),
            );
        }
    }
    let mut rules = Vec::new();
    if let Some(r) = obj.get("rules") {
        match r.as_array() {
            Some(items) if items.is_empty() => lint.error("$.rules", "must have at least 1 rule"),
            Some(items) => {
                let mut ids = HashSet::new();
                for (i, item) in items.iter().enumerate() {
                    if let Some(rule) = rule(lint, &format!("$.rules[{i}]"), item, &mut ids) {
                        rules.push(rule);
                    }
                }
            }
            None => lint.error("$.rules", format!("must be an array, got {}", describe(r))),
        }
    }
    Some(Policy {
        id: id?,
        version: version?,
        default: default?,
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{LintErrors, Policy};
    use serde_json::json;
    use serde_json::Value;

    fn lint(doc: Value) -> Vec<String> {
        Policy::from_value(&doc)
            .err()
            .map(LintErrors::into_vec)
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn errors_name_their_json_path() {
        let errors = lint(json!({
            "policy_id": "Bad Id",
            "version": "1.0",
            "rules": [
                { "id": "r1", "effect": "maybe", "match": { "action": { "prefix": "" } } },
                { "id": "r1", "effect": "allow", "match": { "context": { "n": { "gt": "5" } } }, "extra": 1 },
                { "effect": "deny", "match": { "agent": { "regex": "(" } } }
            ]
        }));
        let expected = [
            "$.policy_id: \"Bad Id\" must be 1 to 128",
            "$.version: \"1.0\" must be a semantic version",
            "$.rules[0].effect: must be \"allow\", \"deny\", \"hold\" or \"escalate\", got the string \"maybe\"",
            "$.rules[0].match.action.prefix: must not be empty",
            "$.rules[1].extra: unknown field",
            "$.rules[1].id: rule id \"r1\" is used twice",
            "$.rules[1].match.context.n.gt: must be a number, got the string \"5\"",
            "$.rules[2]: missing required field `id`",
            "$.rules[2].match.agent.regex: is not a valid regular expression",
        ];
        for want in expected {
            assert!(
                errors.iter().any(|e| e.starts_with(want)),
                "missing {want:?} in {errors:#?}"
            );
        }
    }

    #[test]
    fn matcher_objects_take_exactly_one_operator() {
        let errors = lint(json!({
            "policy_id": "p", "version": "1.0.0",
            "rules": [{ "id": "r", "effect": "allow", "match": { "action": { "equals": "a", "prefix": "b" } } }]
        }));
        assert!(
            errors[0].contains("$.rules[0].match.action: must have exactly one operator"),
            "{errors:?}"
        );
    }
}
