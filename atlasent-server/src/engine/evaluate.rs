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
use crate::policy::{Effect, PolicySet};
use crate::store::{NewEvent, NewPermit, Tx, WriteError};

/// A decision, ready to record.
pub(super) struct Decided {
    pub(super) caller: Caller,
    pub(super) shape: Shape,
    pub(super) permit_id: String,
    pub(super) agent: String,
    pub(super) action: String,
    pub(super) context_hash: String,
    pub(super) execution_hash: String,
    pub(super) environment: Option<String>,
    /// The current wire's top-level members, as sent, for the event.
    pub(super) top_level: Option<Map<String, Value>>,
    pub(super) effect: Effect,
    /// The deny code of a non-allow (`None` for an allow).
    pub(super) code: Option<String>,
    /// Set for hold and escalate.
    pub(super) escalation_id: Option<String>,
    pub(super) require_approval: bool,
    pub(super) policy_id: Option<String>,
    pub(super) rule_id: Option<String>,
    pub(super) reason: String,
    pub(super) now_ms: i64,
    pub(super) expires_ms: i64,
    /// The signature over an allow's claims (empty otherwise).
    pub(super) permit_hash: String,
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
    let ttl_ms = i64::try_from(permit_ttl.as_millis()).unwrap_or(i64::MAX);
    let expires_ms = now_ms.saturating_add(ttl_ms);
    let permit_id = ids::random_id("dec_")?;
    let escalation_id = match decision.effect {
        Effect::Hold | Effect::Escalate => Some(ids::random_id("esc_")?),
        _ => None,
    };
    let context_hash = context_hash(input.context);
    let execution_hash = atlasent::wire::execution_hash(input.action, input.agent, input.context);
    let issues = decision.effect.issues_permit();
    let permit_hash = if issues {
        let claims = json!({
            "permit_id": permit_id, "org_id": caller.org_id, "agent": input.agent,
            "action": input.action, "context_hash": context_hash,
            "execution_hash": execution_hash, "environment": input.environment,
            "expires_at": clock::rfc3339_ms(expires_ms),
        });
        let canonical = atlasent::audit::canonical_json_of(&claims).unwrap_or_default();
        signer.sign_b64url(canonical.as_bytes())
    } else {
        String::new()
    };
    if let Some(escalation_id) = &escalation_id {
        tracing::info!(
            escalation_id,
            decision = decision.effect.as_str(),
            permit_id,
            "a human must decide"
        );
    }
    Ok(Decided {
        caller,
        shape: input.shape,
        permit_id,
        agent: input.agent.to_owned(),
        action: input.action.to_owned(),
        context_hash,
        execution_hash,
        environment: input.environment.map(str::to_owned),
        top_level: input.top_level.cloned(),
        effect: decision.effect,
        code: if issues { None } else { decision.code },
        escalation_id,
        require_approval: input.require_approval,
        policy_id: decision.policy_id,
        rule_id: decision.rule_id,
        reason: decision.reason,
        now_ms,
        expires_ms,
        permit_hash,
    })
}

impl Decided {
    /// Record the decision (its permit row and its event); returns the
    /// reply.
    pub(super) fn record(self, tx: &mut dyn Tx) -> Result<String, WriteError> {
        let decision = self.effect.as_str();
        tx.insert_permit(&NewPermit {
            id: &self.permit_id,
            org_id: &self.caller.org_id,
            agent: &self.agent,
            action: &self.action,
            context_hash: &self.context_hash,
            decision,
            issued: self.effect.issues_permit(),
            issued_ms: self.now_ms,
            expires_ms: self.expires_ms,
            permit_hash: &self.permit_hash,
            key_id: &self.caller.key_id,
            environment: self.environment.as_deref(),
            execution_hash: &self.execution_hash,
            escalation_id: self.escalation_id.as_deref(),
            deny_code: self.code.as_deref(),
            shape: self.shape.as_str(),
        })?;
        let kind = format!("evaluate.{decision}");
        let audit_hash = tx.append(NewEvent {
            org_id: &self.caller.org_id,
            kind: &kind,
            decision: Some(decision),
            actor_id: Some(&self.agent),
            resource_id: Some(&self.action),
            payload: self.payload(),
            now_ms: self.now_ms,
        })?;
        Ok(replies::evaluate(&self, &audit_hash)?)
    }

    /// The payload of the evaluate event. The hashes cover the context the
    /// permit is bound to (with the current wire's top-level members merged
    /// in); those members, when sent, are recorded as sent under
    /// `top_level` (not beside the others: `resource_id` is the event's own
    /// member).
    fn payload(&self) -> Map<String, Value> {
        let mut payload = super::object(json!({
            "decision_id": self.permit_id,
            "agent": self.agent,
            "action": self.action,
            "context_hash": self.context_hash,
            "execution_hash": self.execution_hash,
            "environment": self.environment,
            "policy_id": self.policy_id,
            "rule_id": self.rule_id,
            "reason": self.reason,
            "code": self.code,
            "escalation_id": self.escalation_id,
            "require_approval": self.require_approval,
            "expires_at": clock::rfc3339_ms(self.expires_ms),
            "shape": self.shape.as_str(),
            "key_id": self.caller.key_id,
            "request_id": self.caller.request_id,
        }));
        if let Some(top_level) = &self.top_level {
            payload.insert("top_level".to_owned(), Value::Object(top_level.clone()));
        }
        payload
    }
}
