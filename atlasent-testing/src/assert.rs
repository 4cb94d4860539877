//! Assertions on guarded calls: [`BodyProbe`], [`assert_denied`],
//! [`assert_denied_by`], [`assert_denied_fail_closed_by`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use atlasent::{Denial, Error};

/// Counts how often a guarded body ran: call [`hit`](BodyProbe::hit)
/// first thing in the body, then assert
/// [`assert_never_ran`](BodyProbe::assert_never_ran) after a denial or a
/// fault, [`assert_ran_once`](BodyProbe::assert_ran_once) after an allow.
/// Clones share one counter and it is `Send + Sync`, so a clone moved into
/// a task or a thread counts for the test. Make one probe per test: a
/// `static` is shared by every test in the binary, and tests run in
/// parallel.
///
/// ```
/// use atlasent_testing::BodyProbe;
///
/// let probe = BodyProbe::new();
/// let in_body = probe.clone();
/// probe.assert_never_ran();
/// in_body.hit();
/// probe.assert_ran_once();
/// assert_eq!(probe.count(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct BodyProbe(Arc<AtomicUsize>);

impl BodyProbe {
    /// A probe that has not been hit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record one run of the body.
    pub fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// How many times the body ran.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Assert that the body never ran.
    ///
    /// # Panics
    ///
    /// When it ran, saying how many times.
    #[track_caller]
    pub fn assert_never_ran(&self) {
        self.assert_ran(0, "never have run");
    }

    /// Assert that the body ran exactly once.
    ///
    /// # Panics
    ///
    /// When it ran another number of times, saying how many.
    #[track_caller]
    pub fn assert_ran_once(&self) {
        self.assert_ran(1, "have run once");
    }

    /// Assert that the body ran `expected` times; the message says what it
    /// `should` have done.
    #[track_caller]
    fn assert_ran(&self, expected: usize, should: &str) {
        let n = self.count();
        assert!(
            n == expected,
            "the guarded body ran {n} time{} where it should {should}",
            plural(n)
        );
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// What an error is, for a panic message: `a hold (…)`, `a request failure
/// (code timeout: …)`.
fn describe(err: &Error) -> String {
    if let Some(held) = err.held() {
        return format!(
            "a {} (not a denial): {}",
            held.decision().as_str().to_lowercase(),
            held.reason()
        );
    }
    match err.code() {
        Some(code) => format!("a request failure (code {code}): {err}"),
        None => format!("an error that is not a denial: {err}"),
    }
}

/// Assert that `err` is a denial ([`Error::Denied`]: the policy, or the
/// permit's verification, refused) and return it, to check its reason and
/// code.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use atlasent_testing::{assert_denied, Policy, Rule, TestServer};
///
/// let server = TestServer::start(Policy::new("p").rule(Rule::deny("drop_table").code("NO_DROPS"))).await;
/// let err = server.client().protect("bot", "drop_table", &()).await.expect_err("denied");
/// let denial = assert_denied(&err);
/// assert_eq!(denial.reason(), "denied by policy p rule deny_drop_table_1");
/// assert_eq!(denial.deny_code().map(|c| c.as_str()), Some("NO_DROPS"));
/// # }
/// ```
///
/// # Panics
///
/// When `err` is anything else (a hold, a timeout, …), saying what it is.
#[track_caller]
pub fn assert_denied(err: &Error) -> &Denial {
    match err.denial() {
        Some(denial) => denial,
        None => panic!("expected a denial, found {}", describe(err)),
    }
}

/// Assert that `err` is a denial by the rule `rule_id`, which matched (its
/// reason reads `denied by policy P rule RULE_ID`), and return the denial.
///
/// A deny rule also denies when it did not match but could not be ruled
/// out: a context key it tests was missing, `null` or of the wrong type
/// (fail closed; the reason then goes on `: context key amount_usd is
/// missing, so deny rule RULE_ID could not be ruled out`). That is not a
/// denial by the rule, and this assertion refuses it: a test that forgot a
/// context key would otherwise pass for the wrong reason. Use
/// [`assert_denied_fail_closed_by`] to test exactly that case.
///
/// # Panics
///
/// When `err` is not a denial, a denial by another rule or by a policy's
/// default, or a fail-closed denial (naming the missing key), saying what
/// was found and the reason.
#[track_caller]
pub fn assert_denied_by<'e>(err: &'e Error, rule_id: &str) -> &'e Denial {
    let (denial, by) = denied_by(err, rule_id, "a denial");
    // `denial.reason()` is not repeated: past the rule id it is the clauses.
    if !by.unknowns.is_empty() {
        panic!(
            "expected a denial by rule {rule_id}, found a fail-closed denial: rule {rule_id} did \
             not match, but {}; a deny rule that cannot be ruled out denies. If the test means \
             that, use assert_denied_fail_closed_by; otherwise give the call {}",
            by.unknowns
                .iter()
                .map(|u| u.clause)
                .collect::<Vec<_>>()
                .join("; "),
            fixes(&by.unknowns),
        );
    }
    denial
}

