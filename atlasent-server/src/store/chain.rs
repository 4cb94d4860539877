//! The audit chain's format, the same for every store: how an event is
//! numbered, what its hashed payload holds, how it links to its
//! predecessor, and how it reads on the wire.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

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
    /// The payload's canonical JSON text, as hashed.
    pub payload: String,
    /// Its hash.
    pub hash: String,
    /// The hash it links to.
    pub previous_hash: String,
}

/// An event payload made canonical member by member, ready to be sealed:
/// each member's key and its value's canonical JSON (`JSON.stringify` of
/// the value with keys sorted by UTF-16 code units). Made by the caller
/// where it can be (an evaluation's, before its write is queued), so that
/// the writer only merges in the members it numbers and hashes the text.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    members: Vec<(String, String)>,
}

impl Prepared {
    /// The members of `payload`, each value made canonical. A member name
    /// that is an array index (`"0"`, `"10"`), at any depth, is refused:
    /// `JSON.stringify` writes such members first, out of canonical order,
    /// so an export holding one would never verify.
    pub fn new(payload: &Map<String, Value>) -> Result<Prepared, StoreError> {
        let members = payload
            .iter()
            .map(|(name, value)| {
                no_index_names(name, value)?;
                Ok((name.clone(), canonical(value)?))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Prepared { members })
    }
}

/// Whether `text` is a SHA-256 as this server writes it: 64 lowercase
/// hexadecimal digits.
pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Refuse a member `name` (with its `value`, at any depth) that is an
/// ECMAScript array index: `JSON.stringify` writes such members first, in
/// numeric order, not where the canonical order puts them, so an export
/// holding one would sign a text that differs from what every verifier
/// re-serializes (the bundle would never verify).
fn no_index_names(name: &str, value: &Value) -> Result<(), StoreError> {
    if atlasent::audit::json::array_index(name).is_some() {
        return Err(StoreError::Json(
            <serde_json::Error as serde::ser::Error>::custom(format!(
                "the event payload member name {name:?} is an array index, which JSON.stringify \
                 writes out of canonical order: its export would never verify"
            )),
        ));
    }
    match value {
        Value::Object(map) => map.iter().try_for_each(|(n, v)| no_index_names(n, v)),
        Value::Array(items) => items.iter().try_for_each(|v| no_index_names("", v)),
        _ => Ok(()),
    }
}

/// What an event's payload is made of: members to make canonical, or made
/// so already.
#[derive(Debug, Clone)]
pub enum EventPayload {
    /// Members as values (made canonical by [`seal`]).
    Map(Map<String, Value>),
    /// Members made canonical by the caller.
    Prepared(Prepared),
}

impl From<Map<String, Value>> for EventPayload {
    fn from(map: Map<String, Value>) -> Self {
        Self::Map(map)
    }
}

impl From<Prepared> for EventPayload {
    fn from(prepared: Prepared) -> Self {
        Self::Prepared(prepared)
    }
}

/// Whether `JSON.stringify` writes `text` as it is between quotes:
/// printable ASCII without quotes or backslashes.
fn plain(text: &str) -> bool {
    text.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// A string as `JSON.stringify` writes it, with no parsing for the common
/// case (printable ASCII without quotes or backslashes).
fn quoted(text: &str) -> Result<String, StoreError> {
    let mut out = String::with_capacity(text.len() + 2);
    write_quoted(text, &mut out)?;
    Ok(out)
}

/// Append `text` as `JSON.stringify` writes it to `out` (see [`quoted`]).
fn write_quoted(text: &str, out: &mut String) -> Result<(), StoreError> {
    if plain(text) {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(&canonical_of(text)?);
    }
    Ok(())
}

/// The canonical JSON of any serializable value, through the audit
/// module's canonicalization (the verifier's own).
fn canonical_of<T: Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    atlasent::audit::canonical_json_of(value).map_err(|e| {
        StoreError::Corrupt(format!("an event payload that is not canonical JSON ({e})"))
    })
}

/// The canonical JSON of `value`: nulls, booleans, strings and safe
/// integers directly, anything else through the audit module.
fn canonical(value: &Value) -> Result<String, StoreError> {
    /// The largest integer a double holds exactly (`Number.MAX_SAFE_INTEGER`).
    const SAFE: u64 = (1 << 53) - 1;
    match value {
        Value::Null => Ok("null".to_owned()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::String(s) => quoted(s),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) if i.unsigned_abs() <= SAFE => Ok(i.to_string()),
            (_, Some(u)) if u <= SAFE => Ok(u.to_string()),
            _ => canonical_of(value),
        },
        Value::Array(_) | Value::Object(_) => canonical_of(value),
    }
}

