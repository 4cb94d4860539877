//! The current wire of `/v1-evaluate` and `/v1-verify-permit`: the shapes
//! the Python SDK 2.x sends and reads ([`Wire::Current`](crate::Wire)).
//!
//! Replies are read leniently where 2.18 is lenient (it accepts the 1.4.1
//! reply too, so every member here is optional to the parser) and the client
//! then checks what the reply means, refusing anything ambiguous: a
//! `decision` other than the four, `decision` and `permitted` that disagree,
//! an allow without a permit token, an unreadable `expires_at`, a verify
//! reply about another permit. Serialized, each type writes the current
//! shape exactly (absent members are left out, or written as `null` where
//! the shape has a `null`).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{FieldKind, ReplyBody};

/// `POST /v1-evaluate` request body, current shape. No API key: it travels
/// in the `Authorization` header only.
#[derive(Debug, Clone, Serialize)]
pub struct CurrentEvaluateRequest<'a> {
    /// The action being authorized (the 1.4.1 `action`).
    pub action_type: &'a str,
    /// The agent asking (the 1.4.1 `agent`).
    pub actor_id: &'a str,
    /// The policy context, a JSON object.
    pub context: &'a RawValue,
    /// The resource acted on (at most 512 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<&'a str>,
    /// An amount the policy may test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    /// The environment the action runs in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<&'a str>,
    /// Ask for a human approval before any allow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_approval: Option<bool>,
    /// Ask for an explanation of the decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<bool>,
    /// An approval reference (an object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<&'a RawValue>,
    /// The resource (an object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<&'a RawValue>,
    /// The state before the action (an object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_state: Option<&'a RawValue>,
    /// The state after the action (an object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_state: Option<&'a RawValue>,
    /// An execution binding (an object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_binding: Option<&'a RawValue>,
    /// A state snapshot (an object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_snapshot: Option<&'a RawValue>,
    /// Completion proofs (an array).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_proofs: Option<&'a RawValue>,
    /// The evaluation profile to apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation_profile: Option<&'a str>,
}

impl<'a> CurrentEvaluateRequest<'a> {
    /// The three members every evaluation has; every optional one unset.
    pub fn new(action_type: &'a str, actor_id: &'a str, context: &'a RawValue) -> Self {
        Self {
            action_type,
            actor_id,
            context,
            resource_id: None,
            amount: None,
            environment: None,
            require_approval: None,
            explain: None,
            approval: None,
            resource: None,
            current_state: None,
            proposed_state: None,
            execution_binding: None,
            state_snapshot: None,
            completion_proofs: None,
            evaluation_profile: None,
        }
    }
}

/// The `denial` object of a non-allow evaluate reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct CurrentDenial {
    /// Why, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why, for programs (`DENY_POLICY`, `ACTOR_HELD`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// `POST /v1-evaluate` reply, current shape (the 1.4.1 members
/// `permitted`, `decision_id` and `reason` are read too).
///
/// A reply must carry `decision` (or the 1.4.1 `permitted`); an allow must
/// carry `permit_token` (or `decision_id`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct CurrentEvaluateResponse {
    /// `allow`, `deny`, `hold` or `escalate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// The permit to verify; on an allow only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit_token: Option<String>,
    /// The id of the decision (equal to the permit token on our server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_id: Option<String>,
    /// When the permit expires (RFC 3339); on an allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// `{reason, code}` of a non-allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denial: Option<CurrentDenial>,
    /// The reason of a non-allow, top level (the hosted API's handler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_reason: Option<String>,
    /// The code of a non-allow, top level (the hosted API's handler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_code: Option<String>,
    /// The escalation a human will decide; on hold and escalate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_id: Option<String>,
    /// The policy engine's explanations (`[]` when there is none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<String>>,
    /// The server's request id (our server: the `X-Request-ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The audit-chain hash of the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_hash: Option<String>,
    /// When the decision was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// 1.4.1: whether the policy allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permitted: Option<bool>,
    /// 1.4.1: the decision (permit) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    /// 1.4.1: the policy engine's explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ReplyBody for CurrentEvaluateResponse {
    // `decision` or `permitted`: which one is required is checked after
    // parsing, with a message naming both.
    const REQUIRED: &'static [(&'static str, FieldKind)] = &[];
    const OPTIONAL: &'static [(&'static str, FieldKind)] = &[
        ("decision", FieldKind::String),
        ("permitted", FieldKind::Bool),
        ("permit_token", FieldKind::String),
        ("decision_id", FieldKind::String),
        ("evaluation_id", FieldKind::String),
        ("expires_at", FieldKind::String),
        ("denial", FieldKind::Object),
        ("denial.reason", FieldKind::String),
        ("denial.code", FieldKind::String),
        ("deny_reason", FieldKind::String),
        ("deny_code", FieldKind::String),
        ("reasons", FieldKind::Strings),
        ("escalation_id", FieldKind::String),
        ("request_id", FieldKind::String),
        ("audit_hash", FieldKind::String),
        ("timestamp", FieldKind::String),
        ("reason", FieldKind::String),
    ];
}

