//! Lint errors, and the checks that find them: a hand-written walk of the
//! policy schema (in [`compile`](super::compile)) asks the [`Linter`] for
//! each value, so that every error names its JSON path and says what was
//! expected.

use std::collections::HashSet;
use std::fmt;

use regex::Regex;
use serde_json::{Map, Value};

use super::{describe, Effect};

/// One problem found in a policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintError {
    /// JSON path of the offending value, e.g. `$.rules[0].effect`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in one policy document, each with its JSON path:
/// the error of [`Policy::from_value`](crate::policy::Policy::from_value), never empty. It is a slice of
/// [`LintError`]s (`errors.len()`, `errors.iter()`, `errors[0].path`), and an
/// [`Error`](std::error::Error) whose message lists them one a line, so `?`
/// carries it into a `Box<dyn Error>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintErrors(pub(super) Vec<LintError>);

impl LintErrors {
    /// The problems, in document order.
    pub fn into_vec(self) -> Vec<LintError> {
        self.0
    }
}

impl std::ops::Deref for LintErrors {
    type Target = [LintError];

    fn deref(&self) -> &[LintError] {
        &self.0
    }
}

impl IntoIterator for LintErrors {
    type Item = LintError;
    type IntoIter = std::vec::IntoIter<LintError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a LintErrors {
    type Item = &'a LintError;
    type IntoIter = std::slice::Iter<'a, LintError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// `invalid policy, 2 problems:` and one indented `path: message` line each.
impl fmt::Display for LintErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "invalid policy, {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LintErrors {}
/// The checks of a policy document's values: each failed check is
/// recorded with its JSON path and what was expected, and the walk goes on,
/// so that one run reports every problem. [`compile`](super::compile) walks
/// the schema with it.
#[derive(Default)]
pub(super) struct Linter {
    errors: Vec<LintError>,
}

pub(super) fn is_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// `^[A-Z][A-Z0-9_]{0,63}$`.
pub(super) fn is_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() <= 64
        && b.first().is_some_and(u8::is_ascii_uppercase)
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

pub(super) fn is_semver(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

pub(super) fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

impl Linter {
    pub(super) fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(LintError {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    pub(super) fn object<'v>(
        &mut self,
        path: &str,
        v: &'v Value,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(obj) = v.as_object() else {
            self.error(path, format!("must be an object, got {}", describe(v)));
            return None;
        };
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                self.error(
                    &format!("{path}.{key}"),
                    format!("unknown field; allowed fields are {}", allowed.join(", ")),
                );
            }
        }
        Some(obj)
    }

    /// An object with members of `allowed` only, and every one of
    /// `required`.
    pub(super) fn record<'v>(
        &mut self,
        path: &str,
        v: &'v Value,
        allowed: &[&str],
        required: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let obj = self.object(path, v, allowed)?;
        for name in required {
            if !obj.contains_key(*name) {
                self.error(path, format!("missing required field `{name}`"));
            }
        }
        Some(obj)
    }

    /// `out` when no error was recorded, else every error. Every `None` of
    /// the walk comes with an error; were one ever to come without, the
    /// document is still refused, never read as empty.
    pub(super) fn finish<T>(self, out: Option<T>) -> Result<T, LintErrors> {
        match out {
            Some(out) if self.errors.is_empty() => Ok(out),
            _ if self.errors.is_empty() => Err(LintErrors(vec![LintError {
                path: "$".into(),
                message: "is not a valid policy".into(),
            }])),
            _ => Err(LintErrors(self.errors)),
        }
    }

    pub(super) fn string<'v>(&mut self, path: &str, v: &'v Value) -> Option<&'v str> {
        let s = v.as_str();
        if s.is_none() {
            self.error(path, format!("must be a string, got {}", describe(v)));
        }
        s
    }

    pub(super) fn regex(&mut self, path: &str, v: &Value) -> Option<Regex> {
        let pattern = self.string(path, v)?;
        if pattern.is_empty() {
            self.error(path, "must not be empty");
            return None;
        }
        match regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
        {
            Ok(re) => Some(re),
            Err(e) => {
                self.error(path, format!("is not a valid regular expression: {e}"));
                None
            }
        }
    }

    /// A rule's effect: any of the four.
    pub(super) fn effect(&mut self, path: &str, v: &Value) -> Option<Effect> {
        match v.as_str() {
            Some("allow") => Some(Effect::Allow),
            Some("deny") => Some(Effect::Deny),
            Some("hold") => Some(Effect::Hold),
            Some("escalate") => Some(Effect::Escalate),
            _ => {
                self.error(
                    path,
                    format!(
                        "must be \"allow\", \"deny\", \"hold\" or \"escalate\", got {}",
                        describe(v)
                    ),
                );
                None
            }
        }
    }

    /// A policy's `default`: `allow` or `deny` (hold and escalate name a
    /// rule's reason to refuse; a default has none).
    pub(super) fn default_effect(&mut self, path: &str, v: &Value) -> Option<Effect> {
        match v.as_str() {
            Some("allow") => Some(Effect::Allow),
            Some("deny") => Some(Effect::Deny),
            _ => {
                self.error(
                    path,
                    format!("must be \"allow\" or \"deny\", got {}", describe(v)),
                );
                None
            }
        }
    }

    /// A rule's `code`: UPPER_SNAKE_CASE, and only on a refusing rule.
    pub(super) fn code(&mut self, path: &str, v: &Value, effect: Option<Effect>) -> Option<String> {
        let code = self.string(path, v)?;
        if effect == Some(Effect::Allow) {
            self.error(
                path,
                "`code` names why a request is refused; an allow rule has none",
            );
            return None;
        }
        if !is_code(code) {
            self.error(
                path,
                format!(
                    "{code:?} must match ^[A-Z][A-Z0-9_]{{0,63}}$ (UPPER_SNAKE_CASE, 1 to 64 \
                     characters, such as \"DENY_POLICY\")"
                ),
            );
            return None;
        }
        Some(code.to_owned())
    }

    pub(super) fn string_list(
        &mut self,
        path: &str,
        v: &Value,
        min_items: usize,
    ) -> Option<Vec<String>> {
        let Some(items) = v.as_array() else {
            self.error(path, format!("must be an array, got {}", describe(v)));
            return None;
        };
        if items.len() < min_items {
            self.error(path, format!("must have at least {min_items} item(s)"));
        }
        let mut out = Vec::with_capacity(items.len());
        let mut seen = HashSet::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            match item.as_str() {
                Some("") => self.error(&p, "must not be empty"),
                Some(s) if !seen.insert(s) => self.error(&p, format!("duplicate item {s:?}")),
                Some(s) => out.push(s.to_owned()),
                None => self.error(&p, format!("must be a string, got {}", describe(item))),
            }
        }
        Some(out)
    }

    /// Exactly one operator of a matcher object.
    pub(super) fn single_operator<'v>(
        &mut self,
        path: &str,
        obj: &'v Map<String, Value>,
    ) -> Option<(&'v str, &'v Value)> {
        if obj.len() != 1 {
            self.error(
                path,
                format!("must have exactly one operator, has {}", obj.len()),
            );
            return None;
        }
        obj.iter().next().map(|(k, v)| (k.as_str(), v))
    }
}
