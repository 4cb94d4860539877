//! Bundles verified streamed from a file or a reader (64 KiB at a time, one
//! event held): the cases a stream meets that a whole text does not —
//! events past the first buffer, a cut or extended file, members in any
//! order (the signature after the events), values too long to hold, and a
//! file that changes between the two passes.

use std::io::{Cursor, Read, Seek, SeekFrom};

use atlasent::audit::{
    canonical_json, chain_hash, verify_audit_bundle, verify_audit_bundle_file,
    verify_audit_bundle_reader, AuditBundle, BundleError, VerifyingKey, GENESIS_HASH,
    MAX_EVENT_BYTES, MAX_HEAD_BYTES, MAX_LISTED_EVENTS, MAX_LISTED_ID_BYTES,
};
use base64::Engine as _;
use ed25519_dalek::Signer as _;

/// The test bundle's members, in the order the server writes them.
struct Parts {
    export_id: String,
    org_id: String,
    chain_head_hash: String,
    event_count: String,
    signed_at: String,
    events: Vec<String>,
    signature: String,
    signing_key_id: String,
}

impl Parts {
    /// A genuine bundle of `n` events (about 300 bytes each), signed by a
    /// test key; `memo(i)` is event `i`'s memo.
    fn genuine(n: usize, memo: impl Fn(usize) -> String) -> (Parts, VerifyingKey) {
        let mut previous = GENESIS_HASH.to_owned();
        let mut events = Vec::new();
        for i in 0..n {
            let payload = format!(r#"{{"amount":{i},"memo":"{}","seq":{i}}}"#, memo(i));
            let hash = chain_hash(&previous, &canonical_json(&payload).expect("payload"));
            events.push(format!(
                r#"{{"id":"evt-{i}","payload":{payload},"hash":"{hash}","previous_hash":"{previous}"}}"#
            ));
            previous = hash;
        }
        let signing = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let key = VerifyingKey::from_bytes(signing.verifying_key().as_bytes()).expect("key");
        let mut parts = Parts {
            export_id: "\"exp-1\"".into(),
            org_id: "\"org-1\"".into(),
            chain_head_hash: format!("\"{previous}\""),
            event_count: n.to_string(),
            signed_at: "\"2026-11-28T00:00:00.000Z\"".into(),
            events,
            signature: String::new(),
            signing_key_id: format!("\"{}\"", key.key_id()),
        };
        let envelope = parts.render(&ENVELOPE_ORDER);
        let signature = signing.sign(envelope.as_bytes()).to_bytes();
        parts.signature = format!(
            "\"{}\"",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
        );
        (parts, key)
    }

    /// The bundle with its members in `order`.
    fn render(&self, order: &[&str]) -> String {
        let members: Vec<String> = order
            .iter()
            .map(|name| {
                let value = match *name {
                    "export_id" => self.export_id.clone(),
                    "org_id" => self.org_id.clone(),
                    "chain_head_hash" => self.chain_head_hash.clone(),
                    "event_count" => self.event_count.clone(),
                    "signed_at" => self.signed_at.clone(),
                    "events" => format!("[{}]", self.events.join(",")),
                    "signature" => self.signature.clone(),
                    "signing_key_id" => self.signing_key_id.clone(),
                    other => panic!("no member {other}"),
                };
                format!("\"{name}\":{value}")
            })
            .collect();
        format!("{{{}}}", members.join(","))
    }

    fn bundle(&self) -> String {
        self.render(&WRITER_ORDER)
    }
}

const ENVELOPE_ORDER: [&str; 6] = [
    "export_id",
    "org_id",
    "chain_head_hash",
    "event_count",
    "signed_at",
    "events",
];

const WRITER_ORDER: [&str; 8] = [
    "export_id",
    "org_id",
    "chain_head_hash",
    "event_count",
    "signed_at",
    "events",
    "signature",
    "signing_key_id",
];

/// 1,000 events: about 260 KB, four read buffers.
fn large() -> (Parts, VerifyingKey) {
    Parts::genuine(1000, |i| format!("invoice {i}"))
}

/// `text` in a new temporary file.
fn write_temp(text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("atlasent-audit-streaming-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{:x}.json", text.len() ^ text.as_ptr() as usize));
    std::fs::write(&path, text).expect("write");
    path
}

