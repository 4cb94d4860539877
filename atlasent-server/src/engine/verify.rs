//! The permit's state machine at `/v1-verify-permit` and
//! `/v1-revoke-permit`: [`check`] is what a verification finds, a pure
//! function of the request, the permit as stored and the time; the jobs
//! around it apply what it found (consume, log, reply).

use super::Revocation;
use serde_json::json;

use super::{context_hash, object, replies, Caller, Shape, VerifyInput};
use super::{Mismatch, VerifyOutcome};
use crate::store::chain::EventPayload;
use crate::store::{NewEvent, PermitRow, PermitState, Tx, UsedVia, WriteError};

/// A verification as [`check`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request's shape; the reply has the same.
    pub shape: Shape,
    /// The permit asked about.
    pub permit_id: String,
    /// What the caller expects of the permit, in the order the checks run
    /// (actor, action, environment, execution hash, context hash); what is
    /// not listed is not checked.
    pub expected: Vec<(Mismatch, String)>,
    /// The caller requires an approval binding.
    pub require_approval: bool,
}

impl Request {
    /// The request of `input`: an empty actor or action, and an absent or
    /// empty context, are not checked.
    pub fn new(input: &VerifyInput<'_>) -> Request {
        let expected = [
            (
                Mismatch::Actor,
                Some(input.agent)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned),
            ),
            (
                Mismatch::Action,
                Some(input.action)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned),
            ),
            (Mismatch::Environment, input.environment.map(str::to_owned)),
            (
                Mismatch::ExecutionHash,
                input.execution_hash.map(str::to_owned),
            ),
            (
                Mismatch::Context,
                input.context.filter(|c| !c.is_empty()).map(context_hash),
            ),
        ];
        Request {
            shape: input.shape,
            permit_id: input.permit_id.to_owned(),
            expected: expected
                .into_iter()
                .filter_map(|(kind, value)| Some((kind, value?)))
                .collect(),
            require_approval: input.require_approval,
        }
    }

    /// What the caller expects of `kind`, if anything.
    pub fn expected(&self, kind: Mismatch) -> Option<&str> {
        self.expected
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, value)| value.as_str())
    }
}

/// What `permit` holds for an expectation of `kind`.
fn held(permit: &PermitRow, kind: Mismatch) -> Option<&str> {
    match kind {
        Mismatch::Actor => Some(&permit.agent),
        Mismatch::Action => Some(&permit.action),
        Mismatch::Environment => permit.environment.as_deref(),
        Mismatch::ExecutionHash => permit.execution_hash.as_deref(),
        Mismatch::Context => Some(&permit.context_hash),
    }
}

