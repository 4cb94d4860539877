//! SQLite schema 5: event payloads stored as compact bytes and event hashes
//! as their 32 bytes, driven through the real server. Every event type the
//! server writes (evaluate allow/deny/hold/escalate, verify ok/failed,
//! revoke, by id, both wires, hostile values) exports a bundle that verifies
//! offline — each event's hash was computed from the payload text before it
//! was compacted, so a verified bundle proves the text came back byte for
//! byte — and equals, event for event, the export of the same rows stored
//! as text (what a schema-4 build wrote). A tampered BLOB never exports a
//! bundle that verifies; a schema-4 file migrates and its chain goes on.

mod common;

use std::path::{Path, PathBuf};

use atlasent::audit::{verify_audit_bundle, VerifyingKey};
use atlasent_server::{Policy, RunningServer, Server, Storage};
use serde_json::value::RawValue;
use serde_json::{json, Value};

const KEY: &str = "ask_test_compact_key";

/// Every effect.
fn policy() -> Policy {
    Policy::from_value(&json!({
        "policy_id": "compact-test",
        "version": "1.0.0",
        "default": "deny",
        "rules": [
            { "id": "deny_forced", "effect": "deny",
              "match": { "action": "deploy.production", "context": { "force": true } } },
            { "id": "allow_deploys", "effect": "allow",
              "match": { "action": "deploy.production" } },
            { "id": "hold_large_wires", "effect": "hold",
              "match": { "action": "payments.wire", "context": { "amount_usd": { "gt": 10000 } } } },
            { "id": "escalate_deletes", "effect": "escalate",
              "match": { "action": "records.delete" } }
        ]
    }))
    .expect("a valid policy")
}

/// `n` evaluations on the current wire, each verified (two events each).
async fn protect_times(server: &RunningServer, n: usize) {
    for _ in 0..n {
        let p = current(server, "deploy-bot", "deploy.production", json!({})).await;
        ok(
            server,
            "/v1-verify-permit",
            json!({ "permit_token": p["permit_token"] }),
        )
        .await;
    }
}

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("compact-store", name)
}

async fn start_on(db: &Path, key_file: &Path) -> RunningServer {
    Server::builder()
        .policy(policy())
        .api_key(KEY)
        .rate_limit_per_minute(1_000_000)
        .storage(Storage::File(db.to_owned()))
        .signing_key_file(key_file)
        .start()
        .await
        .expect("server starts")
}

/// A POST with [`KEY`] (and `request_id`): status and parsed body.
async fn post(server: &RunningServer, path: &str, body: &Value, rid: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", server.base_url()))
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(rid) = rid {
        req = req.header("x-request-id", rid);
    }
    let resp = req.send().await.expect("sent");
    let status = resp.status().as_u16();
    let value = serde_json::from_slice(&resp.bytes().await.expect("body")).unwrap_or(Value::Null);
    (status, value)
}

/// A POST that must answer 200: the reply.
async fn ok(server: &RunningServer, path: &str, body: Value) -> Value {
    let (status, reply) = post(server, path, &body, None).await;
    assert_eq!(status, 200, "{path} {body}: {reply}");
    reply
}

/// A current-wire evaluate: the reply.
async fn current(server: &RunningServer, agent: &str, action: &str, extra: Value) -> Value {
    let mut body = json!({ "action_type": action, "actor_id": agent, "context": {} });
    if let (Some(b), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(extra.clone());
    }
    ok(server, "/v1-evaluate", body).await
}

/// Values that look like what the codec packs but are not its canonical
/// forms, and texts that need escaping.
const HOSTILE: &[&str] = &[
    "a \"b\" \\ c\n\t\u{7f}",
    "é 😀 \u{2028} \u{FFFF}",
    "ABCDEF0123456789ABCDEF0123456789",
    "abcdef012",
    "dec_ABCDEF0123456789",
    "2026-02-30T00:00:00.000Z",
    "2026-02-28T00:00:60.000Z",
    "+2026-02-28T00:00:00.000Z",
    "2026-02-28T00:00:00.000z",
    "AA1FBF4C-CA8D-4FE7-9849-7AB136FED7E3",
    "aa1fbf4c-ca8d-4fe7-9849-7ab136fed7e",
    "evt_000000000001",
    "evt_99999999999999999999999",
    "0123",
    "allow",
    "",
];

