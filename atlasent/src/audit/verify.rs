//! Offline verification of signed audit export bundles.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};

use super::json::{key_is, stream_object, write_js_number, JsonError, Member, Value};
use super::{chain_hash, hex, GENESIS_HASH};

/// A public key that may have signed a bundle, with its registry id.
#[derive(Clone)]
pub struct VerifyingKey {
    key_id: String,
    key: ed25519_dalek::VerifyingKey,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A key that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Ed25519 public key: {0}")]
pub struct KeyError(String);

impl VerifyingKey {
    /// An SPKI PEM key (`-----BEGIN PUBLIC KEY-----`), as `GET /v1-signing-keys`
    /// serves them. Its id defaults to [`default_key_id`](Self::default_key_id).
    pub fn from_spki_pem(pem: &str) -> Result<VerifyingKey, KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim())
            .map_err(|e| KeyError(format!("not an SPKI PEM Ed25519 key ({e})")))?;
        Ok(Self::with_default_id(key))
    }

    /// A raw 32-byte Ed25519 public key.
    pub fn from_bytes(bytes: &[u8]) -> Result<VerifyingKey, KeyError> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError(format!("a raw key is 32 bytes, got {}", bytes.len())))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&array)
            .map_err(|e| KeyError(format!("not a valid curve point ({e})")))?;
        Ok(Self::with_default_id(key))
    }

    /// SPKI PEM text, or a raw key as 64 hex digits or base64/base64url of 32 bytes.
    pub fn parse(text: &str) -> Result<VerifyingKey, KeyError> {
        let text = text.trim();
        if text.starts_with("-----BEGIN") {
            return Self::from_spki_pem(text);
        }
        if text.len() == 64 {
            if let Ok(bytes) = hex::decode(text) {
                return Self::from_bytes(&bytes);
            }
        }
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(
                text.trim_end_matches('=')
                    .replace('-', "+")
                    .replace('_', "/"),
            )
            .map_err(|_| {
                KeyError("expected SPKI PEM, 64 hex digits or base64 of 32 bytes".into())
            })?;
        Self::from_bytes(&b64)
    }

    /// Give the key an id (e.g. the `key_id` the registry lists it under).
    pub fn with_id(mut self, key_id: impl Into<String>) -> VerifyingKey {
        self.key_id = key_id.into();
        self
    }

    /// The key's id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// `ed25519-` and the first 16 hex digits of the SHA-256 of the raw key:
    /// the id `atlasent-server` gives its signing key.
    pub fn default_key_id(&self) -> String {
        format!(
            "ed25519-{}",
            &hex(&Sha256::digest(self.key.as_bytes()))[..16]
        )
    }

    fn with_default_id(key: ed25519_dalek::VerifyingKey) -> VerifyingKey {
        let mut k = VerifyingKey {
            key_id: String::new(),
            key,
        };
        k.key_id = k.default_key_id();
        k
    }
}

/// What offline verification found. Every check is reported, not just the
/// first failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BundleVerification {
    /// Adjacency, every recomputed event hash, the head hash, the genesis
    /// start and the event count all hold.
    pub chain_integrity_ok: bool,
    /// The signature verified under one of the keys.
    pub signature_valid: bool,
    /// `chain_head_hash` equals the last event's hash (genesis when empty).
    pub head_hash_matches: bool,
    /// Every event's `previous_hash` is the hash of the event before it.
    pub links_ok: bool,
    /// The first event's `previous_hash` is the genesis hash (Python 1.4.1
    /// does not check this).
    pub starts_at_genesis: bool,
    /// `event_count` equals the number of events (Python 1.4.1 does not
    /// check this).
    pub event_count_matches: bool,
    /// Ids of events whose stored hash does not match their payload.
    pub tampered_event_ids: Vec<String>,
    /// The id of the key the signature verified under.
    pub matched_key_id: Option<String>,
    /// Why verification failed, in words (`None` when it passed).
    pub reason: Option<String>,
    /// What every JSON reader sees is what was signed: every top-level
    /// member is one the signature covers (or `signature` and
    /// `signing_key_id`), and every number is written as JavaScript writes
    /// it (`4`, not `4.0` or `1e400`, which readers parse differently).
    pub well_formed: bool,
}

impl BundleVerification {
    /// Chain and signature both hold over a well-formed bundle: the record
    /// is complete and unedited.
    pub fn verified(&self) -> bool {
        self.chain_integrity_ok && self.signature_valid && self.well_formed
    }
}

/// The top-level members a bundle may have besides the signed
/// [`ENVELOPE`]: the signature and the (unsigned, advisory) key hint.
const UNSIGNED_MEMBERS: [&str; 2] = ["signature", "signing_key_id"];

