//! Offline verification of signed audit export bundles.

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};

use super::json::{
    key_is, parse_element, parse_member, write_js_number, JsonError, MemberText, ObjectReader,
    Opening, StreamError, Value, CHUNK_BYTES,
};
use super::{chain_hash, hex, GENESIS_HASH};
use crate::display::printable_cut;

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
    /// Ids of events whose stored hash does not match their payload: the
    /// first [`MAX_LISTED_EVENTS`], each cut to [`MAX_LISTED_ID_BYTES`]
    /// (a hostile bundle cannot make the report grow with it);
    /// [`tampered_event_count`](Self::tampered_event_count) counts them all.
    pub tampered_event_ids: Vec<String>,
    /// How many events' stored hash does not match their payload.
    pub tampered_event_count: usize,
    /// The id of the key the signature verified under.
    pub matched_key_id: Option<String>,
    /// Why verification failed, in words (`None` when it passed).
    pub reason: Option<String>,
    /// What every JSON reader sees is what was signed: every top-level
    /// member is one the signature covers (or `signature` and
    /// `signing_key_id`), and every number is written as JavaScript writes
    /// it (`4`, not `4.0` or `1e400`, which readers parse differently). An
    /// integer beyond 2^53 written as JavaScript writes it
    /// (`9223372036854776000`) passes, though readers with exact integers
    /// (Python, `serde_json`) read that integer where JavaScript reads the
    /// nearest double: the hashes, over the text, agree.
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
        Value::Number(text) if plain_integer(text) => None,
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
        Value::Object(members) => members.iter().find_map(|(k, item)| {
            odd_number(item, scratch)
                .map(|rest| format!(".{}{rest}", printable_cut(k, MAX_LISTED_ID_BYTES)))
        }),
        _ => None,
    }
}

