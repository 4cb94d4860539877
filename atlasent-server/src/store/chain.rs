//! The audit chain's format, the same for every store: how an event is
//! numbered, what its hashed payload holds, how it links to its
//! predecessor, and how it reads on the wire.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{NewEvent, StoreError};
use crate::clock;

/// The head an organization's next event links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The last event's sequence number in its organization (0: none).
    pub seq: i64,
    /// The last event's hash (the genesis hash: none).
    pub hash: String,
}

impl Head {
    /// The head of an empty chain.
    pub fn genesis() -> Head {
        Head {
            seq: 0,
            hash: atlasent::audit::GENESIS_HASH.to_owned(),
        }
    }
}

/// An event ready to store: numbered, its payload completed and hashed
/// onto the chain.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// Its sequence number in its organization.
    pub seq: i64,
    /// `evt_` and the sequence number.
    pub id: String,
    /// `action` when it names one.
    pub resource_type: Option<&'static str>,
    /// The payload's JSON text, as hashed.
    pub payload: String,
    /// Its hash.
    pub hash: String,
    /// The hash it links to.
    pub previous_hash: String,
}

/// Seal `event` onto `head`, and move `head` to it. Everything an auditor
/// reads of an event (`id`, `org_id`, `sequence`, `type`, `decision`,
/// `actor_id`, `resource_type`, `resource_id`, `occurred_at`) is repeated
/// in the hashed payload.
pub fn seal(head: &mut Head, event: &NewEvent<'_>) -> Result<Sealed, StoreError> {
    let seq = head.seq + 1;
    let id = format!("evt_{seq:012}");
    let occurred_at = clock::rfc3339_ms(event.now_ms);
    let resource_type = event.resource_id.map(|_| "action");
    let mut payload = event.payload.clone();
    for (name, value) in [
        ("id", Some(id.as_str())),
        ("org_id", Some(event.org_id)),
        ("type", Some(event.kind)),
        ("decision", event.decision),
        ("actor_id", event.actor_id),
        ("resource_type", resource_type),
        ("resource_id", event.resource_id),
        ("occurred_at", Some(occurred_at.as_str())),
    ] {
        payload.insert(name.to_owned(), value.map_or(Value::Null, Value::from));
    }
    payload.insert("sequence".to_owned(), Value::from(seq));
    // Serialized once: the stored text is what the canonical form is made of.
    let text = Value::Object(payload).to_string();
    let canonical = atlasent::audit::canonical_json(&text).map_err(|e| {
        StoreError::Corrupt(format!("an event payload that is not canonical JSON ({e})"))
    })?;
    let hash = atlasent::audit::chain_hash(&head.hash, &canonical);
    let previous_hash = std::mem::replace(&mut head.hash, hash.clone());
    head.seq = seq;
    Ok(Sealed {
        seq,
        id,
        resource_type,
        payload: text,
        hash,
        previous_hash,
    })
}

/// A stored event as listings and exports show it (key order is the
/// wire's). Each field but the hashes repeats the payload's member of the
/// same name.
#[derive(Debug, Serialize)]
pub struct EventOut<'a> {
    /// `evt_…`.
    pub id: &'a str,
    /// Its organization.
    pub org_id: &'a str,
    /// Its sequence number in its organization.
    pub sequence: i64,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: &'a str,
    /// The decision, for an evaluation.
    pub decision: Option<&'a str>,
    /// The actor.
    pub actor_id: Option<&'a str>,
    /// `action` when it names one.
    pub resource_type: Option<&'a str>,
    /// The action.
    pub resource_id: Option<&'a str>,
    /// The hashed payload, as stored.
    pub payload: &'a RawValue,
    /// Its hash.
    pub hash: &'a str,
    /// The hash it links to.
    pub previous_hash: &'a str,
    /// When it happened (RFC 3339).
    pub occurred_at: &'a str,
    /// The same as `occurred_at`.
    pub created_at: &'a str,
}

impl EventOut<'_> {
    /// The event's wire JSON.
    pub fn to_raw(&self) -> Result<Box<RawValue>, StoreError> {
        Ok(RawValue::from_string(serde_json::to_string(self)?)?)
    }
}

/// The payload text of a stored event as raw JSON.
pub fn raw_payload(text: String) -> Result<Box<RawValue>, StoreError> {
    Ok(RawValue::from_string(text)?)
}
