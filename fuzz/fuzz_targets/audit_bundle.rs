//! Offline audit-bundle verification and canonical JSON on arbitrary text.
//!
//! Invariants (a violation panics):
//! - `verify_audit_bundle`, `verify_audit_bundle_reader` (the streamed
//!   path, on the raw bytes), `AuditBundle::from_json` + `verify` and
//!   `canonical_json` never panic, and the verification paths agree; bytes
//!   that are not UTF-8 never verify.
//! - A bundle that verifies is JSON serde_json accepts (what every other
//!   reader of the export will do with it) and repeats no member name
//!   anywhere (so no reader can see other events than the verifier did).
//! - Canonical JSON is a fixed point: `canonical(canonical(x)) ==
//!   canonical(x)`; when serde_json accepts `x`, it accepts `canonical(x)`.
#![no_main]

use std::sync::OnceLock;

use atlasent::audit::{
    canonical_json, verify_audit_bundle, verify_audit_bundle_reader, AuditBundle, VerifyingKey,
};
use atlasent_fuzz::{duplicate_members, Members};
use libfuzzer_sys::fuzz_target;

/// The contract's test key: the seeds of the corpus are signed with it.
const TEST_KEY_PEM: &str =
    include_str!("../../tests/contract/vectors/audit-bundles/signing-key.pub.pem");

fn keys() -> &'static [VerifyingKey] {
    static KEYS: OnceLock<Vec<VerifyingKey>> = OnceLock::new();
    KEYS.get_or_init(|| vec![VerifyingKey::parse(TEST_KEY_PEM).expect("the contract's test key")])
}

fuzz_target!(|data: &[u8]| {
    let streamed = verify_audit_bundle_reader(std::io::Cursor::new(data), keys());
    let streamed = streamed.ok().map(|r| r.verified());
    match std::str::from_utf8(data) {
        Ok(text) => assert_eq!(
            streamed,
            verify_audit_bundle(text, keys()).ok().map(|r| r.verified()),
            "the reader and the text disagree"
        ),
        Err(_) => assert_ne!(streamed, Some(true), "bytes that are not UTF-8 verify"),
    }

    let text = String::from_utf8_lossy(data);
    let text: &str = &text;

    let verified = match verify_audit_bundle(text, keys()) {
        Ok(report) => {
            if report.verified() {
                assert!(
                    serde_json::from_str::<serde_json::Value>(text).is_ok(),
                    "a bundle verifies that serde_json refuses"
                );
                if let Members::Duplicate(path) = duplicate_members(text.as_bytes()) {
                    panic!("a bundle verifies that repeats the member {path}");
                }
                assert!(
                    report.reason.is_none(),
                    "a verified bundle has a failure reason"
                );
            }
            Some(report)
        }
        Err(_) => None,
    };
    if let Ok(bundle) = AuditBundle::from_json(text) {
        let again = bundle.verify(keys()).ok();
        assert_eq!(
            again.as_ref().map(|r| r.verified()),
            verified.as_ref().map(|r| r.verified()),
            "AuditBundle::verify and verify_audit_bundle disagree"
        );
    }

    if let Ok(canonical) = canonical_json(text) {
        assert_eq!(
            canonical_json(&canonical).as_deref(),
            Ok(canonical.as_str()),
            "canonical JSON is not a fixed point"
        );
        if serde_json::from_str::<serde_json::Value>(text).is_ok() {
            assert!(
                serde_json::from_str::<serde_json::Value>(&canonical).is_ok(),
                "serde_json accepts a text but not its canonical JSON: {canonical}"
            );
        }
    }
});