/// `POST /v1-verify-permit` request body, current shape: the permit and
/// what it is checked against. No context (its hash stands in for it), no
/// API key.
#[derive(Debug, Clone, Serialize)]
pub struct CurrentVerifyRequest<'a> {
    /// The evaluate reply's `permit_token`.
    pub permit_token: &'a str,
    /// Cross-check of the action; `""` is not checked.
    pub action_type: &'a str,
    /// Cross-check of the actor; `""` is not checked.
    pub actor_id: &'a str,
    /// Cross-check of the permit's environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<&'a str>,
    /// Cross-check of the evaluated payload:
    /// [`execution_hash`](super::execution_hash) of
    /// `{action_type, actor_id, context}` (64 lowercase hex digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_hash: Option<&'a str>,
    /// Demand that the permit carry an approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_approval: Option<bool>,
}

/// `POST /v1-verify-permit` reply, current shape (the 1.4.1 `verified` and
/// `decision_id` are read too). Only `valid` decides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct CurrentVerifyResponse {
    /// Whether the permit verified (and is now consumed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    /// `verified`, `permit_consumed`, `permit_expired`, `permit_revoked`,
    /// `permit_not_found`, `permit_mismatch`, `approval_missing`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Why not, for programs (`PERMIT_CONSUMED`, `ACTOR_MISMATCH`, …); only
    /// when not valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_error_code: Option<String>,
    /// Why, for people (always a string on our server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether this call used the permit up (true on success, and on
    /// `APPROVAL_LINKAGE_MISSING`: do not retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumed: Option<bool>,
    /// The permit this answer is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit_token: Option<String>,
    /// When the permit expires (RFC 3339), or `null`.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// The verification hash bound to the permit (`""` unless valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit_hash: Option<String>,
    /// The audit-chain hash of the verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_hash: Option<String>,
    /// When the verification happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The server's request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// 1.4.1: whether the permit verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// 1.4.1: the permit this answer is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
}

impl ReplyBody for CurrentVerifyResponse {
    // `valid` or `verified`: checked after parsing, naming both.
    const REQUIRED: &'static [(&'static str, FieldKind)] = &[];
    const OPTIONAL: &'static [(&'static str, FieldKind)] = &[
        ("valid", FieldKind::Bool),
        ("verified", FieldKind::Bool),
        ("outcome", FieldKind::String),
        ("reason", FieldKind::String),
        ("consumed", FieldKind::Bool),
        ("permit_token", FieldKind::String),
        ("decision_id", FieldKind::String),
        ("expires_at", FieldKind::String),
        ("permit_hash", FieldKind::String),
        ("audit_hash", FieldKind::String),
        ("timestamp", FieldKind::String),
        ("request_id", FieldKind::String),
        ("verify_error_code", FieldKind::String),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_leave_out_what_is_unset() {
        let context = RawValue::from_string(r#"{"environment":"prod"}"#.into()).expect("raw");
        let body =
            serde_json::to_value(CurrentEvaluateRequest::new("deploy.prod", "bot", &context))
                .expect("serializes");
        assert_eq!(
            body,
            serde_json::json!({"action_type":"deploy.prod","actor_id":"bot","context":{"environment":"prod"}})
        );
        let verify = CurrentVerifyRequest {
            permit_token: "dec_1",
            action_type: "",
            actor_id: "",
            environment: None,
            execution_hash: None,
            require_approval: None,
        };
        assert_eq!(
            serde_json::to_value(verify).expect("serializes"),
            serde_json::json!({"permit_token":"dec_1","action_type":"","actor_id":""})
        );
    }

    #[test]
    fn a_verify_reply_writes_expires_at_even_when_null() {
        let reply = CurrentVerifyResponse {
            valid: Some(false),
            ..CurrentVerifyResponse::default()
        };
        assert_eq!(
            serde_json::to_value(reply).expect("serializes"),
            serde_json::json!({"valid": false, "expires_at": null})
        );
    }
}
