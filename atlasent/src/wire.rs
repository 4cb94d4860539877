//! The wire format: request and response bodies exactly as the contract
//! (`contract/schemas`) spells them, in both shapes: the 1.4.1 ("legacy")
//! bodies ([`EvaluateRequest`], [`VerifyRequest`], …) and the current ones
//! ([`CurrentEvaluateRequest`], [`CurrentVerifyRequest`], the permit
//! records of `/v1/permits`, …); see [`Wire`](crate::Wire).
//!
//! Requests borrow their fields, so building one allocates only the output
//! buffer. Responses are parsed strictly: a required field that is missing or
//! of the wrong type is an error, never a default (`"permitted": "true"` is
//! not `true`), and a member name repeated in any object is refused
//! ([`from_slice_strict`]). Public so that servers and tests speak the same
//! types.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

mod current;
mod execution_hash;
pub mod limits;
mod outcome;
pub mod paths;
mod permits;
pub(crate) mod strict;

pub use current::{
    CurrentDenial, CurrentEvaluateRequest, CurrentEvaluateResponse, CurrentVerifyRequest,
    CurrentVerifyResponse,
};
pub(crate) use execution_hash::BorrowedObject;
pub use execution_hash::{execution_hash, python_json};
pub use outcome::{Mismatch, VerifyOutcome};
pub use permits::{
    PermitEvidence, PermitList, PermitRecord, PermitStatus, PermitVerifyResponse, RevokeByIdRequest,
};
pub use strict::{check_unique_members, from_slice_strict, StrictJsonError};

// Member order: every reply type writes its members in the order our server
// writes them today. The bodies the server builds through a
// `serde_json::Value` (errors, the key description, the 1.4.1 revoke reply,
// audit listings, signing keys) have their members in code-point order, so
// those types declare their fields in that order.

/// `POST /v1-evaluate` request body.
#[derive(Debug, Serialize)]
pub struct EvaluateRequest<'a> {
    /// The action being authorized.
    pub action: &'a str,
    /// The agent asking.
    pub agent: &'a str,
    /// The policy context, a JSON object.
    pub context: &'a RawValue,
    /// The API key, echoed in the body for wire parity.
    pub api_key: &'a str,
}

/// `POST /v1-evaluate` response body.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EvaluateResponse {
    /// Whether the policy allowed the action.
    pub permitted: bool,
    /// The decision (permit) id.
    pub decision_id: String,
    /// The policy engine's explanation.
    #[serde(default)]
    pub reason: String,
    /// The audit-chain hash of the decision.
    #[serde(default)]
    pub audit_hash: String,
    /// When the decision was made (ISO 8601).
    #[serde(default)]
    pub timestamp: String,
    /// When the permit expires (RFC 3339), on an allow; our server adds it
    /// (1.4.1 ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// `POST /v1-verify-permit` request body.
#[derive(Debug, Serialize)]
pub struct VerifyRequest<'a> {
    /// The permit to verify (the evaluate reply's `decision_id`).
    pub decision_id: &'a str,
    /// Cross-check of the action; may be empty.
    pub action: &'a str,
    /// Cross-check of the agent; may be empty.
    pub agent: &'a str,
    /// Cross-check of the context; `{}` when not given.
    pub context: &'a RawValue,
    /// The API key, echoed in the body for wire parity.
    pub api_key: &'a str,
}

/// `POST /v1-verify-permit` response body.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct VerifyResponse {
    /// Whether the permit is valid (and, on our server, now consumed).
    pub verified: bool,
    /// The permit this answer is about, when the server says (ours does;
    /// the 1.4.1 contract does not require it). A client that sees another
    /// permit's id here refuses the reply: it answers some other call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    /// `verified`, `expired`, `consumed`, `revoked`, `not_found`, …
    #[serde(default)]
    pub outcome: String,
    /// The verification hash bound to the permit.
    #[serde(default)]
    pub permit_hash: String,
    /// When the verification happened (ISO 8601).
    #[serde(default)]
    pub timestamp: String,
    /// The audit-chain hash of the verification (our server adds it; 1.4.1
    /// ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_hash: Option<String>,
}