/// Where and how the first number in `v` is not written as JavaScript
/// writes it (`.a[2]: 4.0 …`), or is outside the range of a double: readers
/// would disagree on its value (Python reads `1e400` as `inf`, serde_json
/// refuses it, canonical JSON makes it `null`).
fn odd_number(v: &Value<'_>, scratch: &mut String) -> Option<String> {
    match v {
        Value::Number(text) => {
            let x: f64 = text.parse().unwrap_or(f64::NAN);
            if !x.is_finite() {
                return Some(format!(": {text} is outside the range of a double"));
            }
            scratch.clear();
            write_js_number(x, scratch);
            (scratch != text)
                .then(|| format!(": {text} is not written as JavaScript writes it ({scratch})"))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| odd_number(item, scratch).map(|rest| format!("[{i}]{rest}"))),
        Value::Object(members) => members
            .iter()
            .find_map(|(k, item)| odd_number(item, scratch).map(|rest| format!(".{k}{rest}"))),
        _ => None,
    }
}

/// A bundle that could not be examined at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The text is not JSON.
    #[error("the bundle is not valid JSON: {0}")]
    Json(JsonError),
    /// A member name appears twice in one object (after decoding escapes),
    /// anywhere in the bundle: JSON readers disagree on which copy counts,
    /// so the bundle has no single reading to verify. Genuine exports never
    /// repeat a name; treat this as a forgery.
    #[error("the bundle is refused: {0}; readers disagree on which copy counts")]
    DuplicateMember(JsonError),
    /// The JSON is not a bundle.
    #[error("not an audit bundle: {0}")]
    Shape(String),
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl From<JsonError> for BundleError {
    fn from(e: JsonError) -> Self {
        if e.is_duplicate() {
            BundleError::DuplicateMember(e)
        } else {
            BundleError::Json(e)
        }
    }
}

/// The members of the signed envelope, in signing order.
const ENVELOPE: [&str; 6] = [
    "export_id",
    "org_id",
    "chain_head_hash",
    "event_count",
    "signed_at",
    "events",
];

