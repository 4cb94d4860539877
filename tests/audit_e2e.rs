//! End to end: events produced through the SDK against `atlasent-server` are
//! listed (every page), exported, saved, reloaded and verified offline; any
//! single-field edit, a reordering or a dropped event is detected.

#[path = "support/server.rs"]
mod support;

use std::path::PathBuf;

use atlasent::audit::json::Value;
use atlasent::audit::{AuditBundle, AuditEventQuery, ExportFilter, VerifyingKey};
use atlasent_server::RunningServer;
use futures_util::StreamExt;
use serde_json::json;

const KEY: &str = "ask_local_audit_e2e";

async fn server_with_history() -> (RunningServer, atlasent::Client) {
    let server = support::policy_server(support::FINANCE_POLICY, KEY).await;
    let client = atlasent::Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .build()
        .expect("client");
    for i in 0..9 {
        let amount = if i % 3 == 0 { 50_000 } else { 10 * i };
        let ctx =
            json!({ "amount_usd": amount, "counterparty_id": format!("cp-{i}"), "memo": "batch" });
        let _ = client.protect("finance-agent", "wire_transfer", &ctx).await;
    }
    (server, client)
}

/// A server with history and its export of everything, as text.
async fn exported_history() -> (RunningServer, String) {
    let (server, client) = server_with_history().await;
    let text = client
        .create_audit_export(&ExportFilter::all())
        .await
        .expect("export")
        .into_string();
    (server, text)
}

fn key(server: &RunningServer) -> Vec<VerifyingKey> {
    vec![VerifyingKey::from_spki_pem(server.public_key_pem()).expect("pem")]
}

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("audit-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join(name)
}

#[tokio::test]
async fn events_are_listed_on_every_page_exported_saved_reloaded_and_verified() {
    let (server, client) = server_with_history().await;
    // 9 evaluations, 6 allowed and verified: 15 events.
    let first = client
        .list_audit_events(&AuditEventQuery::new().limit(4))
        .await
        .expect("page");
    assert_eq!(first.total, 15);
    assert_eq!(first.events.len(), 4);
    assert!(first.next_cursor.is_some());
    let all: Vec<_> = client
        .audit_events(AuditEventQuery::new().limit(4))
        .map(|e| e.expect("event"))
        .collect()
        .await;
    let sequences: Vec<u64> = all.iter().filter_map(|e| e.sequence).collect();
    assert_eq!(
        sequences,
        (1..=15).collect::<Vec<_>>(),
        "every page, in order, once"
    );
    let denies: Vec<_> = client
        .audit_events(AuditEventQuery::new().types(["evaluate.deny"]).limit(2))
        .map(|e| e.expect("event"))
        .collect()
        .await;
    assert_eq!(denies.len(), 3);

    let bundle = client
        .create_audit_export(&ExportFilter::all())
        .await
        .expect("export");
    assert_eq!(bundle.event_count(), 15);
    let path = tmp("export.json");
    bundle.save(&path).expect("save");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        bundle.as_str(),
        "saved byte for byte"
    );
    let reloaded = AuditBundle::load(&path).expect("load");
    let result = reloaded.verify(&key(&server)).expect("verify");
    assert!(result.verified(), "{result:?}");
    assert_eq!(
        result.matched_key_id.as_deref(),
        Some(server.signing_key_id())
    );
    // Events listed and exported are the same chain.
    assert!(all.iter().all(|e| bundle.as_str().contains(&e.hash)));
}

/// The byte range of a string or number leaf at `path` inside `text`.
fn leaf_span(text: &str, path: &[&str]) -> (usize, usize) {
    let root = Value::parse(text).expect("json");
    let mut v = &root;
    for step in path {
        v = match step.parse::<usize>() {
            Ok(i) => &v.as_array().expect("array")[i],
            Err(_) => v
                .get(step)
                .unwrap_or_else(|| panic!("no {step} in {path:?}")),
        };
    }
    let raw = match v {
        Value::String(raw) | Value::Number(raw) => *raw,
        other => panic!("{path:?} is not a string or number leaf: {other:?}"),
    };
    let start = raw.as_ptr() as usize - text.as_ptr() as usize;
    (start, start + raw.len())
}

