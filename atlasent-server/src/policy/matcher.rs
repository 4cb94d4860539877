//! What a rule matches: string matchers of agents and actions, value
//! matchers of context keys, and a compiled [`Rule`] that tests a request
//! with both (fail closed where a refusing rule cannot rule a value out).

use std::collections::HashSet;

use atlasent::wire::json_kind;
use regex::Regex;
use serde_json::{Map, Value};

use super::Effect;

#[derive(Debug)]
pub(super) enum StrMatcher {
    Equals(String),
    In(HashSet<String>),
    Prefix(String),
    Regex(Regex),
}

impl StrMatcher {
    pub(super) fn matches(&self, s: &str) -> bool {
        match self {
            Self::Equals(v) => v == s,
            Self::In(set) => set.contains(s),
            Self::Prefix(p) => s.starts_with(p.as_str()),
            Self::Regex(re) => re.is_match(s),
        }
    }
}

#[derive(Debug)]
pub(super) enum ValueMatcher {
    Equals(Value),
    In(Vec<Value>),
    Exists(bool),
    Regex(Regex),
    /// `gt`, `gte`, `lt` or `lte` a bound.
    Compare(Cmp, f64),
}

/// The operator of a comparison matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Cmp {
    /// The operator of a policy document's spelling (`"gt"`, ...).
    pub(super) fn parse(op: &str) -> Option<Cmp> {
        Some(match op {
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            _ => return None,
        })
    }

    /// The policy spelling.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Gt => "gt",
            Self::Gte => "gte",
            Self::Lt => "lt",
            Self::Lte => "lte",
        }
    }

    /// The operator that holds exactly where this one does not.
    pub(super) fn negated(self) -> Cmp {
        match self {
            Self::Gt => Self::Lte,
            Self::Gte => Self::Lt,
            Self::Lt => Self::Gte,
            Self::Lte => Self::Gt,
        }
    }

    fn holds(self, x: f64, bound: f64) -> bool {
        match self {
            Self::Gt => x > bound,
            Self::Gte => x >= bound,
            Self::Lt => x < bound,
            Self::Lte => x <= bound,
        }
    }
}

pub(super) fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// The outcome of one value matcher on one context value.
#[derive(Debug, PartialEq)]
pub(super) enum Test {
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
pub(super) enum Unknown {
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
            found: json_kind(other),
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
    if v.is_null() {
        return Test::NoMatch;
    }
    // The JSON types of the non-null literals, without collecting them: a
    // rule that does not match is the common case (every deny rule a request
    // stays clear of), and must not allocate.
    let found = json_kind(v);
    let mut typed = literals.iter().filter(|l| !l.is_null()).map(json_kind);
    let Some(first) = typed.next() else {
        return Test::NoMatch;
    };
    if first == found || typed.clone().any(|t| t == found) {
        return Test::NoMatch;
    }
    Test::Unknown(Unknown::WrongType {
        found,
        expected: if typed.all(|t| t == first) {
            first
        } else {
            "a value of one of the listed types"
        },
    })
}

impl ValueMatcher {
    pub(super) fn test(&self, value: Option<&Value>) -> Test {
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
                    found: json_kind(other),
                    expected: "a string",
                }),
            },
            Self::Compare(op, bound) => compare(value, |x| op.holds(x, *bound)),
        }
    }

    /// The matcher as the policy would write it: `{"gt": 10000}`.
    pub(super) fn as_written(&self) -> String {
        let (op, arg) = match self {
            Self::Equals(v) => ("equals", v.to_string()),
            Self::In(options) => ("in", Value::Array(options.clone()).to_string()),
            Self::Exists(b) => ("exists", b.to_string()),
            Self::Regex(re) => ("regex", Value::from(re.as_str()).to_string()),
            Self::Compare(op, n) => (op.as_str(), n.to_string()),
        };
        format!("{{\"{op}\": {arg}}}")
    }
}

#[derive(Debug)]
pub(super) struct Rule {
    pub(super) id: String,
    pub(super) effect: Effect,
    pub(super) agent: Option<StrMatcher>,
    pub(super) action: Option<StrMatcher>,
    pub(super) context: Vec<(String, ValueMatcher)>,
    pub(super) require: Vec<String>,
    /// The rule's own code (never on an allow rule).
    pub(super) code: Option<String>,
}

impl Rule {
    /// `None` when the rule does not match; else the fail-closed clauses of
    /// a deny, hold or escalate rule that matched only because a matcher had
    /// no value of its type (empty for a plain match, and always for an
    /// allow rule).
    pub(super) fn check(
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
    pub(super) fn missing<'a>(&'a self, context: &Map<String, Value>) -> Vec<&'a str> {
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