/// Verify an audit export bundle (its JSON text) offline against a set of
/// trusted keys, exactly as the reference verifier does, plus the two checks
/// Python 1.4.1 skips (genesis start, event count).
///
/// - Each event's hash must equal SHA-256 hex of the previous event's hash
///   followed by the canonical JSON of its payload, its `previous_hash` must be that
///   previous hash, the first must be the genesis hash, `chain_head_hash`
///   must be the last hash, and `event_count` the number of events.
/// - The Ed25519 signature (base64url) must verify over `JSON.stringify` of
///   `{export_id, org_id, chain_head_hash, event_count, signed_at, events}`
///   under one of `keys`, trying the one named by `signing_key_id` first.
///
/// Member names are compared decoded, as every JSON reader compares them, and
/// a name repeated in any object of the bundle (top level, event, payload,
/// at any depth) is [`BundleError::DuplicateMember`], naming the member and
/// its path: such a bundle reads differently in different readers.
///
/// A fixture wrapped as `{"description": …, "bundle": {…}}` is accepted too.
pub fn verify_audit_bundle(
    bundle_json: &str,
    keys: &[VerifyingKey],
) -> Result<BundleVerification, BundleError> {
    // The events array is streamed: one event's tree is alive at a time, and
    // the JSON.stringify envelope the signature covers is the only copy of
    // the bundle made.
    let mut members: Vec<(&str, Value<'_>)> = Vec::new();
    let mut chain = Chain::default();
    let mut events_js = String::new();
    let streamed = stream_object(bundle_json, "events", |member| match member {
        Member::Value(key, value) => members.push((key, value)),
        Member::ArrayStart => {
            events_js.reserve(bundle_json.len());
            events_js.push('[');
        }
        Member::Element(event) => {
            if chain.count > 0 {
                events_js.push(',');
            }
            event.write_js(&mut events_js);
            chain.push(&event);
        }
    })?;
    match streamed {
        None => Err(BundleError::Shape("expected a JSON object".into())),
        Some(true) => {
            events_js.push(']');
            Ok(finish(&members, chain, events_js, keys))
        }
        Some(false) => {
            // A fixture wrapped as {"description": …, "bundle": {…}}: small,
            // verified from its tree.
            // Only a pure wrapper: a file with any other member is read by
            // everyone else as that member, not as the wrapped bundle.
            let pure = members
                .iter()
                .all(|(k, _)| key_is(k, "bundle") || key_is(k, "description"));
            let inner = members
                .iter()
                .find(|(k, _)| pure && key_is(k, "bundle"))
                .map(|(_, v)| v);
            let Some(Value::Object(inner)) = inner else {
                return Err(BundleError::Shape(
                    match members.iter().find(|(k, _)| key_is(k, "events")) {
                        Some(_) => "`events` is not an array".into(),
                        None if members.first().is_some_and(|(k, _)| k.is_empty()) => {
                            "expected a JSON object".into()
                        }
                        None => "`events` is missing".into(),
                    },
                ));
            };
            let Some((_, Value::Array(events))) = inner.iter().find(|(k, _)| key_is(k, "events"))
            else {
                return Err(BundleError::Shape(
                    "`events` is missing or not an array".into(),
                ));
            };
            let mut chain = Chain::default();
            let mut events_js = String::from("[");
            for (i, event) in events.iter().enumerate() {
                if i > 0 {
                    events_js.push(',');
                }
                event.write_js(&mut events_js);
                chain.push(event);
            }
            events_js.push(']');
            Ok(finish(inner, chain, events_js, keys))
        }
    }
}

/// The running state of the hash-chain check, fed one event at a time.
#[derive(Default)]
struct Chain {
    count: usize,
    /// The hash the next event must link to.
    running: String,
    /// The first event's previous_hash is the genesis hash.
    starts_at_genesis: bool,
    links_ok: bool,
    tampered: Vec<String>,
    /// The last event's stored hash.
    last_hash: Option<String>,
    /// Reused buffer for canonical payloads.
    canonical: String,
    /// `event_id.field` of each field outside a payload that contradicts the
    /// payload's member of the same name.
    contradictions: Vec<String>,
    /// Reused buffers for comparing a field with its payload copy.
    inner: String,
    outer: String,
    /// The first number that readers would read differently.
    odd_number: Option<String>,
}

/// Event fields an auditor reads that the server also puts inside the hashed
/// payload: where both are present they must agree, or the unhashed copy
/// could say something the chain does not.
const AUDITED_FIELDS: [&str; 9] = [
    "id",
    "org_id",
    "sequence",
    "type",
    "decision",
    "actor_id",
    "resource_type",
    "resource_id",
    "occurred_at",
];

impl Chain {
    fn push(&mut self, event: &Value<'_>) {
        let index = self.count;
        self.count += 1;
        if self.odd_number.is_none() {
            self.odd_number = odd_number(event, &mut self.inner)
                .map(|rest| format!("number at $.events[{index}]{rest}"));
        }
        let prev = event.get("previous_hash").and_then(Value::as_str);
        if index == 0 {
            self.starts_at_genesis = prev.as_deref() == Some(GENESIS_HASH);
            self.links_ok = true;
            self.running = prev
                .as_deref()
                .map_or_else(|| GENESIS_HASH.to_owned(), str::to_owned);
        }
        let id = event
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("index_{index}"), |s| s.into_owned());
        let hash = event.get("hash").and_then(Value::as_str);
        self.last_hash = hash.as_deref().map(str::to_owned);
        let (Some(hash), Some(prev)) = (hash, prev) else {
            self.tampered.push(id);
            self.links_ok = false;
            return;
        };
        if prev != self.running {
            self.links_ok = false;
        }
        self.canonical.clear();
        match event.get("payload") {
            Some(Value::Null) | None => self.canonical.push_str("{}"),
            Some(payload) => payload.write_canonical(&mut self.canonical),
        }
        let contradicted = self.contradictions.len();
        if let Some(payload) = event.get("payload") {
            for name in AUDITED_FIELDS {
                let (Some(inner), Some(outer)) = (payload.get(name), event.get(name)) else {
                    continue;
                };
                self.inner.clear();
                self.outer.clear();
                inner.write_canonical(&mut self.inner);
                outer.write_canonical(&mut self.outer);
                if self.inner != self.outer {
                    self.contradictions.push(format!("{id}.{name}"));
                }
            }
        }
        if chain_hash(&self.running, &self.canonical) != hash
            || self.contradictions.len() > contradicted
        {
            self.tampered.push(id);
        }
        self.running = hash.into_owned();
    }
}