/// `POST /v1-revoke-permit` request body.
#[derive(Debug, Serialize)]
pub struct RevokeRequest<'a> {
    /// The permit to revoke.
    pub decision_id: &'a str,
    /// Why, stored in the audit log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    /// The API key, echoed in the body.
    pub api_key: &'a str,
}

/// `POST /v1-revoke-permit` response body (members in code-point order).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RevokeResponse {
    /// The audit hash of the revocation event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_hash: Option<String>,
    /// Echo of the permit id.
    pub decision_id: String,
    /// Whether the permit was found and revoked.
    pub revoked: bool,
    /// When the revocation was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// `GET /v1-api-key-self` response body (members in code-point order).
///
/// The organization comes as `org_id` (current) or `organization_id`
/// (1.4.1); a reply must carry at least one, and both must agree (the client
/// checks this after parsing).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ApiKeySelfResponse {
    /// IP allowlist; `None` when unrestricted.
    #[serde(default)]
    pub allowed_cidrs: Option<Vec<String>>,
    /// The client IP the server saw.
    #[serde(default)]
    pub client_ip: Option<String>,
    /// `live`, `test`, …
    pub environment: String,
    /// When the key expires; `None` when it does not.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Server-side id of the key (never the key itself).
    pub key_id: String,
    /// The organization the key belongs to (current spelling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// The organization the key belongs to (1.4.1 spelling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// The key's per-minute rate limit.
    pub rate_limit_per_minute: u64,
    /// The server's request id (our server: the `X-Request-ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Granted scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// The body of any non-2xx reply. Every field is optional (members in
/// code-point order).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ErrorResponse {
    /// Machine-readable code, e.g. `invalid_api_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Preferred human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Fallback message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Echo of `X-Request-ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorResponse {
    /// `message`, else `reason`, if either is a non-empty string.
    pub fn text(&self) -> Option<&str> {
        [&self.message, &self.reason]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .find(|s| !s.is_empty())
    }
}

/// `GET /v1-audit/events` response body: one page of the audit chain
/// (members in code-point order). The SDK reads the events as
/// [`AuditEvent`](crate::audit::AuditEvent)s; a server may hold them as
/// anything that serializes to the event objects.
///
/// Our server writes this body through a `serde_json::Value`, so every
/// object in it, the events included, has its members in code-point order.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AuditEventsResponse<E = crate::audit::AuditEvent> {
    /// The events of this page, oldest first.
    pub events: Vec<E>,
    /// The cursor of the next page; `null` on the last.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// How many events match the filters in all.
    pub total: u64,
}

/// `GET /v1-signing-keys` response body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SigningKeysResponse {
    /// The keys that sign (or signed) exports.
    pub keys: Vec<SigningKey>,
}

/// One key of [`SigningKeysResponse`] (members in code-point order).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SigningKey {
    /// `ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// The id an export's `signing_key_id` names.
    pub key_id: String,
    /// The public key, SPKI PEM.
    pub public_key_pem: String,
    /// `active`, `retired`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `GET /health` response body (our server).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct HealthResponse {
    /// `ok`.
    pub status: String,
}

/// The JSON type of a value, for messages: `null`, `a boolean`, `a number`,
/// `a string`, `an array` or `an object`.
///
/// ```
/// assert_eq!(atlasent::wire::json_kind(&serde_json::json!([1])), "an array");
/// ```
pub fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A value described for a message: scalars with their value (`the boolean
/// true`, `the number 5`, `the string "x"`), strings longer than
/// `max_string_bytes` bytes, arrays and objects by their
/// [`json_kind`].
///
/// ```
/// use serde_json::json;
/// use atlasent::wire::describe_json;
/// assert_eq!(describe_json(&json!("ab"), 40), r#"the string "ab""#);
/// assert_eq!(describe_json(&json!("ab"), 1), "a string");
/// assert_eq!(describe_json(&json!({}), 40), "an object");
/// ```
pub fn describe_json(v: &serde_json::Value, max_string_bytes: usize) -> String {
    match v {
        serde_json::Value::Bool(b) => format!("the boolean {b}"),
        serde_json::Value::Number(n) => format!("the number {n}"),
        serde_json::Value::String(s) if s.len() <= max_string_bytes => {
            format!("the string {s:?}")
        }
        other => json_kind(other).to_owned(),
    }
}

