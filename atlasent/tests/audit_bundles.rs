//! The five contract bundles give exactly the outcomes the contract lists.

#[path = "support/standalone.rs"]
mod standalone;

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
    let hex = hex::encode(raw);
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
    assert!(
        err.to_string().contains("duplicate member \"events\" at $"),
        "{err}"
    );
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

// ---- Duplicate member names (issue 9, defect 1) ----
//
// JSON.parse, Python's `json` and serde_json read the last copy of a
// repeated member; a verifier that reads another copy, or compares names
// undecoded, verifies a bundle that every other reader sees differently.
// A repeated member name (after decoding) anywhere in a bundle is refused,
// naming the member and its path.

/// The inner bundle of valid.json, byte for byte (its signature holds).
fn genuine() -> String {
    let text = std::fs::read_to_string(bundle_path("valid.json")).expect("read");
    let inner = standalone::inner_bundle(&text).to_owned();
    let r = verify_audit_bundle(&inner, &trusted()).expect("bundle");
    assert!(r.verified(), "the genuine bundle verifies: {r:?}");
    inner
}

fn assert_refused(text: &str, keys: &[VerifyingKey], member: &str, path: &str) {
    let err = match verify_audit_bundle(text, keys) {
        Ok(r) => panic!("a bundle with a repeated {member:?} was examined: {r:?}\n{text}"),
        Err(e) => e.to_string(),
    };
    let want = format!("duplicate member \"{member}\" at {path}");
    assert!(err.contains(&want), "{err}\nwanted: {want}");
}

#[test]
fn an_escaped_second_events_member_is_refused() {
    // The forgery of the issue: every JSON reader sees zero events.
    let inner = genuine();
    let forged = format!("{},\"\\u0065vents\":[]}}", &inner[..inner.len() - 1]);
    assert_refused(&forged, &trusted(), "events", "$");
    // The plain spelling too.
    let forged = format!("{},\"events\":[]}}", &inner[..inner.len() - 1]);
    assert_refused(&forged, &trusted(), "events", "$");
}

#[test]
fn a_repeated_signature_or_event_count_is_refused() {
    let inner = genuine();
    for (member, first_copy) in [
        ("signature", "\"signature\": \"AAAA\","),
        ("event_count", "\"event_count\": 0,"),
        ("event_count", "\"event_\\u0063ount\": 3,"),
        ("chain_head_hash", "\"chain_head_hash\": \"0\","),
    ] {
        let forged = format!("{{{first_copy}{}", &inner[1..]);
        assert_refused(&forged, &trusted(), member, "$");
    }
}

#[test]
fn a_repeated_member_inside_a_payload_is_refused() {
    // evt-1's payload with a first copy of `target` that the last one
    // overrides: the hash and the signature still hold for last-wins readers.
    let inner = genuine();
    let at = inner
        .find("\"target\": \"policy-1\"")
        .expect("evt-1 target");
    let forged = format!("{}\"target\": \"policy-9\", {}", &inner[..at], &inner[at..]);
    assert_refused(&forged, &trusted(), "target", "$.events[0].payload");
}

#[test]
fn escaped_member_names_are_read_decoded() {
    // Unique members spelled with escapes mean what JSON.parse reads.
    let inner = genuine();
    let respelled = inner
        .replacen("\"events\"", "\"\\u0065vents\"", 1)
        .replacen("\"signature\"", "\"sig\\u006eature\"", 1)
        .replacen("\"event_count\"", "\"event\\u005fcount\"", 1)
        .replacen("\"payload\"", "\"p\\u0061yload\"", 1);
    let r = verify_audit_bundle(&respelled, &trusted()).expect("a bundle");
    assert!(r.verified(), "{r:?}");
    use atlasent::audit::AuditBundle;
    let bundle = AuditBundle::from_json(respelled).expect("a bundle");
    assert_eq!(bundle.event_count(), 3);
}

/// A one-event bundle signed by a test key, whose event is given as text
/// (`event`, possibly forged) and as the `JSON.stringify` a last-wins reader
/// makes of it (`event_js`, what the signature covers).
fn signed_bundle(event: &str, event_js: &str, hash: &str) -> (String, VerifyingKey) {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let signing = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let key = VerifyingKey::from_bytes(signing.verifying_key().as_bytes()).expect("key");
    let head = format!(
        "\"export_id\":\"export-f\",\"org_id\":\"org-1\",\"chain_head_hash\":\"{hash}\",\
         \"event_count\":1,\"signed_at\":\"2026-04-21T00:00:00.000Z\""
    );
    let envelope = format!("{{{head},\"events\":[{event_js}]}}");
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(signing.sign(envelope.as_bytes()).to_bytes());
    (
        format!("{{{head},\"events\":[{event}],\"signature\":\"{signature}\"}}"),
        key,
    )
}

fn event_hash(payload: &str) -> String {
    atlasent::audit::chain_hash(
        atlasent::audit::GENESIS_HASH,
        &atlasent::audit::canonical_json(payload).expect("payload"),
    )
}

