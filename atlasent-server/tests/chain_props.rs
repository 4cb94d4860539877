//! The producer and the checker agree byte for byte: every payload the
//! server seals (`store::chain::seal`, whatever member names and values a
//! caller gives it) is text that the SDK's verifier, re-reading it, finds
//! canonical (what the hash covers) and writes back unchanged with
//! `JSON.stringify` (what the export's signature covers), and whose hash
//! recomputes — or it is refused before anything is chained. Names come
//! from a pool of the spellings that broke such agreements before: characters
//! above U+FFFF sharing a high surrogate, U+E000..=U+FFFF, array indexes.

use atlasent::audit::json::Value as Js;
use atlasent::audit::{chain_hash, GENESIS_HASH};
use atlasent_server::store::chain::{seal, EventPayload, Head};
use atlasent_server::store::NewEvent;
use proptest::prelude::*;
use serde_json::{Map, Value};

const NAMES: &[&str] = &[
    "a",
    "b",
    "é",
    "😀",
    "🐀",
    "\u{ffff}",
    "\u{e000}",
    "𝄞",
    "A",
    "_",
    "",
    " ",
    "\u{7f}",
    "\u{2028}",
    "\"",
    "\\",
    "0",
    "9",
    "10",
    "01",
    "4294967295",
    "-1",
    "1.5",
    "id",
    "type",
    "sequence",
    "occurred_at",
    "payload",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(NAMES).prop_map(str::to_owned),
        1 => "\\PC{0,6}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Value::from),
        name().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((name(), inner), 0..5)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Whether `v`, or any object within it, has an array-index member name.
fn has_index_name(name: &str, v: &Value) -> bool {
    let index = !name.is_empty()
        && name.len() <= 10
        && name.bytes().all(|b| b.is_ascii_digit())
        && (!name.starts_with('0') || name.len() == 1)
        && name.parse::<u64>().is_ok_and(|n| n < u64::from(u32::MAX));
    index
        || match v {
            Value::Object(m) => m.iter().any(|(n, v)| has_index_name(n, v)),
            Value::Array(items) => items.iter().any(|v| has_index_name("", v)),
            _ => false,
        }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_sealed_payload_is_what_every_verifier_recomputes(
        members in proptest::collection::vec((name(), value()), 0..6),
        actor in proptest::option::of(name()),
    ) {
        let payload: Map<String, Value> = members.into_iter().collect();
        let refused = payload.iter().any(|(n, v)| has_index_name(n, v));
        let mut head = Head::genesis();
        let event = NewEvent {
            org_id: "org",
            kind: "evaluate.allow",
            decision: Some("allow"),
            actor_id: actor.as_deref(),
            resource_id: Some("deploy"),
            payload: EventPayload::Map(payload.clone()),
            now_ms: 1_700_000_000_123,
        };
        let sealed = match seal(&mut head, &event) {
            Ok(sealed) => sealed,
            Err(e) => {
                prop_assert!(refused, "refused without an array-index name: {e}");
                prop_assert_eq!(head.seq, 0, "a refused event moved the head");
                return Ok(());
            }
        };
        prop_assert!(!refused, "sealed an array-index name: {}", sealed.payload);
        let parsed = Js::parse(&sealed.payload).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&parsed.to_canonical(), &sealed.payload, "not canonical");
        prop_assert_eq!(&parsed.to_js_string(), &sealed.payload, "JSON.stringify differs");
        prop_assert_eq!(&chain_hash(GENESIS_HASH, &sealed.payload), &sealed.hash);
        prop_assert_eq!((head.seq, &head.hash), (1, &sealed.hash));
        // The caller's members are kept (those the event does not own).
        let back: Value = serde_json::from_str(&sealed.payload).expect("JSON");
        for (n, v) in &payload {
            if ["id", "org_id", "type", "decision", "actor_id", "resource_type", "resource_id",
                "occurred_at", "sequence"].contains(&n.as_str()) {
                continue;
            }
            let kept = serde_json::to_string(&back[n]).expect("text");
            let given = serde_json::to_string(v).expect("text");
            prop_assert_eq!(
                atlasent::audit::canonical_json(&kept).expect("canonical"),
                atlasent::audit::canonical_json(&given).expect("canonical"),
                "member {:?}", n
            );
        }
    }
}
