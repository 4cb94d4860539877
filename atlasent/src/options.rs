//! [`EvaluateOptions`]: the optional members of a current-wire evaluation.

use crate::client::MAX_NAME_CHARS;
use crate::error::Error;
use crate::paging::query_setters;
use crate::wire::limits::MAX_RESOURCE_ID_CHARS;

/// The optional members of `POST /v1-evaluate` on the current wire
/// ([`Client::evaluate_with`](crate::Client::evaluate_with)); each is sent
/// only when set. The 1.4.1 shape has none of them: on
/// [`Wire::Legacy`](crate::Wire::Legacy) a call with any of them set is
/// refused before anything is sent (dropping `require_approval` would
/// weaken the decision).
///
/// ```
/// let options = atlasent::EvaluateOptions::default()
///     .resource_id("repo/main")
///     .environment("production")
///     .require_approval(true);
/// assert_eq!(options.environment.as_deref(), Some("production"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EvaluateOptions {
    /// The resource acted on (at most 512 characters).
    pub resource_id: Option<String>,
    /// An amount the policy may test (finite).
    pub amount: Option<f64>,
    /// The environment the action runs in.
    pub environment: Option<String>,
    /// Ask for a human approval before any allow.
    pub require_approval: Option<bool>,
    /// Ask for an explanation of the decision.
    pub explain: Option<bool>,
    /// The evaluation profile to apply.
    pub evaluation_profile: Option<String>,
}

impl EvaluateOptions {
    query_setters! {
        /// The resource acted on.
        resource_id(id);
        /// The environment the action runs in.
        environment(environment);
        /// The evaluation profile to apply.
        evaluation_profile(profile);
    }
    query_setters! {
        typed;
        /// An amount the policy may test.
        amount(amount: f64);
        /// Ask for a human approval before any allow.
        require_approval(require: bool);
        /// Ask for an explanation of the decision.
        explain(explain: bool);
    }

    /// The name of the first option set, if any.
    pub(crate) fn first_set(&self) -> Option<&'static str> {
        [
            ("resource_id", self.resource_id.is_some()),
            ("amount", self.amount.is_some()),
            ("environment", self.environment.is_some()),
            ("require_approval", self.require_approval.is_some()),
            ("explain", self.explain.is_some()),
            ("evaluation_profile", self.evaluation_profile.is_some()),
        ]
        .into_iter()
        .find_map(|(name, set)| set.then_some(name))
    }

    /// Refuse values the wire cannot carry or the contract bounds.
    pub(crate) fn check(&self) -> Result<(), Error> {
        let too_long = |what: &str, value: &Option<String>, limit: usize| {
            let chars = value.as_deref().map_or(0, |v| v.chars().count());
            if chars > limit {
                return Err(Error::invalid(format!(
                    "{what} is {chars} characters long; the limit is {limit}"
                )));
            }
            Ok(())
        };
        too_long("resource_id", &self.resource_id, MAX_RESOURCE_ID_CHARS)?;
        too_long("environment", &self.environment, MAX_NAME_CHARS)?;
        too_long(
            "evaluation_profile",
            &self.evaluation_profile,
            MAX_NAME_CHARS,
        )?;
        if let Some(amount) = self.amount.filter(|a| !a.is_finite()) {
            return Err(Error::invalid(format!(
                "amount must be a finite number, got {amount}"
            )));
        }
        Ok(())
    }
}
