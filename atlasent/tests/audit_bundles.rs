//! The five contract bundles give exactly the outcomes the contract lists.

use std::path::PathBuf;

use atlasent::audit::{verify_audit_bundle, verify_audit_bundle_file, VerifyingKey};

fn bundle_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/contract/vectors/audit-bundles")
        .join(name)
}

fn trusted() -> Vec<VerifyingKey> {
    let pem = std::fs::read_to_string(bundle_path("signing-key.pub.pem")).expect("key");
    vec![VerifyingKey::from_spki_pem(&pem)
        .expect("pem")
        .with_id("test-key")]
}

#[test]
fn the_contract_bundles_verify_as_specified() {
    let keys = trusted();
    // (bundle, chain_integrity_ok, signature_valid, tampered_event_ids)
    let table: [(&str, bool, bool, &[&str]); 5] = [
        ("valid.json", true, true, &[]),
        ("bad-signature.json", true, false, &[]),
        ("broken-chain.json", false, false, &[]),
        ("tampered-event.json", false, false, &["evt-2"]),
        ("wrong-key.json", true, false, &[]),
    ];
    for (name, chain, signature, tampered) in table {
        let r = verify_audit_bundle_file(bundle_path(name), &keys).expect(name);
        assert_eq!(r.chain_integrity_ok, chain, "{name}: {r:?}");
        assert_eq!(r.signature_valid, signature, "{name}: {r:?}");
        assert_eq!(r.tampered_event_ids, tampered, "{name}");
        assert_eq!(r.verified(), chain && signature, "{name}");
        if signature {
            assert_eq!(r.matched_key_id.as_deref(), Some("test-key"));
            assert_eq!(r.reason, None);
        } else {
            assert!(r.reason.is_some(), "{name}: a failure says why");
        }
    }
    let wrong = verify_audit_bundle_file(bundle_path("wrong-key.json"), &keys).expect("parses");
    assert!(
        wrong
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("1 configured public key"),
        "{wrong:?}"
    );
}

#[test]
fn keys_are_accepted_as_pem_raw_hex_and_base64() {
    let pem = std::fs::read_to_string(bundle_path("signing-key.pub.pem")).expect("key");
    let k = VerifyingKey::parse(&pem).expect("pem");
    // The SPKI body's last 32 bytes are the raw key.
    let body = "MCowBQYDK2VwAyEAuCfAGR92U9gKXqMmGs4MCoaTq+LmzoRe/aiwZE6UcnQ=";
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64");
    let raw = &der[12..];
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    for key in [
        VerifyingKey::from_bytes(raw).expect("raw"),
        VerifyingKey::parse(&hex).expect("hex"),
    ] {
        assert_eq!(key.key_id(), k.key_id(), "same key, same default id");
        let r = verify_audit_bundle_file(bundle_path("valid.json"), &[key]).expect("parses");
        assert!(r.verified(), "{r:?}");
    }
    assert!(VerifyingKey::from_bytes(&[1, 2, 3]).is_err());
    assert!(
        VerifyingKey::parse("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err()
    );
}

#[test]
fn the_checks_python_skips_are_made() {
    let keys = trusted();
    let text = std::fs::read_to_string(bundle_path("valid.json")).expect("read");
    // Drop the first event and fix up the head: every hash still recomputes,
    // but the chain no longer starts at genesis.
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let events = v["bundle"]["events"].as_array_mut().expect("events");
    events.remove(0);
    v["bundle"]["event_count"] = 2.into();
    let r = verify_audit_bundle(&v.to_string(), &keys).expect("parses");
    assert!(r.tampered_event_ids.is_empty());
    assert!(!r.starts_at_genesis && !r.chain_integrity_ok, "{r:?}");

    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["bundle"]["event_count"] = 4.into();
    let r = verify_audit_bundle(&v.to_string(), &keys).expect("parses");
    assert!(!r.event_count_matches && !r.chain_integrity_ok, "{r:?}");
}

#[test]
fn malformed_bundles_are_errors_not_panics() {
    for bad in ["", "[]", "{\"events\": 3}", "{}", "{\"events\": [1, 2]"] {
        assert!(verify_audit_bundle(bad, &trusted()).is_err(), "{bad:?}");
    }
    let r = verify_audit_bundle("{\"events\": [1]}", &trusted()).expect("a bundle shape");
    assert_eq!(r.tampered_event_ids, ["index_0"]);
    assert!(!r.verified());
}

#[test]
fn member_order_in_the_text_does_not_matter() {
    // Move the `events` member (text untouched) in front of `export_id`:
    // the signature covers the envelope in its fixed order, so the bundle
    // still verifies. (Re-serializing with sorted keys would reorder the
    // events' own members, which does change the signed bytes.)
    let text = std::fs::read_to_string(bundle_path("valid.json")).expect("read");
    let start = text.find("\"events\": [").expect("events member");
    let end = text.find(",\n    \"signature\"").expect("signature member");
    let events_member = &text[start..end];
    let object_start = text.find("\"bundle\": {").expect("bundle") + "\"bundle\": ".len();
    let without = format!("{}{}", &text[object_start..start], &text[end + 1..]);
    let reordered = format!("{{{},{}", events_member, without.trim_start_matches('{'));
    let reordered = &reordered[..reordered.rfind('}').expect("fixture end")];
    assert!(reordered.find("\"events\"") < reordered.find("\"export_id\""));
    let r = verify_audit_bundle(reordered, &trusted()).expect("bundle");
    assert!(r.verified(), "{r:?}");
}

#[test]
fn a_second_events_member_is_refused() {
    let text = std::fs::read_to_string(bundle_path("valid.json")).expect("read");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let bundle = v["bundle"].to_string();
    let doubled = format!("{},\"events\":[]}}", &bundle[..bundle.len() - 1]);
    let err = verify_audit_bundle(&doubled, &trusted()).expect_err("ambiguous");
    assert!(err.to_string().contains("more than once"), "{err}");
}

#[test]
fn a_bundle_is_checked_once_when_built() {
    use atlasent::audit::AuditBundle;
    let text = std::fs::read_to_string(bundle_path("valid.json")).expect("read");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let bundle = AuditBundle::from_json(v["bundle"].to_string()).expect("a bundle");
    assert_eq!((bundle.export_id(), bundle.event_count()), ("export-1", 3));
    for (bad, needle) in [
        ("[]", "expected a JSON object"),
        (
            r#"{"export_id":"e","chain_head_hash":"h","signature":"s"}"#,
            "`events` is missing",
        ),
        (
            r#"{"export_id":"e","chain_head_hash":"h","signature":"s","events":3}"#,
            "`events` must be an array",
        ),
        (
            r#"{"export_id":7,"chain_head_hash":"h","signature":"s","events":[]}"#,
            "`export_id` must be a string",
        ),
        (
            r#"{"chain_head_hash":"h","signature":"s","events":[]}"#,
            "`export_id` is missing",
        ),
    ] {
        let err = AuditBundle::from_json(bad).expect_err(bad);
        assert!(err.to_string().contains(needle), "{bad}: {err}");
    }
}
