//! The permit's state machine at `/v1-verify-permit` and
//! `/v1-revoke-permit`: [`check`] is what a verification finds, a pure
//! function of the request, the permit as stored and the time; the jobs
//! around it apply what it found (consume, log, reply).

use serde_json::json;

use super::{context_hash, object, replies, Caller, Shape, VerifyInput};
use super::{Mismatch, VerifyOutcome};
use crate::store::{NewEvent, PermitRow, PermitState, Tx, UsedVia, WriteError};

/// A verification as [`check`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request's shape; the reply has the same.
    pub shape: Shape,
    /// The permit asked about.
    pub permit_id: String,
    /// The actor the caller expects (`""`: not checked).
    pub agent: String,
    /// The action the caller expects (`""`: not checked).
    pub action: String,
    /// The hash of the context the caller expects (`None`: not checked,
    /// also for a `{}` context).
    pub context_hash: Option<String>,
    /// The environment the caller expects (`None`: not checked).
    pub environment: Option<String>,
    /// The execution hash the caller expects (`None`: not checked).
    pub execution_hash: Option<String>,
    /// The caller requires an approval binding.
    pub require_approval: bool,
}

impl Request {
    /// The request of `input`.
    pub fn new(input: &VerifyInput<'_>) -> Request {
        Request {
            shape: input.shape,
            permit_id: input.permit_id.to_owned(),
            agent: input.agent.to_owned(),
            action: input.action.to_owned(),
            context_hash: input.context.filter(|c| !c.is_empty()).map(context_hash),
            environment: input.environment.map(str::to_owned),
            execution_hash: input.execution_hash.map(str::to_owned),
            require_approval: input.require_approval,
        }
    }
}

/// What verifying `permit` (`None`: no permit of the caller's organization
/// has the id) as `request` asks finds at `now_ms`, in the order the checks
/// run: not found, not a permit, revoked, used, expired, a mismatch
/// (actor, action, environment, execution hash, context), an approval
/// required — else verified.
pub fn check(request: &Request, permit: Option<&PermitRow>, now_ms: i64) -> VerifyOutcome {
    let Some(p) = permit else {
        return VerifyOutcome::NotFound;
    };
    if p.decision != "allow" {
        return VerifyOutcome::NotAPermit;
    }
    match p.state {
        PermitState::Revoked => return VerifyOutcome::Revoked,
        PermitState::Consumed => return VerifyOutcome::Used,
        PermitState::Active | PermitState::Denied => {}
    }
    if now_ms > p.expires_ms {
        return VerifyOutcome::Expired;
    }
    let differs = |asked: &str, held: &str| !asked.is_empty() && asked != held;
    let asked_other = |asked: &Option<String>, held: Option<&String>| {
        asked.as_ref().is_some_and(|a| Some(a) != held)
    };
    let mismatch = if differs(&request.agent, &p.agent) {
        Some(Mismatch::Actor)
    } else if differs(&request.action, &p.action) {
        Some(Mismatch::Action)
    } else if asked_other(&request.environment, p.environment.as_ref()) {
        Some(Mismatch::Environment)
    } else if asked_other(&request.execution_hash, p.execution_hash.as_ref()) {
        Some(Mismatch::ExecutionHash)
    } else if asked_other(&request.context_hash, Some(&p.context_hash)) {
        Some(Mismatch::Context)
    } else {
        None
    };
    match mismatch {
        Some(m) => VerifyOutcome::Mismatch(m),
        None if request.require_approval => VerifyOutcome::ApprovalMissing,
        None => VerifyOutcome::Verified,
    }
}

/// Verify (and consume) the permit of `request`; returns the reply.
pub(super) fn verify(
    tx: &mut dyn Tx,
    caller: &Caller,
    request: &Request,
    now_ms: i64,
) -> Result<String, WriteError> {
    let permit = tx.permit(&caller.org_id, &request.permit_id)?;
    let outcome = check(request, permit.as_ref(), now_ms);
    let verified = outcome == VerifyOutcome::Verified;
    let consumed = outcome.consumes();
    if consumed {
        tx.consume(&caller.org_id, &request.permit_id, UsedVia::Verify, now_ms)?;
    }
    let owner = permit.as_ref().map(|p| p.agent.as_str());
    let audit_hash = tx.append(NewEvent {
        org_id: &caller.org_id,
        kind: if verified {
            "permit.verified"
        } else {
            "permit.rejected"
        },
        decision: None,
        actor_id: owner.or(Some(request.agent.as_str()).filter(|a| !a.is_empty())),
        resource_id: permit.as_ref().map(|p| p.action.as_str()),
        payload: object(json!({
            "decision_id": request.permit_id,
            "outcome": outcome.as_str(request.shape.wire()),
            "verify_error_code": outcome.error_code(),
            "verified": verified,
            "consumed": consumed,
            "agent": request.agent,
            "action": request.action,
            "context_hash": request.context_hash,
            "environment": request.environment,
            "execution_hash": request.execution_hash,
            "require_approval": request.require_approval,
            "shape": request.shape.as_str(),
            "via": UsedVia::Verify.as_str(),
            "key_id": caller.key_id,
            "request_id": caller.request_id,
        })),
        now_ms,
    })?;
    Ok(replies::verify(
        caller,
        request,
        permit.as_ref(),
        outcome,
        &audit_hash,
        now_ms,
    )?)
}