/// The id of the event numbered `seq` in its organization: `evt_` and the
/// number, 12 digits at least.
pub fn event_id(seq: i64) -> String {
    format!("evt_{seq:012}")
}

/// The `resource_type` of an event naming `resource_id`: `action` when it
/// names one.
pub fn resource_type(resource_id: Option<&str>) -> Option<&'static str> {
    resource_id.map(|_| "action")
}

/// Seal `event` onto `head`, and move `head` to it (only on success: an
/// error leaves `head` as it was, which the writers rely on). Everything an auditor
/// reads of an event (`id`, `org_id`, `sequence`, `type`, `decision`,
/// `actor_id`, `resource_type`, `resource_id`, `occurred_at`) is repeated
/// in the hashed payload. The stored text is the payload's canonical JSON,
/// the very bytes hashed.
pub fn seal(head: &mut Head, event: &NewEvent<'_>) -> Result<Sealed, StoreError> {
    let seq = head.seq + 1;
    let id = event_id(seq);
    let occurred_at = clock::rfc3339_ms(event.now_ms);
    let resource_type = resource_type(event.resource_id);
    let own: [(&str, Option<&str>); 8] = [
        ("id", Some(id.as_str())),
        ("org_id", Some(event.org_id)),
        ("type", Some(event.kind)),
        ("decision", event.decision),
        ("actor_id", event.actor_id),
        ("resource_type", resource_type),
        ("resource_id", event.resource_id),
        ("occurred_at", Some(occurred_at.as_str())),
    ];
    let made;
    let prepared = match &event.payload {
        EventPayload::Prepared(p) => p,
        EventPayload::Map(map) => {
            made = Prepared::new(map)?;
            &made
        }
    };
    // The event's own members replace the payload's of the same name.
    let mut members: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(prepared.members.len() + 9);
    for (name, value) in &prepared.members {
        if name != "sequence" && !own.iter().any(|(n, _)| n == name) {
            members.push((name.as_str(), Cow::Borrowed(value.as_str())));
        }
    }
    for (name, value) in own {
        let value = match value {
            Some(text) => Cow::Owned(quoted(text)?),
            None => Cow::Borrowed("null"),
        };
        members.push((name, value));
    }
    members.push(("sequence", Cow::Owned(seq.to_string())));
    members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    let mut text = String::with_capacity(
        members
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum::<usize>()
            + 2,
    );
    text.push('{');
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        write_quoted(name, &mut text)?;
        text.push(':');
        text.push_str(value);
    }
    text.push('}');
    let hash = atlasent::audit::chain_hash(&head.hash, &text);
    let previous_hash = std::mem::replace(&mut head.hash, hash.clone());
    head.seq = seq;
    Ok(Sealed {
        seq,
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

/// An event's columns as a store reads them.
#[derive(Debug)]
pub(crate) struct StoredEvent {
    pub(crate) sequence: i64,
    pub(crate) kind: String,
    pub(crate) decision: Option<String>,
    pub(crate) actor_id: Option<String>,
    pub(crate) resource_id: Option<String>,
    pub(crate) payload: String,
    pub(crate) hash: String,
    pub(crate) previous_hash: String,
    pub(crate) occurred_ms: i64,
}

/// Events selected for a listing or an export: each as wire JSON, with its
/// sequence number, and the hash of the last.
#[derive(Debug, Default)]
pub(crate) struct Selected {
    pub(crate) events: Vec<Box<RawValue>>,
    sequences: Vec<i64>,
    pub(crate) last_hash: Option<String>,
}

impl Selected {
    /// Add `org_id`'s event `e`, as listings and exports show it.
    pub(crate) fn push(&mut self, org_id: &str, e: StoredEvent) -> Result<(), StoreError> {
        let payload = raw_payload(e.payload)?;
        let at = clock::rfc3339_ms(e.occurred_ms);
        let event = EventOut {
            id: &event_id(e.sequence),
            org_id,
            sequence: e.sequence,
            kind: &e.kind,
            decision: e.decision.as_deref(),
            actor_id: e.actor_id.as_deref(),
            resource_type: resource_type(e.resource_id.as_deref()),
            resource_id: e.resource_id.as_deref(),
            payload: &payload,
            hash: &e.hash,
            previous_hash: &e.previous_hash,
            occurred_at: &at,
            created_at: &at,
        };
        self.events.push(event.to_raw()?);
        self.sequences.push(e.sequence);
        self.last_hash = Some(e.hash);
        Ok(())
    }

    /// The page of a listing selected with one row more than `limit` (that
    /// row tells another page follows), of `total` matching events.
    pub(crate) fn page(mut self, limit: u32, total: u64) -> super::EventPage {
        let limit = limit as usize;
        let next_cursor = if self.events.len() > limit {
            self.events.truncate(limit);
            self.sequences.truncate(limit);
            self.sequences.last().map(i64::to_string)
        } else {
            None
        };
        super::EventPage {
            events: self.events,
            total,
            next_cursor,
        }
    }
}

/// The payload text of a stored event as raw JSON.
pub fn raw_payload(text: String) -> Result<Box<RawValue>, StoreError> {
    Ok(RawValue::from_string(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn array_index_member_names_are_refused_at_any_depth() {
        let prepared = |v: Value| Prepared::new(v.as_object().expect("an object"));
        for bad in [
            json!({ "9": 1 }),
            json!({ "top_level": { "10": 1 } }),
            json!({ "a": [1, { "0": true }] }),
            json!({ "a": { "b": { "4294967294": null } } }),
        ] {
            let err = prepared(bad.clone()).expect_err("refused");
            assert!(
                err.to_string().contains("is an array index"),
                "{bad}: {err}"
            );
        }
        // Not array indexes: a leading zero, 2^32 - 1 and above, signs,
        // spaces, the empty name.
        let fine = json!({ "01": 1, "4294967295": 2, "-1": 3, " 1": 4, "": 5,
                           "x": { "1.0": 6, "99999999999": 7 } });
        prepared(fine).expect("accepted");
    }

    /// The payload sealed member by member is the canonical JSON of the
    /// whole payload (what the verifiers recompute), for strings that need
    /// escaping, numbers a double cannot hold, nested objects and members
    /// the event's own replace.
    #[test]
    fn a_prepared_payload_is_the_canonical_json_of_the_whole() {
        let payload = json!({
            "quote": "a \"b\" \\ c\n\u{7f}\u{2028}",
            "emoji": "\u{1F600} é",
            "big": 18_446_744_073_709_551_615u64,
            "neg": -9_007_199_254_740_993i64,
            "small": -42,
            "float": 10.5,
            "null": null,
            "yes": true,
            "list": [1, "x", {"b": 1, "a": [null]}],
            "nested": {"\u{1F600}": 1, "\u{FFFF}": 2, "z": {"y": "x"}},
            "id": "replaced",
            "sequence": "replaced",
        });
        let map = payload.as_object().expect("object").clone();
        let event = NewEvent {
            org_id: "o\u{e9}",
            kind: "evaluate.allow",
            decision: Some("allow"),
            actor_id: Some("bot \"7\""),
            resource_id: Some("pay"),
            payload: map.clone().into(),
            now_ms: 1_000,
        };
        let mut head = Head::genesis();
        let sealed = seal(&mut head, &event).expect("seal");
        let mut whole = map;
        for (name, value) in [
            ("id", json!("evt_000000000001")),
            ("org_id", json!("o\u{e9}")),
            ("type", json!("evaluate.allow")),
            ("decision", json!("allow")),
            ("actor_id", json!("bot \"7\"")),
            ("resource_type", json!("action")),
            ("resource_id", json!("pay")),
            ("occurred_at", json!(clock::rfc3339_ms(1_000))),
            ("sequence", json!(1)),
        ] {
            whole.insert(name.to_owned(), value);
        }
        let canonical = atlasent::audit::canonical_json_of(&Value::Object(whole)).expect("json");
        assert_eq!(sealed.payload, canonical);
        assert_eq!(
            sealed.hash,
            atlasent::audit::chain_hash(atlasent::audit::GENESIS_HASH, &canonical)
        );
        // Prepared ahead of the writer: the same bytes.
        let prepared = Prepared::new(payload.as_object().expect("object")).expect("prepared");
        let again = seal(
            &mut Head::genesis(),
            &NewEvent {
                payload: prepared.into(),
                ..event
            },
        )
        .expect("seal");
        assert_eq!(again.payload, sealed.payload);
    }
}
