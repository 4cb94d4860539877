//! Offline verification of signed audit export bundles.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};

use super::json::{JsonError, Value};
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
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bytes: Vec<u8> = (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or(0))
                .collect();
            return Self::from_bytes(&bytes);
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
}

impl BundleVerification {
    /// Chain and signature both hold: the record is complete and unedited.
    pub fn verified(&self) -> bool {
        self.chain_integrity_ok && self.signature_valid
    }
}

/// A bundle that could not be examined at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The text is not JSON.
    #[error("the bundle is not valid JSON: {0}")]
    Json(#[from] JsonError),
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
/// A fixture wrapped as `{"description": …, "bundle": {…}}` is accepted too.
pub fn verify_audit_bundle(
    bundle_json: &str,
    keys: &[VerifyingKey],
) -> Result<BundleVerification, BundleError> {
    let root = Value::parse(bundle_json)?;
    let bundle = match root.get("bundle") {
        Some(inner @ Value::Object(_)) => inner,
        _ => &root,
    };
    let Value::Object(members) = bundle else {
        return Err(BundleError::Shape("expected a JSON object".into()));
    };
    let events = match bundle.get("events") {
        Some(Value::Array(events)) => events.as_slice(),
        Some(_) => return Err(BundleError::Shape("`events` is not an array".into())),
        None => return Err(BundleError::Shape("`events` is missing".into())),
    };

    // The chain.
    let mut tampered = Vec::new();
    let mut adjacency_ok = true;
    let first_prev = events
        .first()
        .and_then(|e| e.get("previous_hash"))
        .and_then(Value::as_str);
    let starts_at_genesis = events.is_empty() || first_prev.as_deref() == Some(GENESIS_HASH);
    let mut running = first_prev.map_or_else(|| GENESIS_HASH.to_owned(), |s| s.into_owned());
    let mut canonical = String::new();
    for (i, event) in events.iter().enumerate() {
        let id = event
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("index_{i}"), |s| s.into_owned());
        let (Some(hash), Some(prev)) = (
            event.get("hash").and_then(Value::as_str),
            event.get("previous_hash").and_then(Value::as_str),
        ) else {
            tampered.push(id);
            adjacency_ok = false;
            continue;
        };
        if prev != running {
            adjacency_ok = false;
        }
        canonical.clear();
        match event.get("payload") {
            Some(Value::Null) | None => canonical.push_str("{}"),
            Some(payload) => payload.write_canonical(&mut canonical),
        }
        if chain_hash(&running, &canonical) != hash {
            tampered.push(id);
        }
        running = hash.into_owned();
    }
    let last_hash = events
        .last()
        .and_then(|e| e.get("hash"))
        .and_then(Value::as_str)
        .map_or_else(|| GENESIS_HASH.to_owned(), |s| s.into_owned());
    let head_hash_matches = bundle
        .get("chain_head_hash")
        .and_then(Value::as_str)
        .is_some_and(|h| h == last_hash);
    let event_count_matches = bundle
        .get("event_count")
        .and_then(Value::as_f64)
        .is_some_and(|n| n == events.len() as f64);
    let chain_integrity_ok = adjacency_ok
        && tampered.is_empty()
        && head_hash_matches
        && starts_at_genesis
        && event_count_matches;

    // The signature.
    let mut signature_valid = false;
    let mut matched_key_id = None;
    let mut reason = None;
    let signature = bundle.get("signature").and_then(Value::as_str);
    if keys.is_empty() {
        reason = Some("no public keys were given to verify the signature with".to_owned());
    } else if signature.as_deref().is_none_or(str::is_empty) {
        reason = Some("bundle carries no signature".to_owned());
    } else {
        let sig = signature.unwrap_or_default();
        match decode_signature(&sig) {
            Err(why) => reason = Some(format!("signature check failed: {why}")),
            Ok(sig) => {
                let envelope = envelope_bytes(members);
                let hint = bundle
                    .get("signing_key_id")
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
    if !chain_integrity_ok && reason.is_none() {
        reason = Some(if !tampered.is_empty() {
            format!(
                "hash mismatch for {} event(s): {}",
                tampered.len(),
                tampered.join(", ")
            )
        } else if !adjacency_ok {
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
                events.len()
            )
        });
    }
    Ok(BundleVerification {
        chain_integrity_ok,
        signature_valid,
        head_hash_matches,
        links_ok: adjacency_ok,
        starts_at_genesis,
        event_count_matches,
        tampered_event_ids: tampered,
        matched_key_id,
        reason,
    })
}

/// [`verify_audit_bundle`] of a file.
pub fn verify_audit_bundle_file(
    path: impl AsRef<Path>,
    keys: &[VerifyingKey],
) -> Result<BundleVerification, BundleError> {
    let path = path.as_ref();
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

/// `JSON.stringify({export_id, org_id, chain_head_hash, event_count,
/// signed_at, events})` of the received values (absent members are omitted,
/// as JavaScript omits `undefined`).
fn envelope_bytes(members: &[(&str, Value<'_>)]) -> String {
    let mut out = String::with_capacity(64);
    out.push('{');
    let mut first = true;
    for name in ENVELOPE {
        // The last of duplicate members wins, as in JSON.parse.
        let Some((_, value)) = members.iter().rev().find(|(k, _)| *k == name) else {
            continue;
        };
        if !first {
            out.push(',');
        }
        first = false;
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        value.write_js(&mut out);
    }
    out.push('}');
    out
}