/// Verify `text` from a file, from a reader and as a text: all three agree
/// (as `Debug` text); the file's result is returned.
fn verify_everywhere(
    text: &str,
    key: &VerifyingKey,
) -> Result<atlasent::audit::BundleVerification, BundleError> {
    let keys = std::slice::from_ref(key);
    let path = write_temp(text);
    let from_file = verify_audit_bundle_file(&path, keys);
    let _ = std::fs::remove_file(&path);
    let from_text = verify_audit_bundle(text, keys);
    let from_reader = verify_audit_bundle_reader(Cursor::new(text.as_bytes()), keys);
    let strip = |r: &Result<_, BundleError>| match r {
        Err(BundleError::Io { source, .. }) => format!("io {source}"),
        other => format!("{other:?}"),
    };
    assert_eq!(strip(&from_file), strip(&from_text), "file vs text");
    assert_eq!(strip(&from_reader), strip(&from_text), "reader vs text");
    from_file
}

#[test]
fn a_genuine_bundle_of_many_buffers_verifies_from_a_file() {
    let (parts, key) = large();
    let text = parts.bundle();
    assert!(text.len() > 3 * 64 * 1024, "spans several read buffers");
    let r = verify_everywhere(&text, &key).expect("a bundle");
    assert!(r.verified(), "{r:?}");
    assert_eq!(r.matched_key_id.as_deref(), Some(key.key_id()));
    let saved = verify_everywhere(&text, &key).expect("again");
    assert_eq!(saved, r);
    assert_eq!(
        AuditBundle::from_json(text.clone())
            .expect("bundle")
            .event_count(),
        1000
    );
}

#[test]
fn members_in_any_order_verify_the_signature_before_or_after_the_events() {
    let (parts, key) = large();
    let orders: [&[&str]; 4] = [
        // The signature and every envelope member after the events: the
        // first pass reads them, the second streams the events.
        &[
            "events",
            "signing_key_id",
            "signature",
            "signed_at",
            "event_count",
            "chain_head_hash",
            "org_id",
            "export_id",
        ],
        &[
            "signature",
            "signing_key_id",
            "export_id",
            "org_id",
            "chain_head_hash",
            "event_count",
            "signed_at",
            "events",
        ],
        &[
            "org_id",
            "events",
            "export_id",
            "signature",
            "chain_head_hash",
            "signed_at",
            "event_count",
        ],
        &WRITER_ORDER,
    ];
    for order in orders {
        let r = verify_everywhere(&parts.render(order), &key).expect("a bundle");
        assert!(r.verified(), "{order:?}: {r:?}");
    }
}

#[test]
fn a_truncated_file_is_refused() {
    let (parts, key) = large();
    let text = parts.bundle();
    for cut in [
        1,
        2,
        100,
        text.len() / 2,
        text.len() - 70_000,
        text.len() - 1,
    ] {
        let err = verify_everywhere(&text[..cut], &key).expect_err("truncated");
        assert!(
            matches!(err, BundleError::Json(_)),
            "{cut}: {err:?} should be invalid JSON"
        );
    }
    // Cut at an event boundary and closed again: valid JSON, but the chain
    // head and count no longer match, nor does the signature.
    let cut = text.find(",{\"id\":\"evt-500\"").expect("evt-500");
    let closed = format!(
        "{}],\"signature\":{},\"signing_key_id\":{}}}",
        &text[..cut],
        parts.signature,
        parts.signing_key_id
    );
    let r = verify_everywhere(&closed, &key).expect("a bundle");
    assert!(!r.verified() && !r.head_hash_matches && !r.event_count_matches);
    assert!(!r.signature_valid, "{r:?}");
}

#[test]
fn bytes_after_the_bundle_are_refused_and_whitespace_is_not() {
    let (parts, key) = large();
    let text = parts.bundle();
    for tail in ["x", "{}", "0", "]", "}", " ,", "\u{0}", "\"\""] {
        let err = verify_everywhere(&format!("{text}{tail}"), &key).expect_err(tail);
        assert!(err.to_string().contains("trailing characters"), "{err}");
    }
    let r = verify_everywhere(&format!("\n {text} \r\n\t"), &key).expect("bundle");
    assert!(r.verified(), "{r:?}");
}