/// Drive every event type the server writes; returns how many events.
async fn every_event(server: &RunningServer) -> usize {
    let mut events = 0;
    // Current wire: allow, verify ok, verify again (failed), by-id records.
    let allowed = current(server, "deploy-bot", "deploy.production", json!({})).await;
    assert_eq!(allowed["decision"], "allow", "{allowed}");
    let token = allowed["permit_token"].as_str().expect("token").to_owned();
    let verified = ok(
        server,
        "/v1-verify-permit",
        json!({ "permit_token": token }),
    )
    .await;
    assert_eq!(verified["valid"], true, "{verified}");
    let again = ok(
        server,
        "/v1-verify-permit",
        json!({ "permit_token": token }),
    )
    .await;
    assert_eq!(again["valid"], false, "{again}");
    events += 3;
    // Deny, hold, escalate.
    for (agent, action, context, decision) in [
        (
            "deploy-bot",
            "deploy.production",
            json!({ "force": true }),
            "deny",
        ),
        (
            "pay-bot",
            "payments.wire",
            json!({ "amount_usd": 20000 }),
            "hold",
        ),
        ("ops", "records.delete", json!({}), "escalate"),
        ("nobody", "unknown.action", json!({}), "deny"),
    ] {
        let reply = current(server, agent, action, json!({ "context": context })).await;
        assert_eq!(reply["decision"], decision, "{reply}");
        events += 1;
    }
    // The 1.4.1 wire: allow, verify, verify of an unknown id.
    let legacy = ok(
        server,
        "/v1-evaluate",
        json!({ "action": "deploy.production", "agent": "deploy-bot", "context": {} }),
    )
    .await;
    let id = legacy["decision_id"]
        .as_str()
        .expect("decision_id")
        .to_owned();
    let verify = json!({ "decision_id": id, "action": "deploy.production", "agent": "deploy-bot",
                         "context": {} });
    let legacy_ok = ok(server, "/v1-verify-permit", verify).await;
    assert_eq!(legacy_ok["outcome"], "verified", "{legacy_ok}");
    ok(
        server,
        "/v1-verify-permit",
        json!({ "decision_id": "dec_nope", "action": "a", "agent": "b", "context": {} }),
    )
    .await;
    events += 3;
    // Revoke (both endpoints), verify by id.
    for reason in [Some("rotated"), None, Some(HOSTILE[0])] {
        let p = current(server, "deploy-bot", "deploy.production", json!({})).await;
        let id = p["permit_token"].as_str().expect("an id").to_owned();
        let body = match reason {
            Some(reason) => json!({ "reason": reason }),
            None => json!({}),
        };
        let mut legacy = body.clone();
        legacy["decision_id"] = json!(id);
        ok(server, "/v1-revoke-permit", legacy).await;
        ok(server, &format!("/v1/permits/{id}/revoke"), body).await;
        events += 3;
    }
    let p = current(server, "deploy-bot", "deploy.production", json!({})).await;
    let id = p["permit_token"].as_str().expect("an id").to_owned();
    ok(server, &format!("/v1/permits/{id}/verify"), json!({})).await;
    ok(server, &format!("/v1/permits/{id}/verify"), json!({})).await;
    events += 3;
    // Hostile values wherever a caller's text reaches a payload: agent,
    // action, top-level environment, resource id and amount, request id.
    let amounts = [
        json!(18_446_744_073_709_551_615u64),
        json!(-9_007_199_254_740_993i64),
        json!(1.5e300),
        json!(10.5),
        json!(0),
    ];
    for (i, text) in HOSTILE.iter().enumerate() {
        if !text.is_empty() {
            let reply = current(
                server,
                text,
                text,
                json!({ "environment": text, "resource_id": text,
                        "amount": amounts[i % amounts.len()] }),
            )
            .await;
            assert_eq!(reply["decision"], "deny", "{reply}");
            let (status, reply) = post(
                server,
                "/v1-evaluate",
                &json!({ "action": "deploy.production", "agent": text,
                         "context": { "nested": { "z": [text, { "a": null }] } } }),
                Some(&format!("rid-{i}-0123456789abcdef")),
            )
            .await;
            assert_eq!(status, 200, "{reply}");
            events += 2;
        }
    }
    events
}

