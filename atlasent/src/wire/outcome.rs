//! The outcome spellings of the contract, written once: what a verification
//! found ([`VerifyOutcome`]) in both wire shapes, with the current wire's
//! `verify_error_code`. The decision spellings (`allow`, `deny`, `hold`,
//! `escalate`) are [`Decision::wire_str`](crate::Decision::wire_str); the
//! permit statuses are [`PermitStatus`](super::PermitStatus).

use crate::Wire;

/// What a verification of a permit found, in the order a server checks.
///
/// ```
/// use atlasent::wire::VerifyOutcome;
/// use atlasent::Wire;
/// assert_eq!(VerifyOutcome::Used.as_str(Wire::Legacy), "consumed");
/// assert_eq!(VerifyOutcome::Used.as_str(Wire::Current), "permit_consumed");
/// assert_eq!(VerifyOutcome::Used.error_code(), Some("PERMIT_CONSUMED"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerifyOutcome {
    /// No permit of the caller's organization has this id.
    NotFound,
    /// The id is a decision that issued no permit (deny, hold, escalate).
    NotAPermit,
    /// The permit was revoked.
    Revoked,
    /// The permit was used before, through either door.
    Used,
    /// The permit has expired.
    Expired,
    /// The permit does not meet one of the caller's expectations.
    Mismatch(Mismatch),
    /// An approval was required and the permit carries none: the permit is
    /// burned, not valid.
    ApprovalMissing,
    /// Valid, and now consumed.
    Verified,
}

/// Which expectation of the caller a permit does not meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mismatch {
    /// Issued to another actor (agent).
    Actor,
    /// Issued for another action.
    Action,
    /// Issued for another environment.
    Environment,
    /// The execution hash differs from the evaluated request's.
    ExecutionHash,
    /// The 1.4.1 wire's context cross-check failed.
    Context,
}

impl VerifyOutcome {
    /// Every outcome (each mismatch once).
    pub const ALL: [VerifyOutcome; 12] = [
        Self::NotFound,
        Self::NotAPermit,
        Self::Revoked,
        Self::Used,
        Self::Expired,
        Self::Mismatch(Mismatch::Actor),
        Self::Mismatch(Mismatch::Action),
        Self::Mismatch(Mismatch::Environment),
        Self::Mismatch(Mismatch::ExecutionHash),
        Self::Mismatch(Mismatch::Context),
        Self::ApprovalMissing,
        Self::Verified,
    ];

    /// The `outcome` member of a `/v1-verify-permit` reply in `wire`.
    pub const fn as_str(self, wire: Wire) -> &'static str {
        match (wire, self) {
            (_, Self::Verified) => "verified",
            (_, Self::ApprovalMissing) => "approval_missing",
            (Wire::Legacy, Self::NotFound) => "not_found",
            // The 1.4.1 wire has always told a denied decision's id apart.
            (Wire::Legacy, Self::NotAPermit) => "denied",
            (Wire::Legacy, Self::Revoked) => "revoked",
            (Wire::Legacy, Self::Used) => "consumed",
            (Wire::Legacy, Self::Expired) => "expired",
            (Wire::Legacy, Self::Mismatch(_)) => "mismatch",
            (Wire::Current, Self::NotFound | Self::NotAPermit) => "permit_not_found",
            (Wire::Current, Self::Revoked) => "permit_revoked",
            (Wire::Current, Self::Used) => "permit_consumed",
            (Wire::Current, Self::Expired) => "permit_expired",
            (Wire::Current, Self::Mismatch(_)) => "permit_mismatch",
        }
    }

    /// The current wire's `verify_error_code` (`None` when valid).
    pub const fn error_code(self) -> Option<&'static str> {
        Some(match self {
            Self::Verified => return None,
            Self::NotFound | Self::NotAPermit => "PERMIT_NOT_FOUND",
            Self::Revoked => "PERMIT_REVOKED",
            Self::Used => "PERMIT_CONSUMED",
            Self::Expired => "PERMIT_EXPIRED",
            Self::Mismatch(Mismatch::Actor) => "ACTOR_MISMATCH",
            Self::Mismatch(Mismatch::Action) => "ACTION_MISMATCH",
            Self::Mismatch(Mismatch::Environment) => "ENVIRONMENT_MISMATCH",
            Self::Mismatch(Mismatch::ExecutionHash) => "EXECUTION_HASH_MISMATCH",
            Self::Mismatch(Mismatch::Context) => "CONTEXT_MISMATCH",
            Self::ApprovalMissing => "APPROVAL_LINKAGE_MISSING",
        })
    }

    /// Whether this verification burns the permit (the current wire's
    /// `consumed`): a valid one, and one that lacked its approval.
    pub const fn consumes(self) -> bool {
        matches!(self, Self::Verified | Self::ApprovalMissing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_verified_has_no_error_code() {
        for outcome in VerifyOutcome::ALL {
            assert_eq!(
                outcome.error_code().is_none(),
                outcome == VerifyOutcome::Verified
            );
            assert!(!outcome.as_str(Wire::Legacy).is_empty());
        }
    }
}