/// The bundle-level checks and the signature, once every event was seen.
fn finish(
    members: &[(&str, Value<'_>)],
    chain: Chain,
    mut envelope: String,
    keys: &[VerifyingKey],
) -> BundleVerification {
    let member = |name: &str| {
        members
            .iter()
            .find(|(k, _)| key_is(k, name))
            .map(|(_, v)| v)
    };
    let empty = chain.count == 0;
    let starts_at_genesis = empty || chain.starts_at_genesis;
    let links_ok = empty || chain.links_ok;
    let last_hash = chain.last_hash.unwrap_or_else(|| GENESIS_HASH.to_owned());
    let head_hash_matches = member("chain_head_hash")
        .and_then(Value::as_str)
        .is_some_and(|h| h == last_hash);
    let event_count_matches = member("event_count")
        .and_then(Value::as_f64)
        .is_some_and(|n| n == chain.count as f64);
    let tampered = chain.tampered;
    let contradictions = chain.contradictions;
    let mut scratch = String::new();
    let malformed = members
        .iter()
        .find_map(|(k, v)| {
            if !ENVELOPE
                .iter()
                .chain(&UNSIGNED_MEMBERS)
                .any(|name| key_is(k, name))
            {
                Some(format!(
                    "member \"{k}\" at $ is not covered by the signature"
                ))
            } else if key_is(k, "events") {
                None
            } else {
                odd_number(v, &mut scratch).map(|rest| format!("number at $.{k}{rest}"))
            }
        })
        .or(chain.odd_number);
    let well_formed = malformed.is_none();
    let chain_integrity_ok = links_ok
        && tampered.is_empty()
        && head_hash_matches
        && starts_at_genesis
        && event_count_matches;

    // The signature, over JSON.stringify({export_id, …, signed_at, events}).
    envelope.insert_str(0, &envelope_prefix(members));
    envelope.push('}');
    let mut signature_valid = false;
    let mut matched_key_id = None;
    let mut reason = None;
    let signature = member("signature").and_then(Value::as_str);
    if keys.is_empty() {
        reason = Some("no public keys were given to verify the signature with".to_owned());
    } else if signature.as_deref().is_none_or(str::is_empty) {
        reason = Some("bundle carries no signature".to_owned());
    } else {
        match decode_signature(&signature.unwrap_or_default()) {
            Err(why) => reason = Some(format!("signature check failed: {why}")),
            Ok(sig) => {
                let hint = member("signing_key_id")
                    .and_then(Value::as_str)
                    .map(|s| s.into_owned());
                let hinted = keys.iter().filter(|k| Some(&k.key_id) == hint.as_ref());
                let others = keys.iter().filter(|k| Some(&k.key_id) != hint.as_ref());
                for key in hinted.chain(others) {
                    if key.key.verify_strict(envelope.as_bytes(), &sig).is_ok() {
                        signature_valid = true;
                        matched_key_id = Some(key.key_id.clone());
                        break;
                    }
                }
                if !signature_valid {
                    reason = Some(format!(
                        "signature did not verify under any of {} configured public key(s)",
                        keys.len()
                    ));
                }
            }
        }
    }
    if let Some(why) = malformed {
        // First: a bundle read two ways has no single reading to report on.
        reason = Some(format!(
            "{why}: readers of the file would not see what was signed"
        ));
    }
    if !chain_integrity_ok && reason.is_none() {
        reason = Some(if !contradictions.is_empty() {
            format!(
                "event fields outside the hashed payload contradict it: {}",
                contradictions.join(", ")
            )
        } else if !tampered.is_empty() {
            format!(
                "hash mismatch for {} event(s): {}",
                tampered.len(),
                tampered.join(", ")
            )
        } else if !links_ok {
            "chain adjacency broken: an event's previous_hash is not the prior event's hash"
                .to_owned()
        } else if !starts_at_genesis {
            "the first event's previous_hash is not the genesis hash: events are missing from the start"
                .to_owned()
        } else if !head_hash_matches {
            "chain_head_hash does not match the last event".to_owned()
        } else {
            format!(
                "event_count does not match the {} events in the bundle",
                chain.count
            )
        });
    }
    BundleVerification {
        chain_integrity_ok,
        signature_valid,
        head_hash_matches,
        links_ok,
        starts_at_genesis,
        event_count_matches,
        tampered_event_ids: tampered,
        matched_key_id,
        reason,
        well_formed,
    }
}

/// [`verify_audit_bundle`] of a file.
pub fn verify_audit_bundle_file(
    path: impl AsRef<Path>,
    keys: &[VerifyingKey],
) -> Result<BundleVerification, BundleError> {
    let path = path.as_ref();
    // A regular file only: a device or a pipe (`/dev/zero`) has no end.
    let io = |source| BundleError::Io {
        path: path.display().to_string(),
        source,
    };
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|source| BundleError::Io {
        path: path.display().to_string(),
        source,
    })?;
    verify_audit_bundle(&text, keys)
}

fn decode_signature(text: &str) -> Result<ed25519_dalek::Signature, String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| format!("signature is not base64url ({e})"))?;
    let array: [u8; 64] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("an Ed25519 signature is 64 bytes, got {}", bytes.len()))?;
    Ok(ed25519_dalek::Signature::from_bytes(&array))
}

/// `{"export_id":…,…,"signed_at":…,"events":` of `JSON.stringify` of the
/// envelope (absent members are omitted, as JavaScript omits `undefined`);
/// the events array and the closing brace follow.
fn envelope_prefix(members: &[(&str, Value<'_>)]) -> String {
    let mut out = String::with_capacity(256);
    out.push('{');
    for name in &ENVELOPE[..ENVELOPE.len() - 1] {
        let Some((_, value)) = members.iter().find(|(k, _)| key_is(k, name)) else {
            continue;
        };
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        value.write_js(&mut out);
        out.push(',');
    }
    out.push_str("\"events\":");
    out
}