/// Export everything: the bundle's text, checked offline.
async fn export_verified(server: &RunningServer) -> String {
    let (text, result) = common::export_and_verify_with(server, KEY).await;
    assert!(result.verified(), "{result:?}");
    text
}

/// The events of a bundle, each as its exact text.
fn bundle_events(bundle: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Events<'a> {
        #[serde(borrow)]
        events: Vec<&'a RawValue>,
    }
    let parsed: Events<'_> = serde_json::from_str(bundle).expect("a bundle");
    parsed.events.iter().map(|e| e.get().to_owned()).collect()
}

/// Every permit record of [`KEY`]'s organization: the listing and each
/// record by id.
async fn all_permits(server: &RunningServer) -> Vec<Value> {
    let (status, list) = common::get_as(server, KEY, "/v1/permits?limit=200").await;
    assert_eq!(status, 200, "{list}");
    let mut out = Vec::new();
    for p in list["permits"].as_array().expect("permits") {
        let id = p["id"].as_str().or(p["permit_id"].as_str()).expect("an id");
        let (status, record) = common::get_as(server, KEY, &format!("/v1/permits/{id}")).await;
        assert_eq!(status, 200, "{record}");
        out.push(json!([p, record]));
    }
    assert!(out.len() > 10, "{list}");
    out
}

/// The storage classes of the events' payload and hash columns, with counts.
fn storage_classes(db: &Path) -> Vec<(String, String, i64)> {
    let conn = rusqlite::Connection::open(db).expect("open");
    let mut stmt = conn
        .prepare(
            "SELECT typeof(payload), typeof(hash), COUNT(*) FROM events
             GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

fn user_version(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .expect("open")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version")
}

/// Turn a stopped server's schema-5 file into what a schema-4 build wrote:
/// every payload as its text and every hash as hex (from `bundle`, a
/// verified export of every event), `user_version` 4.
fn downgrade_to_4(db: &Path, bundle: &str) {
    let mut conn = rusqlite::Connection::open(db).expect("open");
    let tx = conn.transaction().expect("begin");
    for event in bundle_events(bundle) {
        let e: Value = serde_json::from_str(&event).expect("an event");
        #[derive(serde::Deserialize)]
        struct Payload<'a> {
            #[serde(borrow)]
            payload: &'a RawValue,
        }
        let p: Payload<'_> = serde_json::from_str(&event).expect("a payload");
        let changed = tx
            .execute(
                "UPDATE events SET payload = ?1, hash = ?2 WHERE org_id = ?3 AND org_seq = ?4",
                rusqlite::params![
                    p.payload.get(),
                    e["hash"].as_str().expect("hash"),
                    e["org_id"].as_str().expect("org"),
                    e["sequence"].as_i64().expect("sequence"),
                ],
            )
            .expect("update");
        assert_eq!(changed, 1, "{event}");
    }
    // Permits: hashes as hex, signatures as base64url.
    {
        use base64::Engine as _;
        let mut select = tx
            .prepare("SELECT id, context_hash, execution_hash, permit_hash FROM permits")
            .expect("select");
        let rows: Vec<(String, Value)> = select
            .query_map([], |r| {
                let text = |i: usize| -> rusqlite::Result<Value> {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Blob(b) if b.len() == 64 => {
                            json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
                        }
                        rusqlite::types::ValueRef::Blob(b) => json!(hex::encode(b)),
                        rusqlite::types::ValueRef::Text(t) => {
                            json!(String::from_utf8(t.to_vec()).expect("UTF-8"))
                        }
                        _ => Value::Null,
                    })
                };
                Ok((r.get(0)?, json!([text(1)?, text(2)?, text(3)?])))
            })
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        drop(select);
        for (id, v) in rows {
            let text = |i: usize| v[i].as_str().map(str::to_owned);
            tx.execute(
                "UPDATE permits SET context_hash = ?2, execution_hash = ?3, permit_hash = ?4 WHERE id = ?1",
                rusqlite::params![id, text(0), text(1), text(2)],
            )
            .expect("update");
        }
    }
    tx.execute_batch("PRAGMA user_version = 4;")
        .expect("version");
    tx.commit().expect("commit");
}

