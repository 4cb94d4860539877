//! Permits by id (`/v1/permits…`, current wire): the permit record, a page
//! of them, the verify-by-id envelope and the revoke body.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{FieldKind, ReplyBody};

/// Where a permit is in its life. The wire field is open: a status this SDK
/// does not know is [`Other`](PermitStatus::Other) with its text (treat it as
/// not usable).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PermitStatus {
    /// Issued and not yet used; it may still have expired by the clock.
    Issued,
    /// Used through `POST /v1/permits/{id}/verify`.
    Verified,
    /// Used through `POST /v1-verify-permit`.
    Consumed,
    /// Past its expiry without being used.
    Expired,
    /// Revoked before use.
    Revoked,
    /// A status this SDK does not name, as the server sent it.
    Other(String),
}

impl PermitStatus {
    /// Every status this SDK names, in the order the contract documents
    /// them.
    pub const ALL: [PermitStatus; 5] = [
        Self::Issued,
        Self::Verified,
        Self::Consumed,
        Self::Expired,
        Self::Revoked,
    ];

    /// The named status spelled `text`; `None` for any other text (where
    /// [`From<&str>`](#impl-From%3C%26str%3E-for-PermitStatus) gives
    /// [`Other`](Self::Other)).
    pub fn parse(text: &str) -> Option<PermitStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The wire spelling: `issued`, `verified`, `consumed`, `expired`,
    /// `revoked`, or the unknown text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Issued => "issued",
            Self::Verified => "verified",
            Self::Consumed => "consumed",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Other(s) => s,
        }
    }

    /// Whether the permit was used (verified or consumed): a permit is used
    /// at most once, through either door.
    pub fn is_used(&self) -> bool {
        matches!(self, Self::Verified | Self::Consumed)
    }
}

impl From<&str> for PermitStatus {
    fn from(s: &str) -> Self {
        Self::parse(s).unwrap_or_else(|| Self::Other(s.to_owned()))
    }
}

impl fmt::Display for PermitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PermitStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PermitStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Self::from(text.as_ref()))
    }
}

/// One permit as `GET /v1/permits/{id}` returns it. Only allow decisions are
/// permits; the id is the decision id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PermitRecord {
    /// The permit id (`dec_…` on our server).
    pub id: String,
    /// The organization that owns it.
    pub org_id: String,
    /// The actor (agent) it was issued to.
    pub actor_id: String,
    /// The action it authorizes.
    pub action_id: String,
    /// The resource it targets, when the server records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// The environment it was issued for.
    #[serde(default)]
    pub environment: Option<String>,
    /// Where it is in its life.
    pub status: PermitStatus,
    /// When it was issued (RFC 3339).
    pub issued_at: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// When it was consumed through `/v1-verify-permit`.
    #[serde(default)]
    pub consumed_at: Option<String>,
    /// When it was verified through `/v1/permits/{id}/verify`.
    #[serde(default)]
    pub verified_at: Option<String>,
    /// When it was revoked.
    #[serde(default)]
    pub revoked_at: Option<String>,
    /// The key id that revoked it.
    #[serde(default)]
    pub revoked_by: Option<String>,
    /// Why it was revoked.
    #[serde(default)]
    pub revoke_reason: Option<String>,
    /// The permit's verification hash.
    #[serde(default)]
    pub signature: Option<String>,
    /// The `execution_hash` of the evaluated payload.
    #[serde(default)]
    pub payload_hash: Option<String>,
    /// The decision that issued it (its own id on our server).
    #[serde(default)]
    pub decision_id: Option<String>,
}

impl PermitRecord {
    /// [`expires_at`](Self::expires_at) as a time; `None` if it is not
    /// RFC 3339 (the client refuses such a record, so never for one it
    /// returned).
    pub fn expires_at_time(&self) -> Option<SystemTime> {
        crate::time::parse_rfc3339(&self.expires_at)
    }
}

/// The members a permit record must have, for [`diagnose`](super::diagnose).
macro_rules! record_fields {
    ($prefix:literal) => {
        [
            (concat!($prefix, "id"), FieldKind::String),
            (concat!($prefix, "org_id"), FieldKind::String),
            (concat!($prefix, "actor_id"), FieldKind::String),
            (concat!($prefix, "action_id"), FieldKind::String),
            (concat!($prefix, "status"), FieldKind::String),
            (concat!($prefix, "issued_at"), FieldKind::String),
            (concat!($prefix, "expires_at"), FieldKind::String),
        ]
    };
}