#[test]
fn a_tampered_event_past_the_first_buffer_is_found() {
    let (mut parts, key) = large();
    let at = 700;
    parts.events[at] = parts.events[at].replace("\"amount\":700", "\"amount\":7000");
    let text = parts.bundle();
    assert!(text.find("\"amount\":7000").expect("tampered") > 64 * 1024);
    let r = verify_everywhere(&text, &key).expect("a bundle");
    assert!(!r.verified());
    assert_eq!(r.tampered_event_ids, ["evt-700"]);
    assert!(!r.signature_valid, "the signature covers the old amount");
    // The same edit, the stored hash recomputed: the chain breaks at the
    // next event instead, and the signature still fails.
    let (mut parts, key) = large();
    let previous = "\"previous_hash\":\"";
    let event = &parts.events[at];
    let prev = &event[event.find(previous).expect("prev") + previous.len()..][..64];
    let payload = r#"{"amount":7000,"memo":"invoice 700","seq":700}"#;
    let hash = chain_hash(prev, &canonical_json(payload).expect("payload"));
    parts.events[at] = format!(
        r#"{{"id":"evt-700","payload":{payload},"hash":"{hash}","previous_hash":"{prev}"}}"#
    );
    let r = verify_everywhere(&parts.bundle(), &key).expect("a bundle");
    assert!(!r.links_ok && !r.signature_valid && !r.verified(), "{r:?}");
}

#[test]
fn many_tampered_events_with_long_ids_are_counted_and_a_few_listed_short() {
    // Every event tampered (its hash no longer recomputes) and given a
    // 4 KiB id: the report lists the first few, cut short, and counts all,
    // so a hostile bundle cannot make the report (or the verifier's memory)
    // grow with it.
    let (mut parts, key) = large();
    let long = "x".repeat(4096);
    for event in parts.events.iter_mut() {
        *event = event
            .replacen("\"id\":\"evt-", &format!("\"id\":\"{long}-"), 1)
            .replacen("\"amount\":", "\"amount\":1", 1);
    }
    // Signed again as they now read, so the reason is the chain's.
    let signing = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let signature = signing.sign(parts.render(&ENVELOPE_ORDER).as_bytes());
    parts.signature = format!(
        "\"{}\"",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature.to_bytes())
    );
    let r = verify_everywhere(&parts.bundle(), &key).expect("a bundle");
    assert!(r.signature_valid && !r.verified(), "{:?}", r.reason);
    assert_eq!(r.tampered_event_count, 1000);
    assert_eq!(r.tampered_event_ids.len(), MAX_LISTED_EVENTS);
    for id in &r.tampered_event_ids {
        assert!(
            id.len() <= MAX_LISTED_ID_BYTES + '…'.len_utf8(),
            "{}",
            id.len()
        );
        assert!(id.starts_with("xxx") && id.ends_with('…'), "{id}");
    }
    let reason = r.reason.expect("a reason");
    assert!(
        reason.starts_with("hash mismatch for 1000 event(s): "),
        "{}",
        &reason[..80]
    );
    assert!(
        reason.ends_with(" and 900 more"),
        "{}",
        &reason[reason.len() - 40..]
    );
    assert!(reason.len() < 16 * 1024, "{}", reason.len());
}

#[test]
fn repeated_members_are_refused_past_the_first_buffer_and_after_the_events() {
    let (mut parts, key) = large();
    let text = parts.bundle();
    // A second event_count after the events (the server writes none there).
    let forged = format!("{},\"event_\\u0063ount\":1}}", &text[..text.len() - 1]);
    let err = verify_everywhere(&forged, &key).expect_err("repeated");
    assert!(
        err.to_string()
            .contains("duplicate member \"event_count\" at $"),
        "{err}"
    );
    // A second events array after the signature.
    let forged = format!("{},\"events\":[]}}", &text[..text.len() - 1]);
    let err = verify_everywhere(&forged, &key).expect_err("repeated");
    assert!(matches!(err, BundleError::DuplicateMember(_)), "{err}");
    // A repeated member inside an event deep in the file.
    parts.events[900] = parts.events[900].replace("\"seq\":900", "\"seq\":900,\"seq\":1");
    let err = verify_everywhere(&parts.bundle(), &key).expect_err("repeated");
    assert!(
        err.to_string()
            .contains("duplicate member \"seq\" at $.events[900].payload"),
        "{err}"
    );
}

