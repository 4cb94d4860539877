//! Policies: validation with JSON paths ([`Policy::from_value`],
//! [`LintErrors`]), compilation (regexes built once, rules indexed by
//! action), evaluation ([`PolicySet::evaluate`]), and
//! [warnings](PolicySet::warnings) about allow rules that leave a gap in a
//! deny, hold or escalate rule, and [coverage](PolicySet::coverage) of a
//! program's actions. The language reference below is
//! `docs/policy-language.md` of this crate; its examples run as doctests.
//!
#![doc = include_str!("../docs/policy-language.md")]

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_json::{Map, Value};

mod coverage;
mod warnings;
pub use coverage::{CoverageProblem, CoverageProblemKind, RuleRef};
pub use warnings::LintWarning;

/// A rule's effect, a policy's default (`Allow` or `Deny` only) and a
/// decision's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Permit the action: the only effect that issues a permit.
    Allow,
    /// Refuse the action.
    Deny,
    /// Hold the request for review: a human must release it. No permit.
    Hold,
    /// Send the request to a higher-authority reviewer, who must decide. No
    /// permit.
    Escalate,
}

impl Effect {
    /// The wire and policy spelling: `"allow"`, `"deny"`, `"hold"` or
    /// `"escalate"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Hold => "hold",
            Self::Escalate => "escalate",
        }
    }

    /// Whether a decision with this effect issues a permit: only
    /// [`Allow`](Self::Allow) does. Hold and escalate are refusals too.
    pub fn issues_permit(self) -> bool {
        self == Self::Allow
    }

    /// The verb of a reason: `denied by policy P rule R`.
    fn past_tense(self) -> &'static str {
        match self {
            Self::Allow => "allowed",
            Self::Deny => "denied",
            Self::Hold => "held",
            Self::Escalate => "escalated",
        }
    }

    /// The code of a decision by a rule of this effect that names none.
    fn default_code(self) -> Option<&'static str> {
        match self {
            Self::Allow => None,
            Self::Deny => Some(DENY_POLICY),
            Self::Hold => Some(ACTOR_HELD),
            Self::Escalate => Some(ESCALATE_REQUIRED),
        }
    }
}

// The default codes (module docs, "Codes"); all but MISSING_REQUIRED_CONTEXT
// are reason codes of the AtlaSent taxonomy (Python SDK 2.18 `taxonomy.py`).
const DENY_POLICY: &str = "DENY_POLICY";
const ACTOR_HELD: &str = "ACTOR_HELD";
const ESCALATE_REQUIRED: &str = "ESCALATE_REQUIRED";
const NO_TEMPLATE_MATCH: &str = "NO_TEMPLATE_MATCH";
const MISSING_REQUIRED_CONTEXT: &str = "MISSING_REQUIRED_CONTEXT";

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
/// the error of [`Policy::from_value`], never empty. It is a slice of
/// [`LintError`]s (`errors.len()`, `errors.iter()`, `errors[0].path`), and an
/// [`Error`](std::error::Error) whose message lists them one a line, so `?`
/// carries it into a `Box<dyn Error>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintErrors(Vec<LintError>);

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

/// The largest policy file read (16 MiB).
pub const MAX_POLICY_FILE_BYTES: u64 = 16 << 20;

/// A policy file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{path}: not valid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why (a member name repeated in one object, after decoding
        /// escapes, is refused too: it would be read two ways).
        source: atlasent::wire::StrictJsonError,
    },
    /// The policy breaks the language's rules.
    #[error("{}: {errors}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        errors: LintErrors,
    },
    /// Two loaded policies share a `policy_id`.
    #[error("policy_id {0:?} is defined twice")]
    Duplicate(String),
}

#[derive(Debug)]
enum StrMatcher {
    Equals(String),
    In(HashSet<String>),
    Prefix(String),
    Regex(Regex),
}

impl StrMatcher {
    fn matches(&self, s: &str) -> bool {
        match self {
            Self::Equals(v) => v == s,
            Self::In(set) => set.contains(s),
            Self::Prefix(p) => s.starts_with(p.as_str()),
            Self::Regex(re) => re.is_match(s),
        }
    }
}

#[derive(Debug)]
enum ValueMatcher {
    Equals(Value),
    In(Vec<Value>),
    Exists(bool),
    Regex(Regex),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
}

fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// The outcome of one value matcher on one context value.
#[derive(Debug, PartialEq)]
enum Test {
    Match,
    NoMatch,
    /// A matcher had no value of its type to test: a deny, hold or escalate
    /// rule treats this as a match (fail closed), an allow rule as no match.
    Unknown(Unknown),
}

impl From<bool> for Test {
    fn from(matched: bool) -> Test {
        if matched {
            Test::Match
        } else {
            Test::NoMatch
        }
    }
}

/// Why a comparison could not be ruled in or out.
#[derive(Debug, PartialEq)]
enum Unknown {
    /// The key is absent, or present as `null`.
    Missing { null: bool },
    /// The value is of another JSON type than the matcher needs.
    WrongType {
        found: &'static str,
        expected: &'static str,
    },
}

impl Unknown {
    /// The clause a refusal's reason carries, e.g. `context amount_usd is a
    /// string where a number was expected`. The value itself is never
    /// echoed: it may be large, or something the caller should not log.
    fn explain(&self, key: &str, effect: Effect, rule_id: &str) -> String {
        match self {
            Self::Missing { null } => format!(
                "context key {key} is {}, so {} rule {rule_id} could not be ruled out",
                if *null { "null" } else { "missing" },
                effect.as_str()
            ),
            Self::WrongType { found, expected } => {
                format!("context {key} is {found} where {expected} was expected")
            }
        }
    }
}

/// `a string`, `a number`, ...: the JSON type of a present value.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A comparison of a context number with a bound, as doubles.
fn compare(value: Option<&Value>, holds: impl Fn(f64) -> bool) -> Test {
    match value {
        None | Some(Value::Null) => Test::Unknown(Unknown::Missing {
            null: value.is_some(),
        }),
        // Without serde_json's `arbitrary_precision` every number has a
        // double; were it ever enabled, a number without one fails closed.
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) => holds(x).into(),
            None => Test::Unknown(Unknown::WrongType {
                found: "a number outside the range of a double",
                expected: "a number",
            }),
        },
        Some(other) => Test::Unknown(Unknown::WrongType {
            found: json_type(other),
            expected: "a number",
        }),
    }
}

/// An exact matcher (`equals`, `in`): a present value of a JSON type none of
/// the literals has (`["users"]` against `"users"`) cannot be ruled out — a
/// deny rule fires on it (fail closed), an allow rule does not match. An
/// absent or null value keeps its meaning: it matches only a `null` literal.
fn exact(value: Option<&Value>, literals: &[Value], matches: impl Fn(&Value) -> bool) -> Test {
    let v = value.unwrap_or(&Value::Null);
    if matches(v) {
        return Test::Match;
    }
    let typed: Vec<&'static str> = literals
        .iter()
        .filter(|l| !l.is_null())
        .map(json_type)
        .collect();
    if v.is_null() || typed.is_empty() || typed.contains(&json_type(v)) {
        return Test::NoMatch;
    }
    Test::Unknown(Unknown::WrongType {
        found: json_type(v),
        expected: if typed.iter().all(|t| *t == typed[0]) {
            typed[0]
        } else {
            "a value of one of the listed types"
        },
    })
}

impl ValueMatcher {
    fn test(&self, value: Option<&Value>) -> Test {
        let present = value.filter(|v| !v.is_null());
        match self {
            Self::Exists(want) => (present.is_some() == *want).into(),
            Self::Equals(expected) => exact(value, std::slice::from_ref(expected), |v| {
                scalar_eq(v, expected)
            }),
            Self::In(options) => exact(value, options, |v| options.iter().any(|o| scalar_eq(v, o))),
            Self::Regex(re) => match present {
                None => Test::Unknown(Unknown::Missing {
                    null: value.is_some(),
                }),
                Some(Value::String(s)) => re.is_match(s).into(),
                Some(other) => Test::Unknown(Unknown::WrongType {
                    found: json_type(other),
                    expected: "a string",
                }),
            },
            Self::Gt(n) => compare(value, |x| x > *n),
            Self::Gte(n) => compare(value, |x| x >= *n),
            Self::Lt(n) => compare(value, |x| x < *n),
            Self::Lte(n) => compare(value, |x| x <= *n),
        }
    }
}

#[derive(Debug)]
struct Rule {
    id: String,
    effect: Effect,
    agent: Option<StrMatcher>,
    action: Option<StrMatcher>,
    context: Vec<(String, ValueMatcher)>,
    require: Vec<String>,
    /// The rule's own code (never on an allow rule).
    code: Option<String>,
}

