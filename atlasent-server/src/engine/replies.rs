//! The reply bodies of `/v1-evaluate` and `/v1-verify-permit` in both
//! shapes. They are written inside the writer's transaction because a retry
//! with the same request id is answered with the stored text.

use serde::Serialize;

use super::{EvaluateCmd, PermitRow, Refusal, Shape, VerifyCmd};
use crate::clock;

/// What a verification found, in the order the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum VerifyOutcome {
    /// No permit of the caller's organization has this id.
    NotFound,
    /// The id is a decision that issued no permit (deny, hold, escalate).
    NotAPermit,
    Revoked,
    /// Used before, through either door.
    Used,
    Expired,
    Mismatch(Mismatch),
    /// `require_approval` was asked: the permit is burned, not valid.
    ApprovalMissing,
    /// Valid, and now consumed.
    Verified,
}

/// Which expectation of the caller the permit does not meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mismatch {
    Actor,
    Action,
    Environment,
    ExecutionHash,
    /// The 1.4.1 wire's context cross-check.
    Context,
}

impl VerifyOutcome {
    /// The `outcome` member in `shape`.
    pub(super) fn as_str(self, shape: Shape) -> &'static str {
        match (shape, self) {
            (_, Self::Verified) => "verified",
            (_, Self::ApprovalMissing) => "approval_missing",
            (Shape::Legacy, Self::NotFound) => "not_found",
            // The 1.4.1 wire has always told a denied decision's id apart.
            (Shape::Legacy, Self::NotAPermit) => "denied",
            (Shape::Legacy, Self::Revoked) => "revoked",
            (Shape::Legacy, Self::Used) => "consumed",
            (Shape::Legacy, Self::Expired) => "expired",
            (Shape::Legacy, Self::Mismatch(_)) => "mismatch",
            (Shape::Current, Self::NotFound | Self::NotAPermit) => "permit_not_found",
            (Shape::Current, Self::Revoked) => "permit_revoked",
            (Shape::Current, Self::Used) => "permit_consumed",
            (Shape::Current, Self::Expired) => "permit_expired",
            (Shape::Current, Self::Mismatch(_)) => "permit_mismatch",
        }
    }

    /// The current wire's `verify_error_code` (`None` when valid).
    pub(super) fn code(self) -> Option<&'static str> {
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

    /// Whether this verification burns the permit.
    pub(super) fn consumes(self) -> bool {
        matches!(self, Self::Verified | Self::ApprovalMissing)
    }

    /// The current wire's `reason`: a sentence for an operator.
    fn reason(self) -> &'static str {
        match self {
            Self::Verified => "the permit is valid; it is now consumed",
            Self::NotFound | Self::NotAPermit => "no permit with this id",
            Self::Revoked => "the permit was revoked",
            Self::Used => "the permit was already used",
            Self::Expired => "the permit has expired",
            Self::Mismatch(Mismatch::Actor) => "the permit was issued to another actor",
            Self::Mismatch(Mismatch::Action) => "the permit was issued for another action",
            Self::Mismatch(Mismatch::Environment) => {
                "the permit was issued for another environment"
            }
            Self::Mismatch(Mismatch::ExecutionHash) => {
                "the execution hash differs from the one of the evaluated request"
            }
            Self::Mismatch(Mismatch::Context) => {
                "the context differs from the one of the evaluated request"
            }
            Self::ApprovalMissing => {
                "approval required, and this server has no approval workflow; \
                 the permit is consumed"
            }
        }
    }
}

fn to_text(body: &impl Serialize) -> Result<String, Refusal> {
    serde_json::to_string(body)
        .map_err(|e| Refusal::Sql(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))
}

/// The 1.4.1 evaluate reply (`expires_at` added on an allow; 1.4.1 ignores
/// members it does not know).
#[derive(Serialize)]
struct LegacyEvaluate<'a> {
    permitted: bool,
    decision_id: &'a str,
    reason: &'a str,
    audit_hash: &'a str,
    timestamp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