/// Change one character of the leaf at `path` (to another valid one).
fn edit(text: &str, path: &[&str]) -> String {
    let (start, end) = leaf_span(text, path);
    assert!(end > start, "{path:?} is empty");
    let old = &text[start..start + 1];
    let new = match old {
        "0" => "1",
        "a" => "b",
        _ if old.chars().all(|c| c.is_ascii_digit()) => "0",
        _ if old.chars().all(|c| c.is_ascii_hexdigit()) => "0",
        _ => "x",
    };
    format!("{}{}{}", &text[..start], new, &text[start + 1..])
}

#[tokio::test]
async fn changing_any_single_event_field_is_detected() {
    let (server, client) = server_with_history().await;
    let bundle = client
        .create_audit_export(&ExportFilter::all())
        .await
        .expect("export");
    let text = bundle.as_str();
    let keys = key(&server);
    assert!(bundle.verify(&keys).expect("verify").verified());
    // Event 2 is an allowed evaluation: every field is a string or number.
    // Every member of the event beside its payload (twelve of them).
    let root: serde_json::Value = serde_json::from_str(text).expect("json");
    let fields: Vec<&str> = root["events"][1]
        .as_object()
        .expect("events[1]")
        .keys()
        .map(String::as_str)
        .filter(|name| *name != "payload")
        .collect();
    assert_eq!(fields.len(), 12, "{fields:?}");
    let payload = [
        "decision_id",
        "decision",
        "agent",
        "action",
        "context_hash",
        "policy_id",
        "rule_id",
        "reason",
        "expires_at",
        "key_id",
        "request_id",
    ];
    let mut checked = 0;
    for &field in &fields {
        let edited = edit(text, &["events", "1", field]);
        let r = atlasent::audit::verify_audit_bundle(&edited, &keys).expect("still a bundle");
        assert!(!r.verified(), "editing events[1].{field} went unnoticed");
        checked += 1;
    }
    for field in payload {
        let edited = edit(text, &["events", "1", "payload", field]);
        let r = atlasent::audit::verify_audit_bundle(&edited, &keys).expect("still a bundle");
        assert!(
            !r.chain_integrity_ok && !r.signature_valid,
            "payload.{field}: {r:?}"
        );
        let id = leaf_span(text, &["events", "1", "id"]);
        assert_eq!(
            r.tampered_event_ids,
            [&text[id.0..id.1]],
            "payload.{field} names the event"
        );
        checked += 1;
    }
    assert_eq!(checked, fields.len() + payload.len());
}

/// The text spans of the bundle's events.
fn event_spans(text: &str) -> Vec<(usize, usize)> {
    let root = Value::parse(text).expect("json");
    let events = root
        .get("events")
        .and_then(Value::as_array)
        .expect("events");
    (0..events.len())
        .map(|i| {
            let (s, _) = leaf_span(text, &["events", &i.to_string(), "id"]);
            let start = text[..s].rfind('{').expect("object start");
            let (_, e) = leaf_span(text, &["events", &i.to_string(), "created_at"]);
            let end = e + text[e..].find('}').expect("object end") + 1;
            (start, end)
        })
        .collect()
}

#[tokio::test]
async fn reordering_two_events_is_detected() {
    let (server, text) = exported_history().await;
    let spans = event_spans(&text);
    let (a, b) = (spans[3], spans[4]);
    let swapped = format!(
        "{}{}{}{}{}",
        &text[..a.0],
        &text[b.0..b.1],
        &text[a.1..b.0],
        &text[a.0..a.1],
        &text[b.1..]
    );
    assert_eq!(swapped.len(), text.len());
    let r = atlasent::audit::verify_audit_bundle(&swapped, &key(&server)).expect("bundle");
    assert!(!r.chain_integrity_ok && !r.signature_valid, "{r:?}");
    assert!(r.reason.is_some());
}

#[tokio::test]
async fn dropping_one_event_is_detected() {
    let (server, text) = exported_history().await;
    let spans = event_spans(&text);
    let keys = key(&server);
    for victim in [0, 7, spans.len() - 1] {
        let (s, e) = spans[victim];
        // Remove the object and one adjacent comma.
        let dropped = if victim + 1 < spans.len() {
            format!("{}{}", &text[..s], &text[e + 1..])
        } else {
            format!("{}{}", &text[..s - 1], &text[e..])
        };
        let r = atlasent::audit::verify_audit_bundle(&dropped, &keys).expect("bundle");
        assert!(
            !r.chain_integrity_ok && !r.signature_valid,
            "dropping event {victim}: {r:?}"
        );
        assert!(!r.event_count_matches, "event {victim}");
    }
}