#[test]
fn an_event_or_a_member_too_long_to_hold_is_refused() {
    // One event just over the limit: refused, not held.
    let (mut parts, key) = Parts::genuine(3, |_| "small".into());
    let huge = format!(
        r#"{{"id":"evt-1","memo":"{}"}}"#,
        "x".repeat(MAX_EVENT_BYTES)
    );
    parts.events[1] = huge;
    let err = verify_everywhere(&parts.bundle(), &key).expect_err("too long");
    match err {
        BundleError::TooLarge { what, limit, .. } => {
            assert_eq!((what, limit), ("an event", MAX_EVENT_BYTES));
        }
        other => panic!("{other:?}"),
    }
    // A member other than events over the head limit, before or after the
    // events.
    let (mut parts, key) = Parts::genuine(2, |_| "m".into());
    parts.org_id = format!("\"{}\"", "o".repeat(MAX_HEAD_BYTES));
    for order in [&WRITER_ORDER[..], &["events", "org_id", "signature"]] {
        let err = verify_everywhere(&parts.render(order), &key).expect_err("too long");
        assert!(
            matches!(
                err,
                BundleError::TooLarge {
                    limit: MAX_HEAD_BYTES,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("longer than"), "{err}");
    }
}

/// A reader whose content changes when it is rewound: what a file
/// rewritten between the two passes looks like.
struct Changing {
    first: Cursor<Vec<u8>>,
    second: Cursor<Vec<u8>>,
    rewound: bool,
}

impl Read for Changing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.rewound {
            self.second.read(buf)
        } else {
            self.first.read(buf)
        }
    }
}

impl Seek for Changing {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        if self.first.position() > 0 {
            self.rewound = true;
        }
        self.first.seek(pos)?;
        self.second.seek(pos)
    }
}

#[test]
fn a_bundle_that_changes_between_the_passes_is_refused() {
    let (parts, key) = large();
    let genuine = parts.bundle();
    let mut forged = Parts::genuine(1000, |i| format!("invoice {i}")).0;
    forged.event_count = "999".into();
    for (first, second) in [
        (forged.bundle(), genuine.clone()),
        (genuine.clone(), forged.bundle()),
    ] {
        let reader = Changing {
            first: Cursor::new(first.into_bytes()),
            second: Cursor::new(second.into_bytes()),
            rewound: false,
        };
        let err =
            verify_audit_bundle_reader(reader, std::slice::from_ref(&key)).expect_err("changed");
        assert!(err.to_string().contains("changed while"), "{err}");
    }
}

#[test]
fn a_reader_is_verified_from_its_position() {
    let (parts, key) = large();
    let mut reader = Cursor::new(format!("garbage{}", parts.bundle()).into_bytes());
    reader.set_position(7);
    let r = verify_audit_bundle_reader(reader, std::slice::from_ref(&key)).expect("bundle");
    assert!(r.verified(), "{r:?}");
}

#[test]
fn a_small_order_key_and_signature_do_not_verify() {
    // R = identity and s = 0 satisfy the plain (cofactorless) equation for
    // the identity key on any message; strict verification, which this
    // verifier has always used, refuses both.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = VerifyingKey::from_bytes(&identity).expect("a curve point");
    let (mut parts, _) = Parts::genuine(3, |_| "m".into());
    let mut sig = [0u8; 64];
    sig[0] = 1;
    parts.signature = format!(
        "\"{}\"",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    );
    let r = verify_everywhere(&parts.bundle(), &weak).expect("a bundle");
    assert!(!r.signature_valid && !r.verified(), "{r:?}");
}
