//! What the API calls return: evaluation, verification, gate, authorization,
//! key introspection and revocation results.

use std::time::SystemTime;

use serde::Serialize;

use crate::deny_code::DenyCode;
use crate::error::Decision;

/// Per-key rate-limit state from the `X-RateLimit-Limit`, `-Remaining` and
/// `-Reset` headers of a reply. `None` on results when the server sent no
/// (or an unparseable) triple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// The per-window budget.
    pub limit: u64,
    /// What is left of it in the current window.
    pub remaining: u64,
    /// When the window resets (`X-RateLimit-Reset`: unix seconds or RFC 3339).
    pub reset_at: SystemTime,
}

/// The answer of `POST /v1-evaluate`: a decision, returned as data whether it
/// allows, denies, holds or escalates. Its keys serialize as the contract's
/// `sdk_output` (the members only the current wire carries are left out when
/// absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EvaluateResult {
    /// `Allow`, `Deny`, `Hold` or `Escalate`.
    pub decision: Decision,
    /// Whether the policy allowed the action (`decision == Allow`). Allowed
    /// is not authorized: only a verified permit
    /// ([`Client::protect`](crate::Client::protect)) is.
    pub permitted: bool,
    /// The decision id: on an allow, the permit to verify (`permit_token`,
    /// or 1.4.1's `decision_id`); otherwise the evaluation's id, when the
    /// server sent one.
    pub permit_id: String,
    /// The policy engine's explanation (on the current wire: the denial's
    /// reason, else the first of `reasons`).
    pub reason: String,
    /// The audit-chain hash of the decision.
    pub audit_hash: String,
    /// When the decision was made (ISO 8601, as the server sent it).
    pub timestamp: String,
    /// Why not, for programs, on a non-allow (current wire: `denial.code` or
    /// `deny_code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny_code: Option<DenyCode>,
    /// The escalation a human will decide, on hold and escalate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation_id: Option<String>,
    /// When the permit expires (RFC 3339, as the server sent it), on an
    /// allow. The client refuses a reply whose `expires_at` it cannot read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Every explanation the policy engine gave (current wire).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The `X-Request-ID` of the request.
    #[serde(skip)]
    pub request_id: String,
    /// Rate-limit state from the reply's headers.
    #[serde(skip)]
    pub rate_limit: Option<RateLimit>,
}

/// The answer of `POST /v1-verify-permit`, returned as data whether or not the
/// permit verified. Its keys serialize as the contract's `sdk_output`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct VerifyResult {
    /// Whether the permit verified (the current wire's `valid`).
    pub verified: bool,
    /// `verified`, then 1.4.1's `expired`, `consumed`, `revoked`,
    /// `not_found`, `mismatch`, … or the current wire's `permit_expired`,
    /// `permit_consumed`, `permit_revoked`, `permit_not_found`,
    /// `permit_mismatch`, `approval_missing`, …
    pub outcome: String,
    /// The verification hash bound to the permit.
    pub permit_hash: String,
    /// When the verification happened (ISO 8601, as the server sent it).
    pub timestamp: String,
    /// The server's explanation (current wire).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Why not, for programs, when not verified (current wire:
    /// `PERMIT_CONSUMED`, `PERMIT_EXPIRED`, `ACTOR_MISMATCH`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_error_code: Option<String>,
    /// Whether this call used the permit up, when the server says (current
    /// wire). `true` with `verified == false` (`APPROVAL_LINKAGE_MISSING`)
    /// means the permit is burned: do not retry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed: Option<bool>,
    /// When the permit expires, when the reply says (current wire; RFC 3339).
    #[serde(skip)]
    pub expires_at: Option<String>,
    /// The `X-Request-ID` of the request.
    #[serde(skip)]
    pub request_id: String,
    /// Rate-limit state from the reply's headers.
    #[serde(skip)]
    pub rate_limit: Option<RateLimit>,
}

/// Both halves of a successful [`Client::gate`](crate::Client::gate): the
/// evaluation that allowed and the verification that confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GateResult {
    /// The allowing evaluation.
    pub evaluation: EvaluateResult,
    /// The successful verification of its permit.
    pub verification: VerifyResult,
}

