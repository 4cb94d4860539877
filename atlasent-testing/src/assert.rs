//! Assertions on guarded calls: [`BodyProbe`], [`assert_denied`],
//! [`assert_denied_by`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use atlasent::{Denial, Error};

/// Counts how often a guarded body ran: call [`hit`](BodyProbe::hit)
/// first thing in the body, then assert
/// [`assert_never_ran`](BodyProbe::assert_never_ran) after a denial or a
/// fault, [`assert_ran_once`](BodyProbe::assert_ran_once) after an allow.
/// Clones share one counter; it is `Send + Sync`, so a `static` or a clone
/// moved into a task works alike.
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
        let n = self.count();
        assert!(
            n == 0,
            "the guarded body ran {n} time{} where it should never have run",
            plural(n)
        );
    }

    /// Assert that the body ran exactly once.
    ///
    /// # Panics
    ///
    /// When it ran another number of times, saying how many.
    #[track_caller]
    pub fn assert_ran_once(&self) {
        let n = self.count();
        assert!(
            n == 1,
            "the guarded body ran {n} time{} where it should have run once",
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

/// Assert that `err` is a denial by the rule `rule_id` (its reason reads
/// `denied by policy P rule RULE_ID`), and return the denial.
///
/// # Panics
///
/// When `err` is not a denial, or a denial by another rule or by a
/// policy's default, naming what was found and the reason.
#[track_caller]
pub fn assert_denied_by<'e>(err: &'e Error, rule_id: &str) -> &'e Denial {
    let Some(denial) = err.denial() else {
        panic!(
            "expected a denial by rule {rule_id}, found {}",
            describe(err)
        );
    };
    match rule_of(denial.reason()) {
        Some(rule) if rule == rule_id => denial,
        Some(rule) => panic!(
            "expected a denial by rule {rule_id}, found a denial by rule {rule} ({})",
            denial.reason()
        ),
        None => panic!(
            "expected a denial by rule {rule_id}, found a denial by no rule ({})",
            denial.reason()
        ),
    }
}

/// The rule a reason names: `… by policy P rule R` or `… rule R: why`.
pub(crate) fn rule_of(reason: &str) -> Option<&str> {
    let (_, after_policy) = reason.split_once(" by policy ")?;
    let (_, rule) = after_policy.split_once(" rule ")?;
    let end = rule.find([':', ' ']).unwrap_or(rule.len());
    Some(&rule[..end]).filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::rule_of;

    #[test]
    fn reasons_name_their_rule() {
        assert_eq!(rule_of("denied by policy p rule r_1"), Some("r_1"));
        assert_eq!(
            rule_of("denied by policy p rule r: context key a is missing, so deny rule r could not be ruled out"),
            Some("r")
        );
        assert_eq!(rule_of("no rule matched; the default (deny) decided"), None);
    }
}