#[tokio::test]
async fn every_event_type_round_trips_and_exports_as_schema_4_did() {
    let dir = scratch("every");
    let (db, key_file) = (dir.join("atlasent.db"), dir.join("signing.pem"));
    let server = start_on(&db, &key_file).await;
    let n = every_event(&server).await;
    let bundle = export_verified(&server).await;
    let (_, page) = common::get_as(&server, KEY, "/v1-audit/events?limit=500").await;
    let permits = all_permits(&server).await;
    server.shutdown().await.expect("shutdown");
    let events = bundle_events(&bundle);
    assert_eq!(events.len(), n, "one event per request");
    assert_eq!(user_version(&db), 5);
    // Compacted where the codec reproduces the text; the hostile ones may
    // stay text, but the server's own events are all compact.
    let classes = storage_classes(&db);
    let blobs: i64 = classes
        .iter()
        .filter(|(p, h, _)| p == "blob" && h == "blob")
        .map(|c| c.2)
        .sum();
    assert!(
        classes
            .iter()
            .all(|(p, h, _)| h == "blob" && (p == "blob" || p == "text")),
        "{classes:?}"
    );
    assert!(blobs as usize >= n - 2 * HOSTILE.len(), "{classes:?}");
    // Permits: hashes and signatures as bytes (a deny's empty signature
    // stays text).
    let (hashes, signatures): (i64, i64) = rusqlite::Connection::open(&db)
        .expect("open")
        .query_row(
            "SELECT SUM(typeof(context_hash) = 'blob' AND length(context_hash) = 32),
                    SUM(typeof(permit_hash) = 'blob' AND length(permit_hash) = 64) FROM permits",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("permits");
    assert!(hashes > 20 && signatures > 10, "{hashes} {signatures}");
    // The listing shows the same events as the export.
    let listed: Vec<Value> = page["events"].as_array().expect("events").clone();
    let exported: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(e).expect("json"))
        .collect();
    assert_eq!(listed, exported);
    // The same rows stored as text (a schema-4 build's file) export the
    // same events, byte for byte.
    let old = dir.join("schema4.db");
    std::fs::copy(&db, &old).expect("copy");
    downgrade_to_4(&old, &bundle);
    assert_eq!(
        storage_classes(&old),
        vec![("text".into(), "text".into(), n as i64)]
    );
    let server = start_on(&old, &key_file).await;
    let again = export_verified(&server).await;
    assert_eq!(all_permits(&server).await, permits, "permits read the same");
    server.shutdown().await.expect("shutdown");
    assert_eq!(bundle_events(&again), events);
    // And `atlasent-server audit verify` accepts the compact store's export.
    let (bundle_file, pem) = (dir.join("bundle.json"), dir.join("public.pem"));
    std::fs::write(&bundle_file, &bundle).expect("write");
    let server = start_on(&db, &key_file).await;
    std::fs::write(&pem, server.public_key_pem()).expect("write");
    server.shutdown().await.expect("shutdown");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atlasent-server"))
        .args(["audit", "verify"])
        .arg(&bundle_file)
        .arg("--key")
        .arg(&pem)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_schema_4_file_migrates_and_its_chain_goes_on_with_mixed_rows() {
    let dir = scratch("from4");
    let (db, key_file) = (dir.join("atlasent.db"), dir.join("signing.pem"));
    let server = start_on(&db, &key_file).await;
    protect_times(&server, 3).await;
    let bundle = export_verified(&server).await;
    server.shutdown().await.expect("shutdown");
    downgrade_to_4(&db, &bundle);
    assert_eq!(user_version(&db), 4);
    // A schema-4 file: migrated to 5 at start, nothing rewritten.
    let server = start_on(&db, &key_file).await;
    assert_eq!(user_version(&db), 5);
    assert_eq!(
        bundle_events(&export_verified(&server).await),
        bundle_events(&bundle)
    );
    // New events link to the text-stored head (hex hash) and are compact.
    let p = current(&server, "deploy-bot", "deploy.production", json!({})).await;
    ok(
        &server,
        "/v1-verify-permit",
        json!({ "permit_token": p["permit_token"] }),
    )
    .await;
    let mixed = export_verified(&server).await;
    server.shutdown().await.expect("shutdown");
    let events = bundle_events(&mixed);
    assert_eq!(events.len(), 8);
    assert_eq!(events[..6], bundle_events(&bundle)[..]);
    let seventh: Value = serde_json::from_str(&events[6]).expect("json");
    let sixth: Value = serde_json::from_str(&events[5]).expect("json");
    assert_eq!(seventh["previous_hash"], sixth["hash"]);
    assert_eq!(seventh["sequence"], 7);
    assert_eq!(
        storage_classes(&db),
        vec![
            ("blob".into(), "blob".into(), 2),
            ("text".into(), "text".into(), 6)
        ]
    );
    // A restart reads the head from a BLOB hash and goes on.
    let server = start_on(&db, &key_file).await;
    current(&server, "deploy-bot", "deploy.production", json!({})).await;
    let events = bundle_events(&export_verified(&server).await);
    server.shutdown().await.expect("shutdown");
    assert_eq!(events.len(), 9);
}

/// The exported bundle of `server`, or the status that refused it.
async fn export_or_status(server: &RunningServer) -> Result<String, u16> {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1-audit/exports", server.base_url()))
        .header("authorization", format!("Bearer {KEY}"))
        .body("{}")
        .send()
        .await
        .expect("sent");
    match resp.status().as_u16() {
        200 => Ok(resp.text().await.expect("body")),
        status => Err(status),
    }
}

#[tokio::test]
async fn a_tampered_blob_never_exports_a_verified_bundle() {
    let dir = scratch("tamper");
    let (db, key_file) = (dir.join("atlasent.db"), dir.join("signing.pem"));
    let server = start_on(&db, &key_file).await;
    protect_times(&server, 2).await;
    export_verified(&server).await;
    let public = server.public_key_pem().to_owned();
    server.shutdown().await.expect("shutdown");
    let original: Vec<u8> = rusqlite::Connection::open(&db)
        .expect("open")
        .query_row("SELECT payload FROM events WHERE org_seq = 2", [], |r| {
            r.get(0)
        })
        .expect("a BLOB payload");
    let original_hash: Vec<u8> = rusqlite::Connection::open(&db)
        .expect("open")
        .query_row("SELECT hash FROM events WHERE org_seq = 2", [], |r| {
            r.get(0)
        })
        .expect("a BLOB hash");
    let mut cases: Vec<(String, rusqlite::types::Value, &str)> = Vec::new();
    let blob = |b: Vec<u8>| rusqlite::types::Value::Blob(b);
    // Every single-bit flip and every truncation of the payload.
    for i in 0..original.len() {
        for bit in [0, 3, 7] {
            let mut bad = original.clone();
            bad[i] ^= 1 << bit;
            cases.push((format!("bit {bit} of byte {i}"), blob(bad), "payload"));
        }
        cases.push((
            format!("cut to {i} bytes"),
            blob(original[..i].to_vec()),
            "payload",
        ));
    }
    let mut huge = original[..2].to_vec();
    huge.extend_from_slice(&[11, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    cases.push(("an oversized length".into(), blob(huge), "payload"));
    cases.push((
        "an integer payload".into(),
        rusqlite::types::Value::Integer(7),
        "payload",
    ));
    cases.push((
        "a 31-byte hash".into(),
        blob(original_hash[..31].to_vec()),
        "hash",
    ));
    let mut other_hash = original_hash.clone();
    other_hash[0] ^= 1;
    cases.push(("another hash".into(), blob(other_hash), "hash"));
    let key = VerifyingKey::from_spki_pem(&public).expect("key");
    let server = start_on(&db, &key_file).await;
    let (mut refused, mut unverified) = (0, 0);
    for (what, value, column) in &cases {
        {
            let conn = rusqlite::Connection::open(&db).expect("open");
            conn.execute(
                &format!("UPDATE events SET {column} = ?1 WHERE org_seq = 2"),
                [value],
            )
            .expect("tamper");
        }
        match export_or_status(&server).await {
            Err(status) => {
                assert!(status >= 500, "{what}: {status}");
                refused += 1;
            }
            Ok(bundle) => {
                let result = verify_audit_bundle(&bundle, std::slice::from_ref(&key));
                assert!(
                    !result.as_ref().is_ok_and(|r| r.verified()),
                    "{what}: a tampered row exported a verified bundle"
                );
                unverified += 1;
            }
        }
        let (status, _) = common::get_as(&server, KEY, "/v1-audit/events").await;
        if let Err(export_status) = export_or_status(&server).await {
            assert_eq!(status, export_status, "{what}: the listing fails too");
        }
    }
    server.shutdown().await.expect("shutdown");
    // Both ways of failing closed were seen.
    assert!(refused > 0 && unverified > 0, "{refused} {unverified}");
}

#[tokio::test]
async fn a_corrupt_chain_head_refuses_new_events() {
    let dir = scratch("head");
    let (db, key_file) = (dir.join("atlasent.db"), dir.join("signing.pem"));
    let server = start_on(&db, &key_file).await;
    current(&server, "deploy-bot", "deploy.production", json!({})).await;
    server.shutdown().await.expect("shutdown");
    rusqlite::Connection::open(&db)
        .expect("open")
        .execute("UPDATE events SET hash = x'0102' WHERE org_seq = 1", [])
        .expect("tamper");
    let server = start_on(&db, &key_file).await;
    let (status, reply) = post(
        &server,
        "/v1-evaluate",
        &json!({ "action_type": "deploy.production", "actor_id": "deploy-bot", "context": {} }),
        None,
    )
    .await;
    assert!(status >= 500, "{status}: {reply}");
    server.shutdown().await.expect("shutdown");
    let count: i64 = rusqlite::Connection::open(&db)
        .expect("open")
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .expect("count");
    assert_eq!(
        count, 1,
        "nothing appended to a chain whose head is unreadable"
    );
}

#[tokio::test]
async fn a_payload_longer_than_the_compacted_limit_is_stored_as_text() {
    let dir = scratch("long");
    let (db, key_file) = (dir.join("atlasent.db"), dir.join("signing.pem"));
    let server = start_on(&db, &key_file).await;
    protect_times(&server, 1).await;
    // A revoke's reason lands in the payload whole: 1,024 control
    // characters, each escaped as six bytes (`\u0001`): 6,144 bytes.
    let reason = "\u{1}".repeat(1_024);
    let permit = current(&server, "deploy-bot", "deploy.production", json!({})).await;
    let id = permit["permit_token"]
        .as_str()
        .expect("a permit")
        .to_owned();
    ok(
        &server,
        &format!("/v1/permits/{id}/revoke"),
        json!({ "reason": reason }),
    )
    .await;
    let bundle = export_verified(&server).await;
    server.shutdown().await.expect("shutdown");
    assert!(
        bundle.contains(&"\\u0001".repeat(1_024)),
        "the long value is in the export"
    );
    let classes = storage_classes(&db);
    assert_eq!(
        classes,
        vec![
            ("blob".to_owned(), "blob".to_owned(), 3),
            ("text".to_owned(), "blob".to_owned(), 1)
        ],
        "the three short payloads compact, the long one stays text"
    );
}