/// The members a permit record may have, typed.
macro_rules! record_optional {
    ($prefix:literal) => {
        [
            (concat!($prefix, "target_id"), FieldKind::String),
            (concat!($prefix, "environment"), FieldKind::String),
            (concat!($prefix, "consumed_at"), FieldKind::String),
            (concat!($prefix, "verified_at"), FieldKind::String),
            (concat!($prefix, "revoked_at"), FieldKind::String),
            (concat!($prefix, "revoked_by"), FieldKind::String),
            (concat!($prefix, "revoke_reason"), FieldKind::String),
            (concat!($prefix, "signature"), FieldKind::String),
            (concat!($prefix, "payload_hash"), FieldKind::String),
            (concat!($prefix, "decision_id"), FieldKind::String),
        ]
    };
}

type Field = (&'static str, FieldKind);

/// `head` then `tail`, in an array of their total length `N` (the caller's
/// type says it; a wrong `N` fails to compile).
const fn concat<const H: usize, const T: usize, const N: usize>(
    head: [Field; H],
    tail: [Field; T],
) -> [Field; N] {
    assert!(H + T == N, "concat: wrong length");
    let mut out = [("", FieldKind::Bool); N];
    let mut i = 0;
    while i < H {
        out[i] = head[i];
        i += 1;
    }
    while i < N {
        out[i] = tail[i - H];
        i += 1;
    }
    out
}

const RECORD_REQUIRED: [Field; 7] = record_fields!("");
const RECORD_OPTIONAL: [Field; 10] = record_optional!("");
const LISTED_REQUIRED: [Field; 9] = concat(
    [
        ("permits", FieldKind::Array),
        ("permits[]", FieldKind::Object),
    ],
    record_fields!("permits[]."),
);
const LISTED_OPTIONAL: [Field; 12] = concat(
    [
        ("total", FieldKind::Integer),
        ("next_cursor", FieldKind::String),
    ],
    record_optional!("permits[]."),
);
const VERIFIED_REQUIRED: [Field; 11] = concat(
    [
        ("valid", FieldKind::Bool),
        ("evidence", FieldKind::Object),
        ("evidence.permit_id", FieldKind::String),
        ("evidence.status", FieldKind::String),
    ],
    RECORD_REQUIRED,
);
const VERIFIED_OPTIONAL: [Field; 17] = concat(
    [
        ("verification_type", FieldKind::String),
        ("reason", FieldKind::String),
        ("evidence.actor_id", FieldKind::String),
        ("evidence.action_id", FieldKind::String),
        ("evidence.expires_at", FieldKind::String),
        ("evidence.payload_hash", FieldKind::String),
        ("evidence.decision_id", FieldKind::String),
    ],
    RECORD_OPTIONAL,
);

impl ReplyBody for PermitRecord {
    const REQUIRED: &'static [(&'static str, FieldKind)] = &RECORD_REQUIRED;
    const OPTIONAL: &'static [(&'static str, FieldKind)] = &RECORD_OPTIONAL;
}

/// `GET /v1/permits` reply: one page, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PermitList {
    /// The permits of this page.
    pub permits: Vec<PermitRecord>,
    /// How many permits match the filters in all (the Python SDK counts the
    /// page when a server leaves it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// The cursor of the next page; `null` on the last.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl ReplyBody for PermitList {
    const REQUIRED: &'static [(&'static str, FieldKind)] = &LISTED_REQUIRED;
    const OPTIONAL: &'static [(&'static str, FieldKind)] = &LISTED_OPTIONAL;
}

/// The `evidence` of a verify-by-id reply: what the verdict is about.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PermitEvidence {
    /// The permit verified.
    pub permit_id: String,
    /// Its status after this verification.
    pub status: PermitStatus,
    /// Its actor.
    #[serde(default)]
    pub actor_id: Option<String>,
    /// Its action.
    #[serde(default)]
    pub action_id: Option<String>,
    /// Its expiry.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Its payload hash.
    #[serde(default)]
    pub payload_hash: Option<String>,
    /// Its decision.
    #[serde(default)]
    pub decision_id: Option<String>,
}