/// An integer JavaScript writes as it is: at most 15 digits (exact in a
/// double), no leading zero, no `-0`.
fn plain_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text).as_bytes();
    !digits.is_empty()
        && digits.len() <= 15
        && digits.iter().all(u8::is_ascii_digit)
        && (digits[0] != b'0' || (digits.len() == 1 && digits.len() == text.len()))
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
    /// An event, or the top-level members but `events`, are longer than
    /// the verifier holds ([`MAX_EVENT_BYTES`], [`MAX_HEAD_BYTES`]): the
    /// bundle is refused rather than read into memory. Genuine exports are
    /// far below both.
    #[error("the bundle is refused: {what} at byte {offset} is longer than {limit} bytes")]
    TooLarge {
        /// What is too long.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The file could not be read (or changed while it was read).
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

/// The most bytes one event's text may take in a bundle: a longer event is
/// refused ([`BundleError::TooLarge`]) rather than held in memory. Genuine
/// events are about a kilobyte; the limit matches the largest request body
/// a server may be configured to accept ([`crate::wire::limits::MAX_BODY_BYTES_RANGE`]).
///
/// The memory one event costs while it is checked is its text plus its
/// parse tree: about 32 bytes per JSON value, so an event made of nothing
/// but tiny values (`[0,0,0,…]`) costs up to ~20× its text — a few hundred
/// MiB at this limit, once, never growing with the number of events.
pub const MAX_EVENT_BYTES: usize = 16 << 20;

/// The most event ids a verification lists (in
/// [`BundleVerification::tampered_event_ids`] and its reason); the rest are
/// counted.
pub const MAX_LISTED_EVENTS: usize = 100;

/// The most bytes of one event id a verification lists (longer ids are cut
/// at a character boundary and end in `…`).
pub const MAX_LISTED_ID_BYTES: usize = 128;

/// The most bytes the top-level members other than `events` (names
/// included) may take together: longer ones are refused
/// ([`BundleError::TooLarge`]). A genuine bundle's take about 400.
pub const MAX_HEAD_BYTES: usize = 1 << 20;

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
///
/// This is [`verify_audit_bundle_reader`] over the text: the same code, the
/// same limits ([`MAX_EVENT_BYTES`], [`MAX_HEAD_BYTES`]).
pub fn verify_audit_bundle(
    bundle_json: &str,
    keys: &[VerifyingKey],
) -> Result<BundleVerification, BundleError> {
    let text = std::io::Cursor::new(bundle_json.as_bytes());
    verify_stream(text, keys, Limits::DEFAULT, true).map_err(|e| e.named("the bundle text"))
}

/// [`verify_audit_bundle`] of a bundle read from `reader`, from its current
/// position to its end, in bounded memory: the reader is read through one
/// 64 KiB buffer, one event is held at a
/// time, and the `JSON.stringify` envelope the signature covers is fed to
/// the Ed25519 check piece by piece (its SHA-512 is streamed, on a second
/// thread, in 64 KiB batches), never built whole. An event longer than [`MAX_EVENT_BYTES`], or top-level members
/// other than `events` longer than [`MAX_HEAD_BYTES`] together, are refused
/// ([`BundleError::TooLarge`]) rather than held.
///
/// The reader is read twice, hence `Seek`: Ed25519 hashes the signature's
/// first half before the message, and the signature (like every member the
/// envelope's prefix names) may come after `events` (the server writes it
/// last). The first pass checks the top level and reads every member but
/// `events` (skipping the events without parsing them); the second parses
/// and verifies the events, and refuses the bundle
/// ([`BundleError::Io`], `InvalidData`) if the members it reads again are
/// not byte for byte those of the first pass (the file changed).
pub fn verify_audit_bundle_reader<R: Read + Seek>(
    reader: R,
    keys: &[VerifyingKey],
) -> Result<BundleVerification, BundleError> {
    verify_stream(reader, keys, Limits::DEFAULT, true).map_err(|e| e.named("the bundle"))
}

/// The sizes that bound the verifier's memory (tests make them small).
#[derive(Clone, Copy)]
struct Limits {
    chunk: usize,
    event: usize,
    head: usize,
}

impl Limits {
    const DEFAULT: Limits = Limits {
        chunk: CHUNK_BYTES,
        event: MAX_EVENT_BYTES,
        head: MAX_HEAD_BYTES,
    };
}

/// A failure of the streamed verification, before the source is named.
enum Failure {
    Stream(StreamError),
    Shape(String),
}

impl From<StreamError> for Failure {
    fn from(e: StreamError) -> Self {
        Failure::Stream(e)
    }
}

impl From<JsonError> for Failure {
    fn from(e: JsonError) -> Self {
        Failure::Stream(StreamError::Json(e))
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Stream(StreamError::Io(e))
    }
}

impl Failure {
    fn named(self, source: &str) -> BundleError {
        match self {
            Failure::Shape(why) => BundleError::Shape(why),
            Failure::Stream(StreamError::Json(e)) => BundleError::from(e),
            Failure::Stream(StreamError::Io(source_error)) => BundleError::Io {
                path: source.to_owned(),
                source: source_error,
            },
            Failure::Stream(StreamError::TooLarge {
                what,
                offset,
                limit,
            }) => BundleError::TooLarge {
                what,
                offset,
                limit,
            },
        }
    }
}

/// Check the top level of a bundle's text, every event parsed (and
/// dropped): the members other than `events`, handed to `member`, and the
/// number of events, `None` without an `events` array; `Err` with the
/// reason when the text is not a JSON object.
pub(super) fn scan_bundle_text(
    text: &str,
    mut member: impl FnMut(&str, &Value<'_>),
) -> Result<Option<usize>, BundleError> {
    let mut count = 0;
    let mut on_event = |events_key: &str, index: usize, text: &[u8], offset: usize| {
        parse_element(events_key, index, text, offset)?;
        count += 1;
        Ok(())
    };
    let pass = read_pass(
        std::io::Cursor::new(text.as_bytes()),
        Limits::DEFAULT,
        Some(&mut on_event),
    );
    let named = |e: Failure| e.named("the bundle text");
    let head = pass
        .map_err(named)?
        .ok_or_else(|| BundleError::Shape("expected a JSON object".into()))?;
    for (key, text, offset) in &head.members {
        member(key, &parse_member(key, text, *offset)?);
    }
    Ok(head.events.then_some(count))
}

/// What one pass over the top level finds: every member but the streamed
/// `events` array, as text, in order.
#[derive(PartialEq, Eq)]
struct Head {
    /// Every member name, raw, in order (`events` included).
    keys: Vec<String>,
    /// The members other than the `events` array: raw name, value text,
    /// the value's offset.
    members: Vec<(String, Vec<u8>, usize)>,
    /// The `events` array was seen.
    events: bool,
}

/// The callback of [`read_pass`]: `(raw name of events, index, text, offset)`.
type OnEvent<'f> = &'f mut dyn FnMut(&str, usize, &[u8], usize) -> Result<(), Failure>;

/// One pass over the stream: the top level, and each element of `events`
/// handed to `event` (or only skipped, with `None`). `None` when the stream
/// is JSON but not an object.
fn read_pass<R: Read>(
    reader: R,
    limits: Limits,
    mut event: Option<OnEvent<'_>>,
) -> Result<Option<Head>, Failure> {
    let mut object = ObjectReader::new(reader, limits.head, limits.chunk);
    if let Opening::NotObject = object.open()? {
        return Ok(None);
    }
    let mut members = Vec::new();
    let mut events = false;
    let mut text = Vec::new();
    while let Some((key, member)) = object.next_member("events")? {
        match member {
            MemberText::Value { text, offset } => members.push((key, text, offset)),
            MemberText::Array => {
                events = true;
                let mut index = 0;
                loop {
                    let out = event.is_some().then_some(&mut text);
                    let Some(offset) = object.next_element(out, limits.event)? else {
                        break;
                    };
                    if let Some(event) = event.as_deref_mut() {
                        event(&key, index, &text, offset)?;
                    }
                    index += 1;
                }
            }
        }
    }
    Ok(Some(Head {
        keys: object.keys().map(str::to_owned).collect(),
        members,
        events,
    }))
}

fn verify_stream<R: Read + Seek>(
    mut reader: R,
    keys: &[VerifyingKey],
    limits: Limits,
    wrapper_allowed: bool,
) -> Result<BundleVerification, Failure> {
    let start = reader.stream_position()?;
    // Pass 1: the top level, the events skipped.
    let Some(head) = read_pass(&mut reader, limits, None)? else {
        return Err(Failure::Shape("expected a JSON object".into()));
    };
    let members = head
        .members
        .iter()
        .map(|(key, text, offset)| parse_member(key, text, *offset).map(|v| (key.as_str(), v)))
        .collect::<Result<Vec<(&str, Value<'_>)>, JsonError>>()?;
    if !head.events {
        return verify_wrapped(&head, &members, keys, limits, wrapper_allowed);
    }

    // Pass 2: every event parsed, chained and fed to the signature check.
    reader.seek(SeekFrom::Start(start))?;
    let signature = SignatureCheck::new(&members, keys);
    let mut chain = Chain::default();
    let (again, signature) = second_pass(&mut reader, limits, signature, &mut chain);
    if again?.as_ref() != Some(&head) {
        return Err(Failure::Stream(StreamError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the bundle changed while it was being verified",
        ))));
    }
    Ok(finish(&members, chain, signature, keys.len()))
}

/// How many bytes of the envelope go to the hashing thread at a time.
const BATCH_BYTES: usize = 64 * 1024;

/// The second pass: each event parsed and chained on this thread, its
/// `JSON.stringify` text hashed into the signature check on a second one
/// (the SHA-512 of the envelope is a sixth of the work), in batches of about
/// [`BATCH_BYTES`] through a channel of four: the memory stays bounded.
fn second_pass<R: Read>(
    reader: R,
    limits: Limits,
    mut signature: SignatureCheck,
    chain: &mut Chain,
) -> (Result<Option<Head>, Failure>, SignatureCheck) {
    if let SignatureCheck::Refused(_) = signature {
        // Nothing to hash.
        let mut on_event = |events_key: &str, index: usize, text: &[u8], offset: usize| {
            chain.push(&parse_element(events_key, index, text, offset)?);
            Ok(())
        };
        return (read_pass(reader, limits, Some(&mut on_event)), signature);
    }
    std::thread::scope(|scope| {
        let (to_hasher, batches) = std::sync::mpsc::sync_channel::<String>(4);
        let hasher = scope.spawn(move || {
            for batch in batches {
                signature.update(batch.as_bytes());
            }
            signature.update(b"]}");
            signature
        });
        let mut batch = String::with_capacity(2 * BATCH_BYTES);
        let mut on_event = |events_key: &str, index: usize, text: &[u8], offset: usize| {
            let event = parse_element(events_key, index, text, offset)?;
            if index > 0 {
                batch.push(',');
            }
            event.write_js(&mut batch);
            chain.push(&event);
            if batch.len() >= BATCH_BYTES {
                let full = std::mem::replace(&mut batch, String::with_capacity(2 * BATCH_BYTES));
                // A closed channel means the hasher stopped: its join says so.
                let _ = to_hasher.send(full);
            }
            Ok(())
        };
        let pass = read_pass(reader, limits, Some(&mut on_event));
        let _ = to_hasher.send(batch);
        drop(to_hasher);
        let signature = hasher.join().unwrap_or_else(|_| {
            SignatureCheck::Refused("the signature check stopped before the end".to_owned())
        });
        (pass, signature)
    })
}

/// A top level without an `events` array: a fixture wrapped as
/// `{"description": …, "bundle": {…}}` (small: its bundle is verified from
/// the text of the `bundle` member), or not a bundle.
fn verify_wrapped(
    head: &Head,
    members: &[(&str, Value<'_>)],
    keys: &[VerifyingKey],
    limits: Limits,
    wrapper_allowed: bool,
) -> Result<BundleVerification, Failure> {
    if !wrapper_allowed {
        return Err(Failure::Shape("`events` is missing or not an array".into()));
    }
    // Only a pure wrapper: a file with any other member is read by
    // everyone else as that member, not as the wrapped bundle.
    let pure = members
        .iter()
        .all(|(k, _)| key_is(k, "bundle") || key_is(k, "description"));
    let inner = head
        .members
        .iter()
        .zip(members)
        .find(|(_, (k, v))| pure && key_is(k, "bundle") && matches!(v, Value::Object(_)));
    match inner {
        Some(((_, text, _), _)) => {
            verify_stream(std::io::Cursor::new(text.as_slice()), keys, limits, false)
        }
        None => Err(Failure::Shape(
            match members.iter().find(|(k, _)| key_is(k, "events")) {
                Some(_) => "`events` is not an array".into(),
                None => "`events` is missing".into(),
            },
        )),
    }
}

/// The Ed25519 check of the envelope, fed as it is streamed: one
/// [`ed25519_dalek::StreamVerifier`] per candidate key (the one named by
/// `signing_key_id` first), each seeded with the signature's `R`, the key
/// and the envelope's prefix; or why no key can verify.
enum SignatureCheck {
    /// No key can verify: why, in words.
    Refused(String),
    /// The candidates, in the order they are tried.
    Streams(Vec<(String, ed25519_dalek::StreamVerifier)>),
}

impl SignatureCheck {
    fn new(members: &[(&str, Value<'_>)], keys: &[VerifyingKey]) -> SignatureCheck {
        let member = |name: &str| {
            members
                .iter()
                .find(|(k, _)| key_is(k, name))
                .map(|(_, v)| v)
        };
        let signature = member("signature").and_then(Value::as_str);
        if keys.is_empty() {
            return SignatureCheck::Refused(
                "no public keys were given to verify the signature with".to_owned(),
            );
        }
        let Some(signature) = signature.filter(|s| !s.is_empty()) else {
            return SignatureCheck::Refused("bundle carries no signature".to_owned());
        };
        let sig = match decode_signature(&signature) {
            Ok(sig) => sig,
            Err(why) => return SignatureCheck::Refused(format!("signature check failed: {why}")),
        };
        let hint = member("signing_key_id")
            .and_then(Value::as_str)
            .map(|s| s.into_owned());
        let hinted = keys.iter().filter(|k| Some(&k.key_id) == hint.as_ref());
        let others = keys.iter().filter(|k| Some(&k.key_id) != hint.as_ref());
        // What `verify_strict` (used before the check was streamed) refuses
        // and the stream verifier does not check: a small-order `R` or key.
        let r_ok =
            ed25519_dalek::VerifyingKey::from_bytes(sig.r_bytes()).is_ok_and(|r| !r.is_weak());
        let mut prefix = envelope_prefix(members);
        prefix.push('[');
        let streams = hinted
            .chain(others)
            .filter(|key| r_ok && !key.key.is_weak())
            .filter_map(|key| {
                let mut stream = key.key.verify_stream(&sig).ok()?;
                stream.update(prefix.as_bytes());
                Some((key.key_id.clone(), stream))
            })
            .collect();
        SignatureCheck::Streams(streams)
    }

    /// The next bytes of the envelope.
    fn update(&mut self, bytes: &[u8]) {
        if let SignatureCheck::Streams(streams) = self {
            for (_, stream) in streams {
                stream.update(bytes);
            }
        }
    }

    /// `Ok(matched key id)` or `Err(why)`, once the whole envelope was fed;
    /// `tried` is how many keys were given.
    fn finish(self, tried: usize) -> Result<String, String> {
        match self {
            SignatureCheck::Refused(why) => Err(why),
            SignatureCheck::Streams(streams) => streams
                .into_iter()
                .find_map(|(key_id, stream)| stream.finalize_and_verify().is_ok().then_some(key_id))
                .ok_or_else(|| {
                    format!(
                        "signature did not verify under any of {tried} configured public key(s)"
                    )
                }),
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
    tampered: Listed,
    /// The last event's stored hash.
    last_hash: Option<String>,
    /// Reused buffer for canonical payloads.
    canonical: String,
    /// `event_id.field` of each field outside a payload that contradicts the
    /// payload's member of the same name.
    contradictions: Listed,
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

/// Items a report lists: the first [`MAX_LISTED_EVENTS`], each cut to
/// [`MAX_LISTED_ID_BYTES`], and how many there were.
#[derive(Default)]
struct Listed {
    first: Vec<String>,
    count: usize,
}

impl Listed {
    fn push(&mut self, item: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.len() < MAX_LISTED_EVENTS {
            // The bundle's text: printed safely, whatever it holds.
            self.first.push(printable_cut(&item(), MAX_LISTED_ID_BYTES));
        }
    }

    fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// `a, b, c` and, past the listed ones, `and N more`.
    fn join(&self) -> String {
        let mut out = self.first.join(", ");
        if self.count > self.first.len() {
            out.push_str(&format!(" and {} more", self.count - self.first.len()));
        }
        out
    }
}

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
        let id = || {
            event
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("index_{index}"), |s| s.into_owned())
        };
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
        let contradicted = self.contradictions.count;
        if let Some(payload) = event.get("payload") {
            for name in AUDITED_FIELDS {
                let (Some(inner), Some(outer)) = (payload.get(name), event.get(name)) else {
                    continue;
                };
                if inner == outer {
                    // The same text: the same canonical JSON.
                    continue;
                }
                self.inner.clear();
                self.outer.clear();
                inner.write_canonical(&mut self.inner);
                outer.write_canonical(&mut self.outer);
                if self.inner != self.outer {
                    self.contradictions.push(|| format!("{}.{name}", id()));
                }
            }
        }
        if chain_hash(&self.running, &self.canonical) != hash
            || self.contradictions.count > contradicted
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
    signature: SignatureCheck,
    tried: usize,
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
                    "member \"{}\" at $ is not covered by the signature",
                    printable_cut(k, MAX_LISTED_ID_BYTES)
                ))
            } else if key_is(k, "events") {
                None
            } else {
                odd_number(v, &mut scratch).map(|rest| {
                    format!(
                        "number at $.{}{rest}",
                        printable_cut(k, MAX_LISTED_ID_BYTES)
                    )
                })
            }
        })
        .or(chain.odd_number);
    let well_formed = malformed.is_none();
    let chain_integrity_ok = links_ok
        && tampered.is_empty()
        && head_hash_matches
        && starts_at_genesis
        && event_count_matches;

    // The signature, over JSON.stringify({export_id, …, signed_at, events}),
    // fed to `signature` as the events were read.
    let (signature_valid, matched_key_id, mut reason) = match signature.finish(tried) {
        Ok(key_id) => (true, Some(key_id), None),
        Err(why) => (false, None, Some(why)),
    };
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
                contradictions.join()
            )
        } else if !tampered.is_empty() {
            format!(
                "hash mismatch for {} event(s): {}",
                tampered.count,
                tampered.join()
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
        tampered_event_ids: tampered.first,
        tampered_event_count: tampered.count,
        matched_key_id,
        reason,
        well_formed,
    }
}