/// The JSON type a reply field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldKind {
    /// `true` / `false`.
    Bool,
    /// A string.
    String,
    /// A non-negative integer.
    Integer,
    /// An array.
    Array,
    /// An object.
    Object,
    /// An array of strings.
    Strings,
}

/// A reply body with required fields, for precise `bad_response` messages.
///
/// Field names are paths: `denial.code` is the member `code` of the object
/// `denial`, `permits[].id` the member `id` of every element of the array
/// `permits`. A path is checked wherever its parent exists.
pub trait ReplyBody: serde::de::DeserializeOwned {
    /// The required fields and their types, as the contract's schema lists them.
    const REQUIRED: &'static [(&'static str, FieldKind)];
    /// Fields that may be absent or `null`, but have this type when present.
    const OPTIONAL: &'static [(&'static str, FieldKind)] = &[];
}

impl ReplyBody for EvaluateResponse {
    const REQUIRED: &'static [(&'static str, FieldKind)] = &[
        ("permitted", FieldKind::Bool),
        ("decision_id", FieldKind::String),
    ];
}

impl ReplyBody for VerifyResponse {
    const REQUIRED: &'static [(&'static str, FieldKind)] = &[("verified", FieldKind::Bool)];
}

impl ReplyBody for RevokeResponse {
    const REQUIRED: &'static [(&'static str, FieldKind)] = &[
        ("revoked", FieldKind::Bool),
        ("decision_id", FieldKind::String),
    ];
}

impl ReplyBody for AuditEventsResponse {
    const REQUIRED: &'static [(&'static str, FieldKind)] =
        &[("events", FieldKind::Array), ("total", FieldKind::Integer)];
}

impl ReplyBody for SigningKeysResponse {
    const REQUIRED: &'static [(&'static str, FieldKind)] = &[("keys", FieldKind::Array)];
}

impl ReplyBody for ApiKeySelfResponse {
    const REQUIRED: &'static [(&'static str, FieldKind)] = &[
        ("key_id", FieldKind::String),
        ("environment", FieldKind::String),
        ("rate_limit_per_minute", FieldKind::Integer),
    ];
    const OPTIONAL: &'static [(&'static str, FieldKind)] = &[
        ("org_id", FieldKind::String),
        ("organization_id", FieldKind::String),
        ("scopes", FieldKind::Strings),
        ("allowed_cidrs", FieldKind::Strings),
        ("client_ip", FieldKind::String),
        ("expires_at", FieldKind::String),
        ("request_id", FieldKind::String),
    ];
}

/// Say which field of a reply that failed to parse is missing or mistyped
/// (`None` if they all look right and something else is wrong): the
/// required fields first, then the optional ones that are present and not
/// `null`. Only called on the error path.
pub fn diagnose<T: ReplyBody>(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    if !value.is_object() {
        return Some(format!("expected a JSON object, got {}", kind_of(&value)));
    }
    let required = T::REQUIRED.iter().map(|&(path, kind)| (path, kind, true));
    let optional = T::OPTIONAL.iter().map(|&(path, kind)| (path, kind, false));
    required
        .chain(optional)
        .find_map(|(path, kind, required)| check_path(&value, path, "", kind, required))
}