/// The answer of [`Client::authorize`](crate::Client::authorize): a decision
/// as data. `permitted` is true only when the policy allowed **and** the
/// permit verified (Python 1.4.1 reports true when verification fails; we do
/// not). A hold or escalate is `permitted == false` with its
/// [`decision`](Self::decision) and [`escalation_id`](Self::escalation_id).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationResult {
    /// Authorized end to end: allowed and verified.
    pub permitted: bool,
    /// Whether the permit verified (false when denied: nothing to verify).
    pub verified: bool,
    /// The policy's decision (`Allow` even when verification then failed).
    pub decision: Decision,
    /// The policy's machine-readable reason of a non-allow, when sent.
    pub deny_code: Option<DenyCode>,
    /// The escalation a human will decide, on hold and escalate.
    pub escalation_id: Option<String>,
    /// The agent asked about.
    pub agent: String,
    /// The action asked about.
    pub action: String,
    /// The policy's reason, or `Permit failed verification (<outcome>)`.
    pub reason: String,
    /// The decision id.
    pub permit_id: String,
    /// The audit-chain hash of the decision.
    pub audit_hash: String,
    /// The verification hash (empty when denied).
    pub permit_hash: String,
    /// The verification outcome (empty when denied).
    pub outcome: String,
    /// When the decision was made.
    pub timestamp: String,
    /// The `X-Request-ID` of the last request made.
    pub request_id: String,
    /// Rate-limit state from the last reply.
    pub rate_limit: Option<RateLimit>,
}

/// The answer of `GET /v1-api-key-self`: what the server knows of this key
/// (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiKeySelf {
    /// Server-side id of the key.
    pub key_id: String,
    /// The organization the key belongs to.
    pub organization_id: String,
    /// `live`, `test`, …
    pub environment: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// IP allowlist as CIDRs; `None` when unrestricted.
    pub allowed_cidrs: Option<Vec<String>>,
    /// The key's per-minute rate limit.
    pub rate_limit_per_minute: u64,
    /// The client IP the server saw.
    pub client_ip: Option<String>,
    /// When the key expires; `None` when it does not.
    pub expires_at: Option<String>,
    /// The `X-Request-ID` of the request.
    pub request_id: String,
    /// Rate-limit state from the reply's headers.
    pub rate_limit: Option<RateLimit>,
}

/// The answer of `POST /v1-revoke-permit`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevokeResult {
    /// Whether the permit was found and is now revoked.
    pub revoked: bool,
    /// The permit id.
    pub permit_id: String,
    /// When the revocation was recorded.
    pub revoked_at: Option<String>,
    /// The audit hash of the revocation event.
    pub audit_hash: Option<String>,
    /// The `X-Request-ID` of the request.
    pub request_id: String,
}

/// Replace every occurrence of the API key in a string the server sent: a
/// server that echoes the key into a reason, an id or a hash must not put it
/// into the caller's errors, logs or `Debug` output.
fn redact(s: &mut String, key: &str) {
    if !key.is_empty() && s.contains(key) {
        *s = s.replace(key, "[REDACTED]");
    }
}

/// [`redact`] each of `sent`.
fn redact_all<'a>(key: &str, sent: impl IntoIterator<Item = &'a mut String>) {
    for s in sent {
        redact(s, key);
    }
}

fn redact_code(code: &mut Option<DenyCode>, key: &str) {
    if let Some(DenyCode::Other(s)) = code {
        if !key.is_empty() && s.contains(key) {
            *code = Some(DenyCode::from(s.replace(key, "[REDACTED]")));
        }
    }
}

/// A result read from a reply body: what the client does to it before
/// handing it over.
pub(crate) trait Received {
    /// Remove the API key from every string the server sent.
    fn redact_key(&mut self, key: &str);
    /// The span field that records this result, and its value.
    fn recorded(&self) -> (&'static str, &str);
    /// Attach the reply's `X-Request-ID` and rate-limit state.
    fn attach(&mut self, request_id: String, rate_limit: Option<RateLimit>);
}

impl Received for EvaluateResult {
    fn recorded(&self) -> (&'static str, &str) {
        ("decision", self.decision.as_str())
    }

    fn attach(&mut self, request_id: String, rate_limit: Option<RateLimit>) {
        self.request_id = request_id;
        self.rate_limit = rate_limit;
    }

    fn redact_key(&mut self, key: &str) {
        let optional = [&mut self.escalation_id, &mut self.expires_at];
        redact_all(key, optional.into_iter().flatten());
        redact_all(key, &mut self.reasons);
        redact_all(
            key,
            [
                &mut self.permit_id,
                &mut self.reason,
                &mut self.audit_hash,
                &mut self.timestamp,
            ],
        );
        redact_code(&mut self.deny_code, key);
    }
}

impl Received for VerifyResult {
    fn recorded(&self) -> (&'static str, &str) {
        ("outcome", &self.outcome)
    }

    fn attach(&mut self, request_id: String, rate_limit: Option<RateLimit>) {
        self.request_id = request_id;
        self.rate_limit = rate_limit;
    }

    fn redact_key(&mut self, key: &str) {
        let sent = [
            &mut self.outcome,
            &mut self.permit_hash,
            &mut self.timestamp,
            &mut self.reason,
        ];
        redact_all(key, sent);
        let optional = [&mut self.verify_error_code, &mut self.expires_at];
        redact_all(key, optional.into_iter().flatten());
    }
}