#[derive(Serialize)]
struct Denial<'a> {
    reason: &'a str,
    code: &'a str,
}

/// The current evaluate reply.
#[derive(Serialize)]
struct CurrentEvaluate<'a> {
    decision: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    permit_token: Option<&'a str>,
    evaluation_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    denial: Option<Denial<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    escalation_id: Option<&'a str>,
    reasons: Vec<&'a str>,
    request_id: &'a str,
    audit_hash: &'a str,
    timestamp: &'a str,
}

pub(super) fn evaluate(c: &EvaluateCmd, audit_hash: &str) -> Result<String, Refusal> {
    let permit = c.effect.issues_permit();
    let timestamp = clock::rfc3339_ms(c.now_ms);
    let expires_at = permit.then(|| clock::rfc3339_ms(c.expires_ms));
    match c.shape {
        Shape::Legacy => to_text(&LegacyEvaluate {
            permitted: permit,
            decision_id: &c.permit_id,
            reason: &c.reason,
            audit_hash,
            timestamp: &timestamp,
            expires_at,
        }),
        Shape::Current => to_text(&CurrentEvaluate {
            decision: c.effect.as_str(),
            permit_token: permit.then_some(c.permit_id.as_str()),
            evaluation_id: &c.permit_id,
            expires_at,
            denial: (!permit).then(|| Denial {
                reason: &c.reason,
                code: c.code.as_deref().unwrap_or("DENY_POLICY"),
            }),
            escalation_id: c.escalation_id.as_deref(),
            reasons: Some(c.reason.as_str())
                .filter(|r| !r.is_empty())
                .into_iter()
                .collect(),
            request_id: &c.caller.request_id,
            audit_hash,
            timestamp: &timestamp,
        }),
    }
}

/// The 1.4.1 verify reply. `decision_id` names the permit this answer is
/// about, so that a client can bind the reply to its request (1.4.1 lacks
/// it and ignores members it does not know).
#[derive(Serialize)]
struct LegacyVerify<'a> {
    verified: bool,
    decision_id: &'a str,
    outcome: &'a str,
    permit_hash: &'a str,
    timestamp: &'a str,
    audit_hash: &'a str,
}

/// The current verify reply.
#[derive(Serialize)]
struct CurrentVerify<'a> {
    valid: bool,
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    verify_error_code: Option<&'a str>,
    reason: &'a str,
    consumed: bool,
    permit_token: &'a str,
    expires_at: Option<String>,
    permit_hash: &'a str,
    audit_hash: &'a str,
    timestamp: &'a str,
    request_id: &'a str,
}

pub(super) fn verify(
    c: &VerifyCmd,
    permit: Option<&PermitRow>,
    outcome: VerifyOutcome,
    audit_hash: &str,
) -> Result<String, Refusal> {
    let verified = outcome == VerifyOutcome::Verified;
    let permit_hash = match permit {
        Some(p) if verified => p.permit_hash.as_str(),
        _ => "",
    };
    let timestamp = clock::rfc3339_ms(c.now_ms);
    match c.shape {
        Shape::Legacy => to_text(&LegacyVerify {
            verified,
            decision_id: &c.permit_id,
            outcome: outcome.as_str(Shape::Legacy),
            permit_hash,
            timestamp: &timestamp,
            audit_hash,
        }),
        Shape::Current => to_text(&CurrentVerify {
            valid: verified,
            outcome: outcome.as_str(Shape::Current),
            verify_error_code: outcome.code(),
            reason: outcome.reason(),
            consumed: outcome.consumes(),
            permit_token: &c.permit_id,
            // A decision that issued no permit has no expiry to tell.
            expires_at: permit
                .filter(|p| p.decision == "allow")
                .map(|p| clock::rfc3339_ms(p.expires_ms)),
            permit_hash,
            audit_hash,
            timestamp: &timestamp,
            request_id: &c.caller.request_id,
        }),
    }
}
