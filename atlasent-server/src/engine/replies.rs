//! The reply bodies of `/v1-evaluate`, `/v1-verify-permit` and
//! `/v1-revoke-permit` in both shapes, written from the contract's types
//! ([`atlasent::wire`]). They are built inside the store's write
//! transaction because a retry with the same request id is answered with
//! the stored text.

use atlasent::wire::{
    CurrentDenial, CurrentEvaluateResponse, CurrentVerifyResponse, EvaluateResponse,
    RevokeResponse, VerifyResponse,
};

use super::evaluate::Decided;
use super::verify::Request;
use super::{Caller, Mismatch, Shape, VerifyOutcome};
use crate::clock;
use crate::store::PermitRow;

/// The current wire's `reason` of a verification: a sentence for an
/// operator.
fn verify_reason(outcome: VerifyOutcome) -> &'static str {
    match outcome {
        VerifyOutcome::Verified => "the permit is valid; it is now consumed",
        VerifyOutcome::NotFound | VerifyOutcome::NotAPermit => "no permit with this id",
        VerifyOutcome::Revoked => "the permit was revoked",
        VerifyOutcome::Used => "the permit was already used",
        VerifyOutcome::Expired => "the permit has expired",
        VerifyOutcome::Mismatch(Mismatch::Actor) => "the permit was issued to another actor",
        VerifyOutcome::Mismatch(Mismatch::Action) => "the permit was issued for another action",
        VerifyOutcome::Mismatch(Mismatch::Environment) => {
            "the permit was issued for another environment"
        }
        VerifyOutcome::Mismatch(Mismatch::ExecutionHash) => {
            "the execution hash differs from the one of the evaluated request"
        }
        VerifyOutcome::Mismatch(Mismatch::Context) => {
            "the context differs from the one of the evaluated request"
        }
        VerifyOutcome::ApprovalMissing => {
            "approval required, and this server has no approval workflow; \
             the permit is consumed"
        }
    }
}

/// The `/v1-evaluate` reply: 1.4.1's `{permitted, decision_id, reason,
/// audit_hash, timestamp, expires_at?}` (`expires_at` added on an allow;
/// 1.4.1 ignores members it does not know), or the current wire's.
pub(super) fn evaluate(d: &Decided, audit_hash: &str) -> serde_json::Result<String> {
    let (p, reason) = (&d.permit, &d.decision.reason);
    let permit = d.decision.effect.issues_permit();
    let timestamp = clock::rfc3339_ms(p.issued_ms);
    let expires_at = permit.then(|| clock::rfc3339_ms(p.expires_ms));
    match d.shape {
        Shape::Legacy => serde_json::to_string(&EvaluateResponse {
            permitted: permit,
            decision_id: p.id.clone(),
            reason: reason.clone(),
            audit_hash: audit_hash.to_owned(),
            timestamp,
            expires_at,
        }),
        Shape::Current => serde_json::to_string(&CurrentEvaluateResponse {
            decision: Some(p.decision.clone()),
            permit_token: permit.then(|| p.id.clone()),
            evaluation_id: Some(p.id.clone()),
            expires_at,
            denial: (!permit).then(|| CurrentDenial {
                reason: Some(reason.clone()),
                code: Some(
                    d.decision
                        .code
                        .as_deref()
                        .unwrap_or("DENY_POLICY")
                        .to_owned(),
                ),
            }),
            escalation_id: d.escalation_id.clone(),
            reasons: Some(
                Some(reason.clone())
                    .filter(|r| !r.is_empty())
                    .into_iter()
                    .collect(),
            ),
            request_id: Some(d.caller.request_id.clone()),
            audit_hash: Some(audit_hash.to_owned()),
            timestamp: Some(timestamp),
            ..CurrentEvaluateResponse::default()
        }),
    }
}

/// The `/v1-verify-permit` reply. 1.4.1's names the permit it is about
/// (`decision_id`), so that a client can bind the reply to its request
/// (1.4.1 lacks it and ignores members it does not know).
pub(super) fn verify(
    caller: &Caller,
    request: &Request,
    permit: Option<&PermitRow>,
    outcome: VerifyOutcome,
    audit_hash: &str,
    now_ms: i64,
) -> serde_json::Result<String> {
    let verified = outcome == VerifyOutcome::Verified;
    let permit_hash = match permit {
        Some(p) if verified => p.permit_hash.clone(),
        _ => String::new(),
    };
    let timestamp = clock::rfc3339_ms(now_ms);
    match request.shape {
        Shape::Legacy => serde_json::to_string(&VerifyResponse {
            verified,
            decision_id: Some(request.permit_id.clone()),
            outcome: outcome.as_str(atlasent::Wire::Legacy).to_owned(),
            permit_hash,
            timestamp,
            audit_hash: Some(audit_hash.to_owned()),
        }),
        Shape::Current => serde_json::to_string(&CurrentVerifyResponse {
            valid: Some(verified),
            outcome: Some(outcome.as_str(atlasent::Wire::Current).to_owned()),
            verify_error_code: outcome.error_code().map(str::to_owned),
            reason: Some(verify_reason(outcome).to_owned()),
            consumed: Some(outcome.consumes()),
            permit_token: Some(request.permit_id.clone()),
            // A decision that issued no permit has no expiry to tell.
            expires_at: permit
                .filter(|p| p.decision == "allow")
                .map(|p| clock::rfc3339_ms(p.expires_ms)),
            permit_hash: Some(permit_hash),
            audit_hash: Some(audit_hash.to_owned()),
            timestamp: Some(timestamp),
            request_id: Some(caller.request_id.clone()),
            ..CurrentVerifyResponse::default()
        }),
    }
}

/// The `/v1-revoke-permit` reply.
pub(super) fn revoke(
    id: &str,
    revoked: bool,
    now_ms: i64,
    audit_hash: &str,
) -> serde_json::Result<String> {
    serde_json::to_string(&RevokeResponse {
        audit_hash: Some(audit_hash.to_owned()),
        decision_id: id.to_owned(),
        revoked,
        revoked_at: Some(clock::rfc3339_ms(now_ms)),
    })
}
