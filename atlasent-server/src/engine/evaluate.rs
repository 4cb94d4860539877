//! An evaluation: the policies decide, an approval the caller requires
//! turns an allow into a deny (this server has no approval workflow), an
//! allow's claims are signed; then the decision is recorded (a permit row
//! for every decision, an event, the reply).

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::INSUFFICIENT_APPROVALS;
use super::{context_hash, ids, replies, Caller, EngineError, EvaluateInput, Shape};
use crate::clock;
use crate::keys::Signer;
use crate::policy::{Decision, Effect, PolicySet};
use crate::store::chain::Prepared;
use crate::store::{Kept, NewEvent, PermitRow, PermitState, StoreError, Tx, WriteError};

/// A decision, ready to record.
pub(super) struct Decided {
    pub(super) caller: Caller,
    pub(super) shape: Shape,
    /// The policies' decision (its code `None` for an allow).
    pub(super) decision: Decision,
    /// The decision as stored: for an allow, the permit.
    pub(super) permit: PermitRow,
    /// The current wire's top-level members, as sent, for the event.
    pub(super) top_level: Option<Map<String, Value>>,
    /// Set for hold and escalate.
    pub(super) escalation_id: Option<String>,
    pub(super) require_approval: bool,
}

/// Decide `input` at `now_ms`: the policies' decision, with an allow made
/// a deny when the caller requires an approval.
pub(super) fn decide(
    policies: &PolicySet,
    signer: &Signer,
    caller: Caller,
    input: &EvaluateInput<'_>,
    now_ms: i64,
    permit_ttl: Duration,
) -> Result<Decided, EngineError> {
    let mut decision = policies.evaluate(input.agent, input.action, input.context);
    if input.require_approval && decision.effect.issues_permit() {
        // Fail closed: nobody here can give the approval asked for.
        decision.effect = Effect::Deny;
        decision.code = Some(INSUFFICIENT_APPROVALS.to_owned());
        decision.reason = "approval required, and this server has no approval workflow".into();
    }
    let issues = decision.effect.issues_permit();
    if issues {
        decision.code = None;
    }
    let ttl_ms = i64::try_from(permit_ttl.as_millis()).unwrap_or(i64::MAX);
    let mut permit = PermitRow {
        id: ids::random_id("dec_")?,
        org_id: caller.org_id.clone(),
        agent: input.agent.to_owned(),
        action: input.action.to_owned(),
        context_hash: context_hash(input.context),
        decision: decision.effect.as_str().to_owned(),
        state: if issues {
            PermitState::Active
        } else {
            PermitState::Denied
        },
        issued_ms: now_ms,
        expires_ms: now_ms.saturating_add(ttl_ms),
        permit_hash: String::new(),
        environment: input.environment.map(str::to_owned),
        execution_hash: Some(atlasent::wire::execution_hash(
            input.action,
            input.agent,
            input.context,
        )),
    };
    if issues {
        let claims = json!({
            "permit_id": permit.id, "org_id": permit.org_id, "agent": permit.agent,
            "action": permit.action, "context_hash": permit.context_hash,
            "execution_hash": permit.execution_hash, "environment": permit.environment,
            "expires_at": clock::rfc3339_ms(permit.expires_ms),
        });
        let canonical = atlasent::audit::canonical_json_of(&claims).unwrap_or_default();
        permit.permit_hash = signer.sign_b64url(canonical.as_bytes());
    }
    let escalation_id = match decision.effect {
        Effect::Hold | Effect::Escalate => Some(ids::random_id("esc_")?),
        _ => None,
    };
    if let Some(escalation_id) = &escalation_id {
        tracing::info!(
            escalation_id,
            decision = decision.effect.as_str(),
            permit_id = permit.id,
            "a human must decide"
        );
    }
    Ok(Decided {
        caller,
        shape: input.shape,
        decision,
        permit,
        top_level: input.top_level.cloned(),
        escalation_id,
        require_approval: input.require_approval,
    })
}

impl Decided {
    /// Record the decision (its permit row and its event, whose payload
    /// [`prepare`](Self::prepare) made canonical before the write was
    /// queued); returns the reply.
    pub(super) fn record(self, tx: &mut dyn Tx, payload: Prepared) -> Result<String, WriteError> {
        let kept = Kept {
            key_id: &self.caller.key_id,
            escalation_id: self.escalation_id.as_deref(),
            deny_code: self.decision.code.as_deref(),
            shape: self.shape.as_str(),
        };
        tx.insert_permit(&self.permit, &kept)?;
        let p = &self.permit;
        let kind = format!("evaluate.{}", p.decision);
        let audit_hash = tx.append(NewEvent {
            org_id: &p.org_id,
            kind: &kind,
            decision: Some(&p.decision),
            actor_id: Some(&p.agent),
            resource_id: Some(&p.action),
            payload: payload.into(),
            now_ms: p.issued_ms,
        })?;
        Ok(replies::evaluate(&self, &audit_hash)?)
    }

    /// The payload of the evaluate event, its members made canonical (on
    /// the caller's thread, not the store's writer). The hashes cover the context the
    /// permit is bound to (with the current wire's top-level members merged
    /// in); those members, when sent, are recorded as sent under
    /// `top_level` (not beside the others: `resource_id` is the event's own
    /// member).
    pub(super) fn prepare(&self) -> Result<Prepared, StoreError> {
        let (p, d) = (&self.permit, &self.decision);
        let mut payload = super::object(json!({
            "decision_id": p.id,
            "agent": p.agent,
            "action": p.action,
            "context_hash": p.context_hash,
            "execution_hash": p.execution_hash,
            "environment": p.environment,
            "policy_id": d.policy_id,
            "rule_id": d.rule_id,
            "reason": d.reason,
            "code": d.code,
            "escalation_id": self.escalation_id,
            "require_approval": self.require_approval,
            "expires_at": clock::rfc3339_ms(p.expires_ms),
            "shape": self.shape.as_str(),
            "key_id": self.caller.key_id,
            "request_id": self.caller.request_id,
        }));
        if let Some(top_level) = &self.top_level {
            payload.insert("top_level".to_owned(), Value::Object(top_level.clone()));
        }
        Prepared::new(&payload)
    }
}