#[test]
fn a_second_payload_in_an_event_is_refused() {
    // The chain covers the first copy ($50); the signature, and every
    // last-wins reader, the second ($5,000,000).
    let genesis = atlasent::audit::GENESIS_HASH;
    let hash = event_hash(r#"{"amount":50}"#);
    let honest = format!(
        r#"{{"id":"evt-1","payload":{{"amount":50}},"hash":"{hash}","previous_hash":"{genesis}"}}"#
    );
    let (bundle, key) = signed_bundle(&honest, &honest, &hash);
    let r = verify_audit_bundle(&bundle, std::slice::from_ref(&key)).expect("bundle");
    assert!(r.verified(), "the builder makes bundles that verify: {r:?}");

    for second in ["payload", "p\\u0061yload"] {
        let forged = format!(
            r#"{{"id":"evt-1","payload":{{"amount":50}},"hash":"{hash}","previous_hash":"{genesis}","{second}":{{"amount":5000000}}}}"#
        );
        let seen = format!(
            r#"{{"id":"evt-1","payload":{{"amount":5000000}},"hash":"{hash}","previous_hash":"{genesis}"}}"#
        );
        let (bundle, key) = signed_bundle(&forged, &seen, &hash);
        assert_refused(&bundle, &[key], "payload", "$.events[0]");
    }
}

#[test]
fn a_repeated_member_deep_in_a_payload_is_refused() {
    let genesis = atlasent::audit::GENESIS_HASH;
    let payload = r#"{"a":{"b c":[0,{"d":{"e":1,"f":2,"\u0065":3}}]}}"#;
    let last_wins = r#"{"a":{"b c":[0,{"d":{"e":3,"f":2}}]}}"#;
    let hash = event_hash(last_wins);
    let forged = format!(
        r#"{{"id":"evt-1","payload":{payload},"hash":"{hash}","previous_hash":"{genesis}"}}"#
    );
    let seen = format!(
        r#"{{"id":"evt-1","payload":{last_wins},"hash":"{hash}","previous_hash":"{genesis}"}}"#
    );
    let (bundle, key) = signed_bundle(&forged, &seen, &hash);
    assert_refused(&bundle, &[key], "e", "$.events[0].payload.a[\"b c\"][1].d");
    // In a fixture wrapped as {"description": …, "bundle": {…}} too.
    let wrapped = format!("{{\"description\":\"forged\",\"bundle\":{bundle}}}");
    let (_, key) = signed_bundle(&forged, &seen, &hash);
    assert_refused(
        &wrapped,
        &[key],
        "e",
        "$.bundle.events[0].payload.a[\"b c\"][1].d",
    );
}

#[test]
fn a_bundle_with_a_repeated_member_cannot_be_built() {
    use atlasent::audit::AuditBundle;
    let inner = genuine();
    let forged = format!("{},\"\\u0065vents\":[]}}", &inner[..inner.len() - 1]);
    let err = AuditBundle::from_json(forged).expect_err("ambiguous");
    assert!(
        err.to_string().contains("duplicate member \"events\" at $"),
        "{err}"
    );
}

/// What a hostile bundle puts in an event id or a member name reaches the
/// report's words (`reason`, `tampered_event_ids`) and errors escaped: no
/// control character (ESC, CR, LF, C1), line separator or bidirectional
/// control that would let it rewrite what a terminal or a log shows.
#[test]
fn a_hostile_id_or_name_cannot_reach_a_terminal_as_control_characters() {
    const SPOOF: &str = "\r\u{1b}[2K\u{1b}[7A\rok  \u{9b}5B\n\u{2028}verified\u{202e}\u{1b}[8m";
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{61c}' | '\u{200e}' | '\u{200f}'
                | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    let assert_clean = |what: &str, text: &str| {
        assert!(!text.chars().any(unsafe_char), "{what}: {text:?}");
        assert!(
            text.contains("\\u001b"),
            "{what} shows the escape: {text:?}"
        );
    };
    let assert_no_control = |what: &str, text: &str| {
        assert!(!text.chars().any(unsafe_char), "{what}: {text:?}");
    };
    let genuine: serde_json::Value = serde_json::from_str(&genuine()).expect("json");

    // An event's id, outside the hashed payload: a tampered event.
    let mut forged = genuine.clone();
    forged["events"][0]["id"] = SPOOF.into();
    forged["events"][0]["hash"] = "0".repeat(64).into();
    let r = verify_audit_bundle(&forged.to_string(), &trusted()).expect("a bundle");
    assert!(!r.verified());
    assert_clean("tampered id", &r.tampered_event_ids.join(" "));
    assert_no_control("reason", r.reason.as_deref().unwrap_or_default());

    // A top-level member the signature does not cover, named by the forger.
    let mut forged = genuine.clone();
    forged[SPOOF] = 1.into();
    let r = verify_audit_bundle(&forged.to_string(), &trusted()).expect("a bundle");
    assert!(!r.verified());
    assert_clean("uncovered member", r.reason.as_deref().unwrap_or_default());

    // A number written unlike JavaScript under a forger's name.
    let mut forged = genuine.clone();
    forged["events"][0]["payload"][SPOOF] = serde_json::json!(1.5);
    let text = forged.to_string().replace("1.5", "1.50");
    let r = verify_audit_bundle(&text, &trusted()).expect("a bundle");
    assert!(!r.verified());
    assert_clean("odd number", r.reason.as_deref().unwrap_or_default());

    // A repeated member of that name: the error names it.
    let mut forged = genuine;
    forged["events"][0]["payload"][SPOOF] = 1.into();
    let text = forged.to_string();
    let name = serde_json::to_string(SPOOF).expect("quoted");
    let text = text.replacen(&format!("{name}:1"), &format!("{name}:1,{name}:2"), 1);
    let err = verify_audit_bundle(&text, &trusted()).expect_err("a repeat");
    assert_clean("duplicate", &err.to_string());
}