/// [`verify_audit_bundle`] of a file, streamed from it in bounded memory
/// ([`verify_audit_bundle_reader`]): the file is read twice through a
/// 64 KiB buffer, never held.
pub fn verify_audit_bundle_file(
    path: impl AsRef<Path>,
    keys: &[VerifyingKey],
) -> Result<BundleVerification, BundleError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let io = |source| BundleError::Io {
        path: name.clone(),
        source,
    };
    // A regular file only: a device or a pipe (`/dev/zero`) has no end.
    // Checked before opening (opening a FIFO waits for a writer) and again
    // on the opened file (the path may have been replaced in between).
    let not_a_file = || {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ))
    };
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(not_a_file());
    }
    let file = std::fs::File::open(path).map_err(io)?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(not_a_file());
    }
    verify_stream(file, keys, Limits::DEFAULT, true).map_err(|e| e.named(&name))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(name: &str) -> String {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/contract/vectors/audit-bundles/"
        );
        std::fs::read_to_string(format!("{dir}{name}")).unwrap_or_default()
    }

    #[test]
    fn every_read_buffer_size_gives_the_same_result() {
        let keys = vec![VerifyingKey::parse(&contract("signing-key.pub.pem")).expect("key")];
        let valid = contract("valid.json");
        let tree = Value::parse(&valid).expect("json");
        let inner = tree
            .get("bundle")
            .map(Value::to_js_string)
            .unwrap_or_default();
        let mut texts: Vec<String> = [
            "valid.json",
            "bad-signature.json",
            "broken-chain.json",
            "tampered-event.json",
            "wrong-key.json",
        ]
        .iter()
        .map(|name| contract(name))
        .collect();
        texts.push(inner.clone());
        texts.push(inner.replacen("\"events\"", "\"\\u0065vents\"", 1));
        texts.push(format!("{},\"events\":[]}}", &inner[..inner.len() - 1]));
        texts.push(inner.replacen("policy-1", "policy-2", 1));
        texts.push(inner[..inner.len() - 2].to_owned());
        texts.push(format!("{inner} x"));
        let full = |text: &str, chunk: usize| {
            let limits = Limits {
                chunk,
                ..Limits::DEFAULT
            };
            let r = verify_stream(std::io::Cursor::new(text.as_bytes()), &keys, limits, true);
            format!("{:?}", r.map_err(|e| e.named("t")))
        };
        assert!(full(&inner, CHUNK_BYTES).contains("signature_valid: true"));
        for text in &texts {
            let whole = full(text, CHUNK_BYTES);
            for chunk in [1, 2, 3, 5, 8, 13, 64] {
                assert_eq!(full(text, chunk), whole, "{chunk}: {text}");
            }
        }
    }
}