/// Check `path` (relative to `value`, whose own path is `shown`): the first
/// problem, named by its full path with array indices.
fn check_path(
    value: &serde_json::Value,
    path: &str,
    shown: &str,
    kind: FieldKind,
    required: bool,
) -> Option<String> {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    let (name, each) = match head.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (head, false),
    };
    let shown = if shown.is_empty() {
        name.to_owned()
    } else {
        format!("{shown}.{name}")
    };
    let member = value.as_object()?.get(name);
    if !each && rest.is_none() {
        return match member {
            None => required.then(|| format!("required field `{shown}` is missing")),
            Some(serde_json::Value::Null) if !required => None,
            Some(v) => (!kind_matches(kind, v)).then(|| {
                format!(
                    "field `{shown}` must be {}, got {}",
                    kind_name(kind),
                    kind_of(v)
                )
            }),
        };
    }
    // A nested path is checked only where its parent is there to hold it;
    // the parent's own entry says whether it must be.
    let member = member?;
    if !each {
        return check_path(member, rest.unwrap_or_default(), &shown, kind, required);
    }
    member.as_array()?.iter().enumerate().find_map(|(i, item)| {
        let shown = format!("{shown}[{i}]");
        match rest {
            Some(rest) => check_path(item, rest, &shown, kind, required),
            None => (!kind_matches(kind, item)).then(|| {
                format!(
                    "field `{shown}` must be {}, got {}",
                    kind_name(kind),
                    kind_of(item)
                )
            }),
        }
    })
}

fn kind_matches(kind: FieldKind, v: &serde_json::Value) -> bool {
    match kind {
        FieldKind::Bool => v.is_boolean(),
        FieldKind::String => v.is_string(),
        FieldKind::Integer => v.is_u64(),
        FieldKind::Array => v.is_array(),
        FieldKind::Object => v.is_object(),
        FieldKind::Strings => v
            .as_array()
            .is_some_and(|items| items.iter().all(serde_json::Value::is_string)),
    }
}

fn kind_name(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Bool => "a boolean",
        FieldKind::String => "a string",
        FieldKind::Integer => "a non-negative integer",
        FieldKind::Array => "an array",
        FieldKind::Object => "an object",
        FieldKind::Strings => "an array of strings",
    }
}

fn kind_of(v: &serde_json::Value) -> String {
    describe_json(v, 40)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The bodies our server builds through a `Value` come out byte for byte
    /// the same from the typed replies.
    #[test]
    fn value_built_bodies_are_written_in_the_same_order() {
        let error = ErrorResponse {
            message: Some("no".into()),
            code: Some("bad_request".into()),
            request_id: Some("r".into()),
            reason: None,
        };
        assert_eq!(
            serde_json::to_string(&error).expect("ser"),
            json!({"message": "no", "code": "bad_request", "request_id": "r"}).to_string()
        );
        let revoke = RevokeResponse {
            revoked: true,
            decision_id: "dec_1".into(),
            revoked_at: Some("t".into()),
            audit_hash: Some("h".into()),
        };
        assert_eq!(
            serde_json::to_string(&revoke).expect("ser"),
            json!({"revoked": true, "decision_id": "dec_1", "revoked_at": "t", "audit_hash": "h"})
                .to_string()
        );
        let key = ApiKeySelfResponse {
            key_id: "k".into(),
            org_id: Some("o".into()),
            organization_id: Some("o".into()),
            environment: "test".into(),
            scopes: vec!["evaluate".into()],
            allowed_cidrs: None,
            rate_limit_per_minute: 600,
            client_ip: None,
            expires_at: None,
            request_id: Some("r".into()),
        };
        assert_eq!(
            serde_json::to_string(&key).expect("ser"),
            json!({"key_id": "k", "org_id": "o", "organization_id": "o", "environment": "test",
                "scopes": ["evaluate"], "allowed_cidrs": null, "rate_limit_per_minute": 600,
                "client_ip": null, "expires_at": null, "request_id": "r"})
            .to_string()
        );
        let keys = SigningKeysResponse {
            keys: vec![SigningKey {
                key_id: "k1".into(),
                algorithm: Some("ed25519".into()),
                public_key_pem: "pem".into(),
                status: Some("active".into()),
            }],
        };
        assert_eq!(
            serde_json::to_string(&keys).expect("ser"),
            json!({"keys": [{"key_id": "k1", "algorithm": "ed25519", "public_key_pem": "pem",
                "status": "active"}]})
            .to_string()
        );
        let page = AuditEventsResponse::<serde_json::Value> {
            events: vec![json!({"id": "e", "hash": "h"})],
            total: 1,
            next_cursor: None,
        };
        assert_eq!(
            serde_json::to_string(&page).expect("ser"),
            json!({"events": [{"id": "e", "hash": "h"}], "total": 1, "next_cursor": null})
                .to_string()
        );
    }
}