impl Rule {
    /// `None` when the rule does not match; else the fail-closed clauses of
    /// a deny, hold or escalate rule that matched only because a matcher had
    /// no value of its type (empty for a plain match, and always for an
    /// allow rule).
    fn check(
        &self,
        agent: &str,
        action: &str,
        context: &Map<String, Value>,
    ) -> Option<Vec<String>> {
        if !(self.agent.as_ref().is_none_or(|m| m.matches(agent))
            && self.action.as_ref().is_none_or(|m| m.matches(action)))
        {
            return None;
        }
        let mut unknowns = Vec::new();
        for (key, matcher) in &self.context {
            match matcher.test(context.get(key)) {
                Test::Match => {}
                Test::NoMatch => return None,
                Test::Unknown(u) => match self.effect {
                    Effect::Allow => return None,
                    Effect::Deny | Effect::Hold | Effect::Escalate => {
                        unknowns.push(u.explain(key, self.effect, &self.id))
                    }
                },
            }
        }
        Some(unknowns)
    }

    /// The `require` keys that are missing or empty.
    fn missing<'a>(&'a self, context: &Map<String, Value>) -> Vec<&'a str> {
        self.require
            .iter()
            .filter(|key| match context.get(key.as_str()) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                Some(Value::Object(o)) => o.is_empty(),
                Some(_) => false,
            })
            .map(String::as_str)
            .collect()
    }
}

/// A validated, compiled policy.
#[derive(Debug)]
pub struct Policy {
    id: String,
    version: String,
    default: Effect,
    rules: Vec<Rule>,
}

impl Policy {
    /// The `policy_id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The `version`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Validate and compile a policy document; every problem is reported,
    /// each with its JSON path.
    pub fn from_value(doc: &Value) -> Result<Policy, LintErrors> {
        let mut lint = Linter::default();
        let policy = lint.policy(doc);
        match policy {
            Some(p) if lint.errors.is_empty() => Ok(p),
            // Every `None` of the linter comes with an error; were one ever
            // to come without, the policy is still refused, never empty.
            _ if lint.errors.is_empty() => Err(LintErrors(vec![LintError {
                path: "$".into(),
                message: "is not a valid policy".into(),
            }])),
            _ => Err(LintErrors(lint.errors)),
        }
    }