/// What verifying `permit` (`None`: no permit of the caller's organization
/// has the id) as `request` asks finds at `now_ms`, in the order the checks
/// run: not found, not a permit, revoked, used, expired, the first
/// expectation the permit does not meet, an approval required — else
/// verified. A permit without an environment or execution hash (issued
/// before schema 3) meets no expectation of one: fail closed.
pub fn check(request: &Request, permit: Option<&PermitRow>, now_ms: i64) -> VerifyOutcome {
    let Some(p) = permit else {
        return VerifyOutcome::NotFound;
    };
    if p.decision != "allow" {
        return VerifyOutcome::NotAPermit;
    }
    match p.state {
        PermitState::Revoked { .. } => return VerifyOutcome::Revoked,
        PermitState::Consumed { .. } => return VerifyOutcome::Used,
        PermitState::Active | PermitState::Denied => {}
    }
    if now_ms > p.expires_ms {
        return VerifyOutcome::Expired;
    }
    let unmet = request
        .expected
        .iter()
        .find(|(kind, asked)| held(p, *kind) != Some(asked.as_str()));
    match unmet {
        Some((kind, _)) => VerifyOutcome::Mismatch(*kind),
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
        let used = PermitState::Consumed {
            via: Some(UsedVia::Verify),
            at_ms: Some(now_ms),
        };
        tx.transition(&caller.org_id, &request.permit_id, &used)?;
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
        actor_id: owner.or(request.expected(Mismatch::Actor)),
        resource_id: permit.as_ref().map(|p| p.action.as_str()),
        payload: EventPayload::from(object(json!({
            "decision_id": request.permit_id,
            "outcome": outcome.as_str(request.shape.wire()),
            "verify_error_code": outcome.error_code(),
            "verified": verified,
            "consumed": consumed,
            "agent": request.expected(Mismatch::Actor).unwrap_or_default(),
            "action": request.expected(Mismatch::Action).unwrap_or_default(),
            "context_hash": request.expected(Mismatch::Context),
            "environment": request.expected(Mismatch::Environment),
            "execution_hash": request.expected(Mismatch::ExecutionHash),
            "require_approval": request.require_approval,
            "shape": request.shape.as_str(),
            "via": UsedVia::Verify.as_str(),
            "key_id": caller.key_id,
            "request_id": caller.request_id,
        }))),
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
pub(super) fn revoke(tx: &mut dyn Tx, revocation: &Revocation) -> Result<String, WriteError> {
    let (caller, id) = (&revocation.caller, revocation.id.as_str());
    let (reason, now_ms) = (revocation.reason.as_deref(), revocation.now_ms);
    let permit = tx.permit(&caller.org_id, id)?;
    let revoked = match permit.as_ref().map(|p| &p.state) {
        Some(PermitState::Active) => {
            tx.transition(&caller.org_id, id, &revocation.state())?;
            true
        }
        Some(PermitState::Revoked { .. }) => true,
        _ => false,
    };
    let audit_hash = tx.append(NewEvent {
        org_id: &caller.org_id,
        kind: "permit.revoked",
        decision: None,
        actor_id: permit.as_ref().map(|p| p.agent.as_str()),
        resource_id: permit.as_ref().map(|p| p.action.as_str()),
        payload: EventPayload::from(object(json!({
            "decision_id": id,
            "revoked": revoked,
            "reason": reason,
            "key_id": caller.key_id,
            "request_id": caller.request_id,
        }))),
        now_ms,
    })?;
    Ok(replies::revoke(id, revoked, now_ms, &audit_hash)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::permit_row;

    fn request(expected: &[(Mismatch, &str)]) -> Request {
        Request {
            shape: Shape::Current,
            permit_id: "dec_1".into(),
            expected: expected
                .iter()
                .map(|(kind, value)| (*kind, (*value).to_owned()))
                .collect(),
            require_approval: false,
        }
    }

    #[test]
    fn the_checks_run_in_order() {
        let p = permit_row();
        let nothing = request(&[]);
        assert_eq!(check(&nothing, None, 0), VerifyOutcome::NotFound);
        let denied = PermitRow {
            decision: "deny".into(),
            state: PermitState::Denied,
            ..permit_row()
        };
        assert_eq!(check(&nothing, Some(&denied), 0), VerifyOutcome::NotAPermit);
        let used = PermitState::Consumed {
            via: None,
            at_ms: None,
        };
        let revoked = PermitState::Revoked {
            at_ms: None,
            by: None,
            reason: None,
        };
        for (state, outcome) in [
            (revoked, VerifyOutcome::Revoked),
            (used, VerifyOutcome::Used),
        ] {
            // Revoked and used win over expired and a mismatch.
            let held = PermitRow {
                state,
                ..permit_row()
            };
            let asked = request(&[(Mismatch::Actor, "other")]);
            assert_eq!(check(&asked, Some(&held), 5_000), outcome);
        }
        assert_eq!(check(&nothing, Some(&p), 1_000), VerifyOutcome::Verified);
        assert_eq!(check(&nothing, Some(&p), 1_001), VerifyOutcome::Expired);
    }

    #[test]
    fn each_expectation_is_checked_and_an_approval_burns_the_permit() {
        let p = permit_row();
        let kinds = [
            Mismatch::Actor,
            Mismatch::Action,
            Mismatch::Environment,
            Mismatch::ExecutionHash,
            Mismatch::Context,
        ];
        for kind in kinds {
            let asked = request(&[(kind, "x")]);
            assert_eq!(check(&asked, Some(&p), 0), VerifyOutcome::Mismatch(kind));
        }
        let held = [
            (Mismatch::Actor, "bot"),
            (Mismatch::Action, "deploy"),
            (Mismatch::Environment, "prod"),
            (Mismatch::ExecutionHash, "e"),
            (Mismatch::Context, "c"),
        ];
        let mut matching = request(&held);
        assert_eq!(check(&matching, Some(&p), 0), VerifyOutcome::Verified);
        matching.require_approval = true;
        assert_eq!(
            check(&matching, Some(&p), 0),
            VerifyOutcome::ApprovalMissing
        );
    }

    #[test]
    fn a_permit_without_environment_or_execution_hash_fails_closed() {
        let old = PermitRow {
            environment: None,
            execution_hash: None,
            ..permit_row()
        };
        for kind in [Mismatch::Environment, Mismatch::ExecutionHash] {
            let asked = request(&[(kind, "prod")]);
            assert_eq!(check(&asked, Some(&old), 0), VerifyOutcome::Mismatch(kind));
        }
    }
}
