//! The audit trail: the hash chain's rules and canonical JSON.
//!
//! Every decision AtlaSent makes is an event in one hash chain:
//! `hash = SHA-256 hex of (previous_hash + canonical JSON of the payload)`,
//! starting from [`GENESIS_HASH`]. Canonical JSON is the reference backend's
//! (JavaScript): keys sorted by UTF-16 code units at every depth, no
//! whitespace, numbers as ECMAScript prints them, strings escaped as
//! `JSON.stringify` escapes them.
//!
//! Where Python `atlasent` (1.4.1 and 2.18.0) `verify_bundle` computes other
//! bytes than JavaScript, this module follows JavaScript, so a bundle of
//! such events verifies here and not there (or the reverse): keys with a
//! character above U+FFFF beside one in U+E000..=U+FFFF (Python sorts by
//! code point, not UTF-16 code unit); numbers such as `5e-7` (Python writes
//! `5e-07`); a payload that is `[]` (Python hashes `{}`); a payload that is
//! `false`, `0` or `""` (hashed as written, as JavaScript's `??` keeps them;
//! Python hashes `{}`, as `||` would); an envelope member left out (omitted
//! from the signed text; Python writes `null`). Messages and reports quote
//! what a bundle holds with control, line-separator and bidirectional
//! characters escaped (`\u001b`), so a hostile bundle cannot rewrite what a
//! terminal shows.

mod api;
pub mod json;
mod verify;

pub use api::{AuditBundle, AuditEvent, AuditEventQuery, AuditEventsPage, ExportFilter};
pub use json::{canonical_json, canonical_json_of, JsonError};
pub use verify::{
    verify_audit_bundle, verify_audit_bundle_file, verify_audit_bundle_reader, BundleError,
    BundleVerification, KeyError, VerifyingKey, MAX_EVENT_BYTES, MAX_HEAD_BYTES, MAX_LISTED_EVENTS,
    MAX_LISTED_ID_BYTES,
};

use sha2::{Digest, Sha256};

/// The `previous_hash` of the first event of a chain: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an event: SHA-256 hex of `previous_hash` followed by the
/// canonical JSON of its payload.
pub fn chain_hash(previous_hash: &str, canonical_payload: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(previous_hash.as_bytes());
    hasher.update(canonical_payload.as_bytes());
    hex(&hasher.finalize())
}

/// Lower-case hex of bytes (`hex::encode`).
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_bundle_hashes_recompute() {
        // evt-1 of the contract's valid.json.
        let payload = canonical_json(r#"{"action":"create","target":"policy-1"}"#).expect("json");
        assert_eq!(
            chain_hash(GENESIS_HASH, &payload),
            "60d39249c49c75be933f4a0c998e7900945ca956ecae407fa50aa26098be9068"
        );
    }
}