/// `POST /v1/permits/{id}/verify` reply: the permit record's members plus
/// the verdict.
///
/// The reply has one `verified_at`, the time of this verification (for a
/// valid one, also the record's). Read, it is the envelope's
/// [`verified_at`](Self::verified_at) and the record's is `None`, as the
/// Python SDK separates them; written, the envelope's is the one written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PermitVerifyResponse {
    /// Whether the permit verified (and is now used, status `verified`).
    pub valid: bool,
    /// `permit`.
    #[serde(default = "permit_kind")]
    pub verification_type: String,
    /// Why, for people.
    #[serde(default)]
    pub reason: Option<String>,
    /// When this verification happened.
    #[serde(default)]
    pub verified_at: Option<String>,
    /// What the verdict is about.
    pub evidence: PermitEvidence,
    /// The permit after this verification.
    #[serde(flatten)]
    pub permit: PermitRecord,
}

impl Serialize for PermitVerifyResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let mut members = match serde_json::to_value(&self.permit).map_err(S::Error::custom)? {
            serde_json::Value::Object(members) => members,
            _ => return Err(S::Error::custom("a permit record is a JSON object")),
        };
        let evidence = serde_json::to_value(&self.evidence).map_err(S::Error::custom)?;
        for (name, value) in [
            ("valid", serde_json::Value::from(self.valid)),
            (
                "verification_type",
                serde_json::Value::from(self.verification_type.as_str()),
            ),
            ("reason", serde_json::Value::from(self.reason.clone())),
            (
                "verified_at",
                serde_json::Value::from(self.verified_at.clone()),
            ),
            ("evidence", evidence),
        ] {
            members.insert(name.to_owned(), value);
        }
        members.serialize(serializer)
    }
}

fn permit_kind() -> String {
    "permit".to_owned()
}

impl ReplyBody for PermitVerifyResponse {
    const REQUIRED: &'static [(&'static str, FieldKind)] = &VERIFIED_REQUIRED;
    const OPTIONAL: &'static [(&'static str, FieldKind)] = &VERIFIED_OPTIONAL;
}

/// `POST /v1/permits/{id}/revoke` request body.
#[derive(Debug, Clone, Serialize)]
pub struct RevokeByIdRequest<'a> {
    /// Why, stored with the permit and in the audit log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> serde_json::Value {
        serde_json::json!({
            "id": "dec_1", "org_id": "org_1", "actor_id": "bot", "action_id": "deploy.prod",
            "environment": null, "status": "issued", "issued_at": "2026-04-17T10:00:00.000Z",
            "expires_at": "2026-04-17T10:05:00.000Z", "consumed_at": null, "verified_at": null,
            "revoked_at": null, "revoked_by": null, "revoke_reason": null, "signature": "s",
            "payload_hash": null, "decision_id": "dec_1"
        })
    }

    #[test]
    fn a_record_round_trips_with_its_nulls() {
        let parsed: PermitRecord = serde_json::from_value(record()).expect("parses");
        assert_eq!(parsed.status, PermitStatus::Issued);
        assert!(parsed.expires_at_time().is_some());
        assert_eq!(serde_json::to_value(&parsed).expect("serializes"), record());
    }

    #[test]
    fn an_unknown_status_is_other() {
        let mut value = record();
        value["status"] = "pending_review".into();
        let parsed: PermitRecord = serde_json::from_value(value).expect("parses");
        assert_eq!(parsed.status, PermitStatus::Other("pending_review".into()));
        assert!(!parsed.status.is_used());
        assert!(PermitStatus::Consumed.is_used() && PermitStatus::Verified.is_used());
    }

    #[test]
    fn the_verify_envelope_reads_and_writes_verified_at_once() {
        let mut value = record();
        value["status"] = "verified".into();
        value["verified_at"] = "2026-04-17T10:01:00.000Z".into();
        let obj = value.as_object_mut().expect("object");
        obj.insert("valid".into(), true.into());
        obj.insert("verification_type".into(), "permit".into());
        obj.insert("reason".into(), "verified".into());
        obj.insert(
            "evidence".into(),
            serde_json::json!({"permit_id": "dec_1", "status": "verified", "actor_id": "bot",
                "action_id": "deploy.prod", "expires_at": "2026-04-17T10:05:00.000Z",
                "payload_hash": null, "decision_id": "dec_1"}),
        );
        let text = serde_json::to_vec(&value).expect("text");
        let parsed: PermitVerifyResponse =
            crate::wire::from_slice_strict(&text).expect("parses strictly");
        assert_eq!(
            parsed.verified_at.as_deref(),
            Some("2026-04-17T10:01:00.000Z")
        );
        assert_eq!(
            parsed.permit.verified_at, None,
            "the envelope's, as 2.18 reads it"
        );
        let written = serde_json::to_vec(&parsed).expect("serializes");
        crate::wire::check_unique_members(&written).expect("no member written twice");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&written).expect("json"),
            value
        );
    }
}
