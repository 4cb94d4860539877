//! [`DenyCode`]: the machine-readable reason of a non-allow decision.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

macro_rules! deny_codes {
    ($($(#[$doc:meta])* $variant:ident = $wire:literal,)*) => {
        /// Why a decision was not an allow, as a stable UPPER_SNAKE code
        /// (`denial.code` or `deny_code` on the current wire). Branch on
        /// this, never on the human-readable reason.
        ///
        /// The wire field is open: a code this SDK does not know arrives as
        /// [`Other`](DenyCode::Other) with its text, and must be treated as
        /// a generic deny. The named codes are those of the Python SDK 2.18
        /// (`deny_codes.py`), the taxonomy codes a policy engine emits, and
        /// `MISSING_REQUIRED_CONTEXT`.
        ///
        /// ```
        /// use atlasent::DenyCode;
        /// assert_eq!(DenyCode::from("DENY_POLICY"), DenyCode::DenyPolicy);
        /// assert_eq!(DenyCode::DenyPolicy.as_str(), "DENY_POLICY");
        /// assert_eq!(DenyCode::from("NEW_CODE"), DenyCode::Other("NEW_CODE".into()));
        /// ```
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum DenyCode {
            $($(#[$doc])* $variant,)*
            /// A code this SDK does not name, as the server sent it.
            Other(String),
        }

        impl DenyCode {
            /// The code as the wire spells it, e.g. `"DENY_POLICY"`.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Other(code) => code,
                }
            }
        }

        impl From<&str> for DenyCode {
            fn from(code: &str) -> Self {
                match code {
                    $($wire => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }
        }
    };
}

deny_codes! {
    /// The action is not among the protected actions the server knows.
    UnknownProtectedAction = "UNKNOWN_PROTECTED_ACTION",
    /// The environment does not match the one required.
    EnvironmentMismatch = "ENVIRONMENT_MISMATCH",
    /// The actor has no authority for the action.
    NoAuthority = "NO_AUTHORITY",
    /// No state snapshot was available.
    NoSnapshot = "NO_SNAPSHOT",
    /// The state snapshot failed its integrity check.
    SnapshotTampered = "SNAPSHOT_TAMPERED",
    /// The action requires a state snapshot.
    SnapshotRequired = "SNAPSHOT_REQUIRED",
    /// A dependency of the action is not satisfied.
    DependencyNotSatisfied = "DEPENDENCY_NOT_SATISFIED",
    /// A signal the decision relies on is not trusted.
    SignalUntrusted = "SIGNAL_UNTRUSTED",
    /// The decision could not be made within its latency budget.
    LatencyBudgetExceeded = "LATENCY_BUDGET_EXCEEDED",
    /// A hard constraint was violated.
    HardConstraintViolated = "HARD_CONSTRAINT_VIOLATED",
    /// The stated intent does not match the action.
    IntentMismatch = "INTENT_MISMATCH",
    /// A pressure threshold was exceeded.
    PressureThresholdExceeded = "PRESSURE_THRESHOLD_EXCEEDED",
    /// The action crosses a boundary.
    BoundaryViolation = "BOUNDARY_VIOLATION",
    /// The permit is not bound to an execution.
    PermitUnboundExecution = "PERMIT_UNBOUND_EXECUTION",
    /// The execution payload hash is required.
    ExecutionPayloadHashRequired = "EXECUTION_PAYLOAD_HASH_REQUIRED",
    /// Fewer verified human approvals than the policy requires: route the
    /// action to a human and evaluate again.
    InsufficientApprovals = "INSUFFICIENT_APPROVALS",
    /// A deny rule of the policy fired.
    DenyPolicy = "DENY_POLICY",
    /// No rule decided and the policy's default is deny.
    NoTemplateMatch = "NO_TEMPLATE_MATCH",
    /// A hold rule fired: a human must decide.
    ActorHeld = "ACTOR_HELD",
    /// An escalate rule fired: a human must decide.
    EscalateRequired = "ESCALATE_REQUIRED",
    /// An allow rule matched but the context lacked a key it requires.
    MissingRequiredContext = "MISSING_REQUIRED_CONTEXT",
}

impl DenyCode {
    /// Whether the code says a human must approve (Python's
    /// `requires_human_approval`): [`InsufficientApprovals`](Self::InsufficientApprovals).
    pub fn requires_human_approval(&self) -> bool {
        *self == Self::InsufficientApprovals
    }
}

impl From<String> for DenyCode {
    fn from(code: String) -> Self {
        match Self::from(code.as_str()) {
            Self::Other(_) => Self::Other(code),
            named => named,
        }
    }
}

impl FromStr for DenyCode {
    type Err = std::convert::Infallible;

    /// Never fails: an unknown code is [`DenyCode::Other`].
    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(code))
    }
}

impl fmt::Display for DenyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DenyCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_code_round_trips_through_its_spelling() {
        for code in [
            DenyCode::UnknownProtectedAction,
            DenyCode::ExecutionPayloadHashRequired,
            DenyCode::InsufficientApprovals,
            DenyCode::DenyPolicy,
            DenyCode::NoTemplateMatch,
            DenyCode::ActorHeld,
            DenyCode::EscalateRequired,
            DenyCode::MissingRequiredContext,
        ] {
            assert_eq!(DenyCode::from(code.as_str()), code);
            assert_eq!(code.to_string(), code.as_str());
            assert_eq!(
                serde_json::to_value(&code).expect("serializes"),
                serde_json::Value::String(code.as_str().to_owned())
            );
        }
    }

    #[test]
    fn an_unknown_code_is_other_and_keeps_its_text() {
        let code: DenyCode = "deny_policy".parse().expect("infallible");
        assert_eq!(code, DenyCode::Other("deny_policy".into()));
        assert_eq!(code.as_str(), "deny_policy");
        assert!(!code.requires_human_approval());
        assert!(DenyCode::InsufficientApprovals.requires_human_approval());
    }
}
