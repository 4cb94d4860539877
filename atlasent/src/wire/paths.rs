//! Every endpoint path of the API, written once: the SDK's transport sends
//! to these and the server routes them.
//!
//! The paths under `/v1/permits/{id}` name the permit id as the segment
//! `{id}` (axum's route syntax); a client substitutes the percent-encoded id
//! for it ([`with_id`]).

/// `POST`: evaluate an action ([`EvaluateRequest`](super::EvaluateRequest)
/// or [`CurrentEvaluateRequest`](super::CurrentEvaluateRequest)).
pub const EVALUATE: &str = "/v1-evaluate";
/// `POST`: verify (and consume) a permit.
pub const VERIFY_PERMIT: &str = "/v1-verify-permit";
/// `POST`: revoke a permit by the id in the body.
pub const REVOKE_PERMIT: &str = "/v1-revoke-permit";
/// `GET`: describe the calling API key.
pub const API_KEY_SELF: &str = "/v1-api-key-self";
/// `GET`: one page of the audit chain's events.
pub const AUDIT_EVENTS: &str = "/v1-audit/events";
/// `POST`: a signed export of the audit chain.
pub const AUDIT_EXPORTS: &str = "/v1-audit/exports";
/// `GET`: the public keys that sign exports.
pub const SIGNING_KEYS: &str = "/v1-signing-keys";
/// `GET`: liveness (our server; not part of the hosted contract).
pub const HEALTH: &str = "/health";

/// The segment of the by-id paths that stands for the permit id.
pub const ID_SEGMENT: &str = "{id}";

/// `path` with its [`ID_SEGMENT`] replaced by `id` (which the caller has
/// already percent-encoded); a path without the segment is returned as is.
///
/// ```
/// use atlasent::wire::paths;
/// assert_eq!(paths::with_id(paths::PERMIT_VERIFY, "dec_1"), "/v1/permits/dec_1/verify");
/// ```
pub fn with_id(path: &str, id: &str) -> String {
    path.replacen(ID_SEGMENT, id, 1)
}

// The permit records: the listing, and the by-id paths.

/// `GET`: one page of permit records.
pub const PERMITS: &str = "/v1/permits";
/// `GET`: one permit record.
pub const PERMIT: &str = "/v1/permits/{id}";
/// `POST`: verify (and use) one permit by id.
pub const PERMIT_VERIFY: &str = "/v1/permits/{id}/verify";
/// `POST`: revoke one permit by id.
pub const PERMIT_REVOKE: &str = "/v1/permits/{id}/revoke";