    /// Read, validate and compile one policy file.
    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let text = crate::keys::read_bounded(path, MAX_POLICY_FILE_BYTES).map_err(|why| {
            PolicyError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, why),
            }
        })?;
        let doc: Value = atlasent::wire::from_slice_strict(text.as_bytes()).map_err(|source| {
            PolicyError::Json {
                path: path.to_owned(),
                source,
            }
        })?;
        Policy::from_value(&doc).map_err(|errors| PolicyError::Invalid {
            path: path.to_owned(),
            errors,
        })
    }

    /// Load a file, or every `*.json` file of a folder (sorted by name).
    pub fn load(path: &Path) -> Result<Vec<Policy>, PolicyError> {
        if !path.is_dir() {
            return Ok(vec![Policy::from_file(path)?]);
        }
        let io = |source| PolicyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
            .collect();
        files.sort();
        files.iter().map(|f| Policy::from_file(f)).collect()
    }
}

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
    policies: Vec<Policy>,
    /// Rules whose action matcher is exact (`"x"`, `equals`, `in`), by action.
    by_action: HashMap<String, Vec<(usize, usize)>>,
    /// Rules that must be checked for every action.
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
        let mut candidates: Vec<(usize, usize)> =
            indexed.iter().chain(&self.any_action).copied().collect();
        candidates.sort_unstable();

        // The first matching rule of each effect below deny (a deny decides
        // at once), with the fail-closed clauses of the refusing ones.
        let mut escalate: Option<(usize, usize, Vec<String>)> = None;
        let mut hold: Option<(usize, usize, Vec<String>)> = None;
        let mut allow: Option<(usize, usize)> = None;
        let mut unmet: Vec<String> = Vec::new();
        for &(p, r) in &candidates {
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
        let all_allow =
            !self.policies.is_empty() && self.policies.iter().all(|p| p.default == Effect::Allow);
        let effect = if all_allow {
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

// ---------------------------------------------------------------------------
// Validation: a hand-written walk of the policy schema, so that every error
// names its JSON path and says what was expected.

#[derive(Default)]
struct Linter {
    errors: Vec<LintError>,
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn is_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// `^[A-Z][A-Z0-9_]{0,63}$`.
fn is_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() <= 64
        && b.first().is_some_and(u8::is_ascii_uppercase)
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

fn is_semver(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

impl Linter {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(LintError {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    fn object<'v>(
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

    fn string<'v>(&mut self, path: &str, v: &'v Value) -> Option<&'v str> {
        let s = v.as_str();
        if s.is_none() {
            self.error(path, format!("must be a string, got {}", describe(v)));
        }
        s
    }

    fn regex(&mut self, path: &str, v: &Value) -> Option<Regex> {
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
    fn effect(&mut self, path: &str, v: &Value) -> Option<Effect> {
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
    fn default_effect(&mut self, path: &str, v: &Value) -> Option<Effect> {
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
    fn code(&mut self, path: &str, v: &Value, effect: Option<Effect>) -> Option<String> {
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

    fn string_list(&mut self, path: &str, v: &Value, min_items: usize) -> Option<Vec<String>> {
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
    fn single_operator<'v>(
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

    fn str_matcher(&mut self, path: &str, v: &Value) -> Option<StrMatcher> {
        if let Some(s) = v.as_str() {
            return Some(StrMatcher::Equals(s.to_owned()));
        }
        let obj = self.object(path, v, &["equals", "in", "prefix", "regex"])?;
        let (op, arg) = self.single_operator(path, obj)?;
        let p = format!("{path}.{op}");
        match op {
            "equals" => self
                .string(&p, arg)
                .map(|s| StrMatcher::Equals(s.to_owned())),
            "in" => self
                .string_list(&p, arg, 1)
                .map(|l| StrMatcher::In(l.into_iter().collect())),
            "prefix" => match self.string(&p, arg) {
                Some("") => {
                    self.error(&p, "must not be empty");
                    None
                }
                s => s.map(|s| StrMatcher::Prefix(s.to_owned())),
            },
            "regex" => self.regex(&p, arg).map(StrMatcher::Regex),
            _ => None,
        }
    }

    fn value_matcher(&mut self, path: &str, v: &Value) -> Option<ValueMatcher> {
        if is_scalar(v) {
            return Some(ValueMatcher::Equals(v.clone()));
        }
        let obj = self.object(
            path,
            v,
            &["equals", "in", "exists", "regex", "gt", "gte", "lt", "lte"],
        )?;
        let (op, arg) = self.single_operator(path, obj)?;
        let p = format!("{path}.{op}");
        let number = |this: &mut Self| {
            let n = arg.as_f64();
            if n.is_none() {
                this.error(&p, format!("must be a number, got {}", describe(arg)));
            }
            n
        };
        match op {
            "equals" if is_scalar(arg) => Some(ValueMatcher::Equals(arg.clone())),
            "equals" => {
                self.error(
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
                    self.error(&p, format!("must be an array, got {}", describe(arg)));
                    return None;
                };
                if items.is_empty() {
                    self.error(&p, "must have at least 1 item(s)");
                }
                for (i, item) in items.iter().enumerate() {
                    if !is_scalar(item) {
                        self.error(
                            &format!("{p}[{i}]"),
                            format!("must be a scalar, got {}", describe(item)),
                        );
                    } else if items[..i].contains(item) {
                        self.error(&format!("{p}[{i}]"), "duplicate item");
                    }
                }
                Some(ValueMatcher::In(items.clone()))
            }
            "exists" => match arg.as_bool() {
                Some(b) => Some(ValueMatcher::Exists(b)),
                None => {
                    self.error(&p, format!("must be a boolean, got {}", describe(arg)));
                    None
                }
            },
            "regex" => self.regex(&p, arg).map(ValueMatcher::Regex),
            "gt" => number(self).map(ValueMatcher::Gt),
            "gte" => number(self).map(ValueMatcher::Gte),
            "lt" => number(self).map(ValueMatcher::Lt),
            "lte" => number(self).map(ValueMatcher::Lte),
            _ => None,
        }
    }

    fn rule(&mut self, path: &str, v: &Value, ids: &mut HashSet<String>) -> Option<Rule> {
        let obj = self.object(
            path,
            v,
            &[
                "id",
                "description",
                "effect",
                "match",
                "require",
                "code",
                "obligations",
            ],
        )?;
        for required in ["id", "effect", "match"] {
            if !obj.contains_key(required) {
                self.error(path, format!("missing required field `{required}`"));
            }
        }
        let id = obj.get("id").and_then(|v| {
            let p = format!("{path}.id");
            let s = self.string(&p, v)?;
            if !is_id(s) {
                self.error(&p, format!("{s:?} must match ^[a-z0-9][a-z0-9_-]*$"));
            } else if !ids.insert(s.to_owned()) {
                self.error(&p, format!("rule id {s:?} is used twice in this policy"));
            }
            Some(s.to_owned())
        });
        if let Some(d) = obj.get("description") {
            self.string(&format!("{path}.description"), d);
        }
        let effect = obj
            .get("effect")
            .and_then(|v| self.effect(&format!("{path}.effect"), v));
        let code = obj
            .get("code")
            .and_then(|v| self.code(&format!("{path}.code"), v, effect));
        let mut agent = None;
        let mut action = None;
        let mut context = Vec::new();
        let mut match_ok = true;
        if let Some(m) = obj.get("match") {
            let mp = format!("{path}.match");
            match self.object(&mp, m, &["agent", "action", "context"]) {
                Some(mo) => {
                    if let Some(a) = mo.get("agent") {
                        agent = self.str_matcher(&format!("{mp}.agent"), a);
                        match_ok &= agent.is_some();
                    }
                    if let Some(a) = mo.get("action") {
                        action = self.str_matcher(&format!("{mp}.action"), a);
                        match_ok &= action.is_some();
                    }
                    if let Some(c) = mo.get("context") {
                        let cp = format!("{mp}.context");
                        match c.as_object() {
                            Some(co) => {
                                for (key, vm) in co {
                                    match self.value_matcher(&format!("{cp}.{key}"), vm) {
                                        Some(m) => context.push((key.clone(), m)),
                                        None => match_ok = false,
                                    }
                                }
                            }
                            None => {
                                self.error(&cp, format!("must be an object, got {}", describe(c)));
                                match_ok = false;
                            }
                        }
                    }
                }
                None => match_ok = false,
            }
        }
        let require = match obj.get("require") {
            Some(r) => self.string_list(&format!("{path}.require"), r, 0)?,
            None => Vec::new(),
        };
        if let Some(o) = obj.get("obligations") {
            self.string_list(&format!("{path}.obligations"), o, 0);
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

    fn policy(&mut self, doc: &Value) -> Option<Policy> {
        let obj = self.object(
            "$",
            doc,
            &[
                "policy_id",
                "version",
                "description",
                "default",
                "rules",
                "metadata",
            ],
        )?;
        for required in ["policy_id", "version", "rules"] {
            if !obj.contains_key(required) {
                self.error("$", format!("missing required field `{required}`"));
            }
        }
        let id = obj.get("policy_id").and_then(|v| {
            let s = self.string("$.policy_id", v)?;
            if s.is_empty() || s.len() > 128 || !is_id(s) {
                self.error(
                    "$.policy_id",
                    format!("{s:?} must be 1 to 128 characters matching ^[a-z0-9][a-z0-9_-]*$"),
                );
            }
            Some(s.to_owned())
        });
        let version = obj.get("version").and_then(|v| {
            let s = self.string("$.version", v)?;
            if !is_semver(s) {
                self.error(
                    "$.version",
                    format!("{s:?} must be a semantic version like 1.0.0"),
                );
            }
            Some(s.to_owned())
        });
        if let Some(d) = obj.get("description") {
            self.string("$.description", d);
        }
        let default = match obj.get("default") {
            Some(v) => self.default_effect("$.default", v),
            None => Some(Effect::Deny),
        };
        if let Some(m) = obj.get("metadata") {
            if !m.is_object() {
                self.error(
                    "$.metadata",
                    format!("must be an object, got {}", describe(m)),
                );
            }
        }
        let mut rules = Vec::new();
        if let Some(r) = obj.get("rules") {
            match r.as_array() {
                Some(items) if items.is_empty() => {
                    self.error("$.rules", "must have at least 1 rule")
                }
                Some(items) => {
                    let mut ids = HashSet::new();
                    for (i, item) in items.iter().enumerate() {
                        if let Some(rule) = self.rule(&format!("$.rules[{i}]"), item, &mut ids) {
                            rules.push(rule);
                        }
                    }
                }
                None => self.error("$.rules", format!("must be an array, got {}", describe(r))),
            }
        }
        Some(Policy {
            id: id?,
            version: version?,
            default: default?,
            rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