/// Revoke permit `id` (`/v1-revoke-permit`): an active permit becomes
/// revoked; a revoked one stays so (`revoked: true`); anything else is not
/// revoked. Every call is logged. Returns the reply.
pub(super) fn revoke(
    tx: &mut dyn Tx,
    caller: &Caller,
    id: &str,
    reason: Option<&str>,
    now_ms: i64,
) -> Result<String, WriteError> {
    let permit = tx.permit(&caller.org_id, id)?;
    let revoked = match permit.as_ref().map(|p| p.state) {
        Some(PermitState::Active) => {
            tx.revoke(&caller.org_id, id, now_ms, &caller.key_id, reason)?;
            true
        }
        Some(PermitState::Revoked) => true,
        _ => false,
    };
    let audit_hash = tx.append(NewEvent {
        org_id: &caller.org_id,
        kind: "permit.revoked",
        decision: None,
        actor_id: permit.as_ref().map(|p| p.agent.as_str()),
        resource_id: permit.as_ref().map(|p| p.action.as_str()),
        payload: object(json!({
            "decision_id": id,
            "revoked": revoked,
            "reason": reason,
            "key_id": caller.key_id,
            "request_id": caller.request_id,
        })),
        now_ms,
    })?;
    Ok(replies::revoke(id, revoked, now_ms, &audit_hash)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permit() -> PermitRow {
        PermitRow {
            id: "dec_1".into(),
            org_id: "o".into(),
            agent: "bot".into(),
            action: "deploy".into(),
            context_hash: "c".into(),
            decision: "allow".into(),
            state: PermitState::Active,
            issued_ms: 0,
            expires_ms: 1_000,
            permit_hash: "sig".into(),
            environment: Some("prod".into()),
            execution_hash: Some("e".into()),
            used_via: None,
            used_ms: None,
            revoked_ms: None,
            revoked_by: None,
            revoke_reason: None,
        }
    }

    fn request() -> Request {
        Request {
            shape: Shape::Current,
            permit_id: "dec_1".into(),
            agent: String::new(),
            action: String::new(),
            context_hash: None,
            environment: None,
            execution_hash: None,
            require_approval: false,
        }
    }

    #[test]
    fn the_checks_run_in_order() {
        let p = permit();
        assert_eq!(check(&request(), None, 0), VerifyOutcome::NotFound);
        let denied = PermitRow {
            decision: "deny".into(),
            state: PermitState::Denied,
            ..permit()
        };
        assert_eq!(
            check(&request(), Some(&denied), 0),
            VerifyOutcome::NotAPermit
        );
        for (state, outcome) in [
            (PermitState::Revoked, VerifyOutcome::Revoked),
            (PermitState::Consumed, VerifyOutcome::Used),
        ] {
            // Revoked and used win over expired and a mismatch.
            let held = PermitRow { state, ..permit() };
            let asked = Request {
                agent: "other".into(),
                ..request()
            };
            assert_eq!(check(&asked, Some(&held), 5_000), outcome);
        }
        assert_eq!(check(&request(), Some(&p), 1_000), VerifyOutcome::Verified);
        assert_eq!(check(&request(), Some(&p), 1_001), VerifyOutcome::Expired);
    }

    #[test]
    fn each_expectation_is_checked() {
        let p = permit();
        let cases = [
            (
                Request {
                    agent: "x".into(),
                    ..request()
                },
                Mismatch::Actor,
            ),
            (
                Request {
                    action: "x".into(),
                    ..request()
                },
                Mismatch::Action,
            ),
            (
                Request {
                    environment: Some("dev".into()),
                    ..request()
                },
                Mismatch::Environment,
            ),
            (
                Request {
                    execution_hash: Some("x".into()),
                    ..request()
                },
                Mismatch::ExecutionHash,
            ),
            (
                Request {
                    context_hash: Some("x".into()),
                    ..request()
                },
                Mismatch::Context,
            ),
        ];
        for (asked, mismatch) in cases {
            assert_eq!(
                check(&asked, Some(&p), 0),
                VerifyOutcome::Mismatch(mismatch)
            );
        }
        let matching = Request {
            agent: "bot".into(),
            action: "deploy".into(),
            environment: Some("prod".into()),
            execution_hash: Some("e".into()),
            context_hash: Some("c".into()),
            ..request()
        };
        assert_eq!(check(&matching, Some(&p), 0), VerifyOutcome::Verified);
        let approval = Request {
            require_approval: true,
            ..matching
        };
        assert_eq!(
            check(&approval, Some(&p), 0),
            VerifyOutcome::ApprovalMissing
        );
    }

    #[test]
    fn a_permit_without_environment_or_execution_hash_fails_closed() {
        let old = PermitRow {
            environment: None,
            execution_hash: None,
            ..permit()
        };
        let env = Request {
            environment: Some("prod".into()),
            ..request()
        };
        assert_eq!(
            check(&env, Some(&old), 0),
            VerifyOutcome::Mismatch(Mismatch::Environment)
        );
        let hash = Request {
            execution_hash: Some("e".into()),
            ..request()
        };
        assert_eq!(
            check(&hash, Some(&old), 0),
            VerifyOutcome::Mismatch(Mismatch::ExecutionHash)
        );
    }
}