/// Assert that `err` is a fail-closed denial by the deny rule `rule_id`:
/// the rule did not match, but a context key it tests was missing, `null`
/// or of the wrong type, so it could not be ruled out and denied. Returns
/// the denial (its reason names the key).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use atlasent_testing::{assert_denied_fail_closed_by, Policy, Rule, TestServer};
/// use serde_json::json;
///
/// let policy = Policy::new("refunds").default_allow().rule(
///     Rule::deny("refund").id("too_large").when("amount_usd", json!({ "gt": 100 })),
/// );
/// let server = TestServer::start(policy).await;
/// // No amount_usd: the rule cannot tell, so it denies.
/// let err = server.client().protect("bot", "refund", &json!({})).await.expect_err("denied");
/// let denial = assert_denied_fail_closed_by(&err, "too_large");
/// assert!(denial.reason().contains("context key amount_usd is missing"));
/// # }
/// ```
///
/// # Panics
///
/// When `err` is not a denial, a denial by another rule or by a policy's
/// default, or a denial by `rule_id` that matched (use
/// [`assert_denied_by`] for that).
#[track_caller]
pub fn assert_denied_fail_closed_by<'e>(err: &'e Error, rule_id: &str) -> &'e Denial {
    let (denial, by) = denied_by(err, rule_id, "a fail-closed denial");
    if by.unknowns.is_empty() {
        panic!(
            "expected a fail-closed denial by rule {rule_id}, found a denial by rule {rule_id} \
             that matched ({}); use assert_denied_by",
            denial.reason()
        );
    }
    denial
}

/// The denial of `err` and what its reason says, when it is a denial by
/// `rule_id`; panics otherwise, expecting `what` (`a denial`, …).
#[track_caller]
fn denied_by<'e>(err: &'e Error, rule_id: &str, what: &str) -> (&'e Denial, ByRule<'e>) {
    let Some(denial) = err.denial() else {
        panic!("expected {what} by rule {rule_id}, found {}", describe(err));
    };
    match by_rule(denial.reason()) {
        Some(by) if by.rule == rule_id => (denial, by),
        Some(by) => panic!(
            "expected {what} by rule {rule_id}, found a denial by rule {} ({})",
            by.rule,
            denial.reason()
        ),
        None => panic!(
            "expected {what} by rule {rule_id}, found a denial by no rule ({})",
            denial.reason()
        ),
    }
}

/// What to give the call, for a fail-closed panic: `the context key
/// amount_usd`, `a number for amount_usd`.
fn fixes(unknowns: &[Unknown<'_>]) -> String {
    unknowns
        .iter()
        .map(|u| match u.expected {
            Some(expected) => format!("{expected} for context key {}", u.key),
            None => format!("the context key {}", u.key),
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// A reason naming its rule: `… by policy P rule R`, with the fail-closed
/// clauses that may follow (`: CLAUSE; CLAUSE`).
#[derive(Debug, PartialEq)]
pub(crate) struct ByRule<'r> {
    pub(crate) rule: &'r str,
    pub(crate) unknowns: Vec<Unknown<'r>>,
}

/// One fail-closed clause of a reason, as `atlasent-server` writes them:
/// `context key K is missing, so deny rule R could not be ruled out` (or
/// `is null`), or `context K is a string where a number was expected`.
#[derive(Debug, PartialEq)]
pub(crate) struct Unknown<'r> {
    pub(crate) clause: &'r str,
    pub(crate) key: &'r str,
    /// For a value of the wrong type, the type expected (`a number`); for
    /// a `null`, `a value other than null`; for a missing key, nothing.
    pub(crate) expected: Option<&'r str>,
}

/// Parse a reason that names its rule.
pub(crate) fn by_rule(reason: &str) -> Option<ByRule<'_>> {
    let (_, after_policy) = reason.split_once(" by policy ")?;
    let (_, rule) = after_policy.split_once(" rule ")?;
    let (rule, clauses) = rule.split_once(": ").unwrap_or((rule, ""));
    let rule = rule.trim_end();
    if rule.is_empty() || rule.contains(' ') {
        return None;
    }
    let unknowns = clauses
        .split("; ")
        .filter(|clause| !clause.is_empty())
        .map(unknown)
        .collect();
    Some(ByRule { rule, unknowns })
}

fn unknown(clause: &str) -> Unknown<'_> {
    if let Some(rest) = clause.strip_prefix("context key ") {
        let (key, is) = rest.split_once(" is ").unwrap_or((rest, ""));
        return Unknown {
            clause,
            key,
            expected: is.starts_with("null").then_some("a value other than null"),
        };
    }
    if let Some(rest) = clause.strip_prefix("context ") {
        if let Some((key, rest)) = rest.split_once(" is ") {
            let expected = rest
                .split_once(" where ")
                .and_then(|(_, e)| e.strip_suffix(" was expected"));
            return Unknown {
                clause,
                key,
                expected,
            };
        }
    }
    // A clause this crate does not know: still fail closed, named whole.
    Unknown {
        clause,
        key: clause,
        expected: None,
    }
}

#[cfg(test)]
mod tests {
    use super::{by_rule, ByRule, Unknown};

    #[test]
    fn reasons_name_their_rule_and_fail_closed_clauses() {
        assert_eq!(
            by_rule("denied by policy p rule r_1"),
            Some(ByRule {
                rule: "r_1",
                unknowns: vec![]
            })
        );
        let missing = "context key a is missing, so deny rule r could not be ruled out";
        let wrong = "context b is a string where a number was expected";
        let reason = format!("denied by policy p rule r: {missing}; {wrong}");
        assert_eq!(
            by_rule(&reason),
            Some(ByRule {
                rule: "r",
                unknowns: vec![
                    Unknown {
                        clause: missing,
                        key: "a",
                        expected: None
                    },
                    Unknown {
                        clause: wrong,
                        key: "b",
                        expected: Some("a number")
                    },
                ]
            })
        );
        assert_eq!(by_rule("no rule matched; the default (deny) decided"), None);
        assert_eq!(
            by_rule("no rule matched; denied by default of policy p"),
            None
        );
    }
}
