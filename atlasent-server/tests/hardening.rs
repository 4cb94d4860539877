//! Attacks on the server that used to work (issue 9), each over HTTP against
//! the real server: a reused request id replaying an allow onto another
//! request, detailed body errors before authentication, unthrottled key
//! guessing, auditor-visible event fields outside the hash, overflowing
//! flags, world-readable key files and unbounded exports.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{export_and_verify, get, post, start, start_with, KEY};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_atlasent-server");

fn wire(amount: u64) -> String {
    json!({
        "agent": "finance-agent",
        "action": "wire_transfer",
        "context": { "amount_usd": amount, "counterparty_id": "cp_1", "memo": "invoice" },
        "api_key": KEY,
    })
    .to_string()
}

fn bearer() -> String {
    format!("Bearer {KEY}")
}

/// A wire transfer of `amount` evaluated with [`KEY`] in the header.
async fn evaluate(
    server: &atlasent_server::RunningServer,
    amount: u64,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let auth = bearer();
    post(
        server,
        "/v1-evaluate",
        &[("authorization", auth.as_str())],
        wire(amount),
    )
    .await
}

async fn events_with_request_id(server: &atlasent_server::RunningServer, rid: &str) -> Vec<Value> {
    let (status, page) = get(server, "/v1-audit/events?limit=500").await;
    assert_eq!(status, 200);
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["payload"]["request_id"] == rid)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_reused_request_id_with_another_body_is_a_conflict_never_a_decision() {
    let server = start().await;
    let rid = "req-wire-0001";
    let auth = bearer();
    let headers = [("x-request-id", rid), ("authorization", auth.as_str())];

    let (status, _, small) = post(&server, "/v1-evaluate", &headers, wire(50)).await;
    assert_eq!(status, 200);
    assert_eq!(small["permitted"], true, "{small}");

    let (status, _, big) = post(&server, "/v1-evaluate", &headers, wire(5_000_000)).await;
    assert_eq!(status, 409, "{big}");
    assert_eq!(big["code"], "bad_request");
    assert!(big.get("permitted").is_none(), "{big}");
    let message = big["message"].as_str().expect("message");
    assert!(
        message.contains(rid) && message.contains("different request"),
        "{message}"
    );

    // A true retry (same body) still gets the first reply, byte for byte.
    let (status, _, again) = post(&server, "/v1-evaluate", &headers, wire(50)).await;
    assert_eq!(status, 200);
    assert_eq!(again, small);

    // One decision was made under that id, and it is in the chain.
    let events = events_with_request_id(&server, rid).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["payload"]["decision_id"], small["decision_id"]);
    let (_, verification) = export_and_verify(&server).await;
    assert!(verification.verified(), "{verification:?}");
}

#[tokio::test]
async fn a_reused_request_id_on_verify_does_not_replay_a_verified_reply_for_another_permit() {
    let server = start().await;
    let auth = bearer();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, _, reply) = evaluate(&server, 50).await;
        assert_eq!(status, 200);
        ids.push(reply["decision_id"].as_str().expect("id").to_owned());
    }
    let verify_body = |id: &str| json!({ "decision_id": id, "api_key": KEY }).to_string();
    let headers = [
        ("x-request-id", "req-verify-1"),
        ("authorization", auth.as_str()),
    ];
    let (status, _, first) =
        post(&server, "/v1-verify-permit", &headers, verify_body(&ids[0])).await;
    assert_eq!((status, &first["verified"]), (200, &json!(true)));

    let (status, _, second) =
        post(&server, "/v1-verify-permit", &headers, verify_body(&ids[1])).await;
    assert_eq!(status, 409, "{second}");
    assert!(second.get("verified").is_none(), "{second}");

    // The second permit was not touched: it verifies once, under a fresh id.
    let fresh = [
        ("x-request-id", "req-verify-2"),
        ("authorization", auth.as_str()),
    ];
    let (status, _, reply) = post(&server, "/v1-verify-permit", &fresh, verify_body(&ids[1])).await;
    assert_eq!((status, &reply["outcome"]), (200, &json!("verified")));
}

#[tokio::test]
async fn an_unauthenticated_request_learns_nothing_about_its_body() {
    let server = start().await;
    let bad_bodies = [
        r#"{"action": 5, "agent": "a", "context": {}}"#.to_owned(),
        r#"{"unknown_field": 1}"#.to_owned(),
        "not json".to_owned(),
        r#"{"action":"a","agent":"b","context":{},"api_key":"ask_wrong"}"#.to_owned(),
    ];
    for body in &bad_bodies {
        for auth in [None, Some("Bearer ask_wrong"), Some("Basic Zm9vOmJhcg==")] {
            let headers: Vec<(&str, &str)> =
                auth.map(|a| ("authorization", a)).into_iter().collect();
            let (status, _, reply) = post(&server, "/v1-evaluate", &headers, body.clone()).await;
            assert_eq!(status, 401, "{auth:?} {body}: {reply}");
            assert_eq!(reply["code"], "invalid_api_key");
            let message = reply["message"].as_str().expect("message");
            for leak in ["action", "unknown_field", "not valid JSON", "must be"] {
                assert!(!message.contains(leak), "401 says {leak:?}: {message}");
            }
        }
    }
    // The same body with a valid key gets the detailed answer.
    let auth = bearer();
    let (status, _, reply) =
        common::evaluate_authorized(&server, auth.as_str(), bad_bodies[0].clone()).await;
    assert_eq!(status, 422);
    assert!(
        reply["message"]
            .as_str()
            .expect("message")
            .contains("action"),
        "{reply}"
    );
}

#[tokio::test]
async fn a_body_key_that_disagrees_with_the_header_is_refused() {
    let server = start_with(|b| b.api_key("ask_local_other")).await;
    let auth = bearer();
    let body = json!({"agent": "a", "action": "b", "context": {}, "api_key": "ask_local_other"});
    let (status, _, reply) =
        common::evaluate_authorized(&server, auth.as_str(), body.to_string()).await;
    assert_eq!(status, 401, "{reply}");
}

#[tokio::test]
async fn failed_authentications_are_rate_limited_per_address() {
    let server = start_with(|b| b.auth_failures_per_minute(3)).await;
    let body = wire(50);
    for _ in 0..3 {
        let (status, _, _) =
            common::evaluate_authorized(&server, "Bearer ask_guess", body.clone()).await;
        assert_eq!(status, 401);
    }
    let (status, headers, reply) =
        common::evaluate_authorized(&server, "Bearer ask_guess", body.clone()).await;
    assert_eq!(status, 429, "{reply}");
    assert_eq!(reply["code"], "rate_limited");
    common::retry_after_secs(&headers);
    // The address is blocked for the rest of the window, whatever the key:
    // a guesser learns nothing more, not even when a guess is right.
    let auth = bearer();
    let (status, _, _) = common::evaluate_authorized(&server, auth.as_str(), body).await;
    assert_eq!(status, 429);
    let (status, _) = get(&server, "/v1-api-key-self").await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn what_an_auditor_reads_of_an_event_is_inside_its_hash() {
    let server = start().await;
    evaluate(&server, 50).await;
    evaluate(&server, 5_000_000).await;
    let (_, page) = get(&server, "/v1-audit/events").await;
    let events = page["events"].as_array().expect("events");
    assert_eq!(events.len(), 2);
    // Every member an auditor reads, except the chain's own links and the
    // row's storage time, stands in the hashed payload with the same value.
    let unhashed = ["payload", "hash", "previous_hash", "created_at"];
    for event in events {
        let payload = &event["payload"];
        let read = event.as_object().expect("event object");
        let mut checked = 0;
        for (field, value) in read.iter().filter(|(k, _)| !unhashed.contains(&k.as_str())) {
            assert_eq!(&payload[field], value, "{field} of {event}");
            checked += 1;
        }
        assert_eq!(checked, 9, "the nine audited fields of {event}");
    }
    assert_eq!(events[1]["payload"]["decision"], "deny");
    assert_eq!(events[1]["payload"]["type"], "evaluate.deny");
}

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("hardening", name)
}

fn serve_args(dir: &std::path::Path) -> Vec<String> {
    vec![
        "serve".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--api-key".into(),
        "ask_local_cli".into(),
        "--db".into(),
        dir.join("a.db").display().to_string(),
        "--signing-key".into(),
        dir.join("key.pem").display().to_string(),
    ]
}

#[test]
fn numeric_flags_out_of_range_are_refused_naming_the_flag_and_range() {
    let dir = scratch("flags");
    for (flag, value, range) in [
        ("--permit-ttl", "999999999999999d", "1ms to 30d"),
        ("--permit-ttl", "18446744073709551616s", "1ms to 30d"),
        ("--permit-ttl", "0s", "1ms to 30d"),
        ("--permit-ttl", "31d", "1ms to 30d"),
        ("--rate-limit-per-minute", "0", "1..=1000000"),
        ("--rate-limit-per-minute", "4294967296", ""),
        ("--auth-failures-per-minute", "0", "1..=1000000"),
        ("--max-body-bytes", "99999999999", "1024 to 16777216"),
        ("--max-export-events", "0", "1 to 10000000"),
    ] {
        let out = Command::new(BIN)
            .args(serve_args(&dir))
            .args([flag, value])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value} was accepted");
        assert!(
            stderr.contains(flag) && stderr.contains(range),
            "{flag} {value}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_wal_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("db-mode");
    let db = dir.join("private.db");
    let server = start_with(|b| b.storage(atlasent_server::Storage::File(db.clone()))).await;
    let (status, _, _) = evaluate(&server, 50).await;
    assert_eq!(status, 200);
    for file in ["private.db", "private.db-wal", "private.db-shm"] {
        let mode = std::fs::metadata(dir.join(file))
            .expect(file)
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file} has mode {mode:o}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_signing_key_file_others_can_read_is_refused_unless_allowed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("key-mode");
    let key = dir.join("signing.pem");
    atlasent_server::Signer::load_or_create(&key, false).expect("created");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let message = common::refused_start(
        atlasent_server::Server::builder()
            .api_key(KEY)
            .signing_key_file(&key),
    )
    .await;
    assert!(
        message.contains("readable by group or others") && message.contains("chmod 600"),
        "{message}"
    );
    assert!(message.contains("--allow-insecure-key-file"), "{message}");
    atlasent_server::Server::builder()
        .api_key(KEY)
        .signing_key_file(&key)
        .allow_insecure_key_file(true)
        .start()
        .await
        .expect("allowed explicitly");
}

#[tokio::test]
async fn an_export_larger_than_the_maximum_is_refused_with_the_maximum() {
    let server = start_with(|b| b.max_export_events(3)).await;
    let auth = bearer();
    for _ in 0..4 {
        evaluate(&server, 50).await;
    }
    let (status, _, reply) = post(
        &server,
        "/v1-audit/exports",
        &[("authorization", auth.as_str())],
        "{}",
    )
    .await;
    assert_eq!(status, 422, "{reply}");
    let message = reply["message"].as_str().expect("message");
    assert!(
        message.contains("4 events") && message.contains("at most 3"),
        "{message}"
    );
}

#[tokio::test]
async fn exports_and_listings_of_a_file_store_run_beside_decisions() {
    // Reads use their own connections: a listing and an export of a file
    // store succeed while decisions are being written, and see only
    // committed, verifiable chains.
    let dir = scratch("readers");
    let db = dir.join("readers.db");
    let server = std::sync::Arc::new(
        start_with(|b| b.storage(atlasent_server::Storage::File(db.clone()))).await,
    );
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let server = std::sync::Arc::clone(&server);
            tokio::spawn(async move {
                for _ in 0..25 {
                    let (status, _, _) = evaluate(&server, 50).await;
                    assert_eq!(status, 200);
                }
            })
        })
        .collect();
    for _ in 0..5 {
        let (_, verification) = export_and_verify(&server).await;
        assert!(verification.verified(), "{verification:?}");
    }
    for w in writers {
        w.await.expect("writer");
    }
    let (_, page) = get(&server, "/v1-audit/events?limit=1").await;
    assert_eq!(page["total"], 100);
}

#[tokio::test]
async fn a_request_body_that_repeats_a_member_is_refused_naming_it() {
    let server = start().await;
    let auth = bearer();
    for (body, member) in [
        (
            r#"{"agent":"finance-agent","action":"wire_transfer","context":{"amount_usd":50,"amount_usd":5000000,"counterparty_id":"c","memo":"m"}}"#,
            "\"amount_usd\" at $.context",
        ),
        (
            r#"{"agent":"finance-agent","action":"wire_transfer","\u0061ction":"read_logs","context":{}}"#,
            "\"action\" at $",
        ),
    ] {
        let (status, _, reply) = common::evaluate_authorized(&server, auth.as_str(), body).await;
        assert_eq!(status, 400, "{reply}");
        assert!(reply.get("permitted").is_none());
        let message = reply["message"].as_str().expect("message");
        assert!(
            message.contains("repeats a member name") && message.contains(member),
            "{message}"
        );
    }
    let (_, page) = get(&server, "/v1-audit/events").await;
    assert_eq!(page["total"], 0, "no decision was made: {page}");
}

#[test]
fn a_policy_file_that_repeats_a_member_is_refused() {
    let dir = scratch("dup-policy");
    let path = dir.join("dup.json");
    std::fs::write(
        &path,
        r#"{"policy_id":"p","version":"1.0.0","default":"deny","rules":[{"id":"r","effect":"deny","effect":"allow","match":{"action":"x"}}]}"#,
    )
    .expect("write");
    let message = atlasent_server::Policy::from_file(&path)
        .expect_err("refused")
        .to_string();
    assert!(
        message.contains("duplicate member \"effect\" at $.rules[0]"),
        "{message}"
    );
}

#[tokio::test]
async fn a_decision_changed_in_the_database_does_not_verify() {
    let dir = scratch("tampered-column");
    let db = dir.join("audit.db");
    let signer = std::sync::Arc::new(atlasent_server::Signer::generate().expect("key"));
    let storage = atlasent_server::Storage::File(db.clone());
    let server = start_with(|b| b.storage(storage.clone()).signer(signer.clone())).await;
    let (_, _, reply) = evaluate(&server, 5_000_000).await;
    assert_eq!(reply["permitted"], false);
    server.shutdown().await.expect("stopped");

    // Someone with write access to the database turns the deny into an
    // allow in the columns listings and exports are rendered from.
    let conn = rusqlite::Connection::open(&db).expect("db");
    let changed = conn
        .execute(
            "UPDATE events SET decision = 'allow', type = 'evaluate.allow' WHERE type = 'evaluate.deny'",
            [],
        )
        .expect("update");
    assert_eq!(changed, 1);
    drop(conn);

    let server = start_with(|b| b.storage(storage).signer(signer)).await;
    let (_, verification) = export_and_verify(&server).await;
    assert!(!verification.verified());
    let reason = verification.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("contradict") && reason.contains(".decision") && reason.contains(".type"),
        "{reason}"
    );
    assert_eq!(
        verification.tampered_event_ids,
        vec!["evt_000000000001".to_owned()]
    );
}

/// A genuine signed export of two decisions (one denied by default, so its
/// `rule_id` is null) and the key that verifies it.
async fn genuine_export() -> (String, atlasent::audit::VerifyingKey) {
    let server = start().await;
    evaluate(&server, 50).await;
    let auth = bearer();
    let unmatched = json!({"agent": "nobody", "action": "nothing", "context": {}}).to_string();
    common::evaluate_authorized(&server, auth.as_str(), unmatched).await;
    let (text, verification) = export_and_verify(&server).await;
    assert!(verification.verified(), "{verification:?}");
    let key = atlasent::audit::VerifyingKey::from_spki_pem(server.public_key_pem()).expect("key");
    (text, key)
}

#[tokio::test]
async fn a_bundle_whose_readers_would_see_something_unsigned_does_not_verify() {
    let (text, key) = genuine_export().await;
    let verify =
        |forged: &str| atlasent::audit::verify_audit_bundle(forged, std::slice::from_ref(&key));
    let last = text.rfind('}').expect("object");
    for (forged, why) in [
        // null and 1e400 hash alike (canonical JSON writes both as null), but
        // Python reads inf, JSON.parse Infinity, and serde_json refuses it.
        (
            text.replacen("\"rule_id\":null", "\"rule_id\":1e400", 1),
            "1e400 is outside the range of a double",
        ),
        // 1 and 1.0 hash and sign alike; readers see an integer and a float.
        (
            text.replacen("\"sequence\":1,", "\"sequence\":1.0,", 1),
            "1.0 is not written as JavaScript writes it (1)",
        ),
        // A member outside the signed envelope.
        (
            format!("{},\"note\":\"approved by the CFO\"}}", &text[..last]),
            "member \"note\" at $ is not covered",
        ),
    ] {
        assert_ne!(forged, text);
        let result = verify(&forged).expect("a bundle");
        assert!(!result.verified(), "{why}: {result:?}");
        assert!(!result.well_formed);
        let reason = result.reason.unwrap_or_default();
        assert!(reason.contains(why), "{reason}");
    }
    // A bundle that is an empty export to every reader, wrapping a genuine
    // one only the old fixture fallback looked at.
    let wrapped = format!(
        "{{\"export_id\":\"x\",\"org_id\":\"local\",\"chain_head_hash\":\"{}\",\"event_count\":0,\"events\":\"\",\"signature\":\"\",\"bundle\":{text}}}",
        "0".repeat(64)
    );
    match verify(&wrapped) {
        Err(e) => assert!(e.to_string().contains("events"), "{e}"),
        Ok(result) => assert!(!result.verified(), "{result:?}"),
    }
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408_not_held_for_ever() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start().await;
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    let head = format!(
        "POST /v1-evaluate HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"agent\":"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut reply = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        stream.read_to_end(&mut reply),
    );
    read.await.expect("answered within a minute").expect("read");
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("did not arrive within"), "{text}");
}

#[tokio::test]
async fn exports_beyond_the_concurrent_limit_are_refused_with_retry_after() {
    use atlasent_server::engine::{Caller, Engine, EngineConfig, EngineError, EventFilter};
    let policy = atlasent_server::Policy::from_value(&json!({
        "policy_id": "p", "version": "1.0.0", "default": "allow",
        "rules": [{ "id": "r", "effect": "allow", "match": { "action": "a" } }]
    }))
    .expect("policy");
    let engine = Engine::open(
        EngineConfig {
            storage: atlasent_server::Storage::Memory,
            permit_ttl: std::time::Duration::from_secs(60),
            org_id: "o".into(),
            max_export_events: 100_000,
            clock: atlasent_server::clock::Clock::system(),
        },
        std::sync::Arc::new(atlasent_server::PolicySet::new(vec![policy]).expect("set")),
        std::sync::Arc::new(atlasent_server::Signer::generate().expect("key")),
    )
    .expect("engine");
    let ctx = serde_json::Map::new();
    let calls: Vec<_> = (0..3000)
        .map(|i| {
            let caller = Caller {
                key_id: "k".into(),
                org_id: "o".into(),
                request_id: format!("r{i}"),
                body_digest: String::new(),
            };
            let engine = engine.clone();
            let ctx = ctx.clone();
            tokio::spawn(async move { engine.evaluate(caller, "g", "a", &ctx).await })
        })
        .collect();
    for c in calls {
        c.await.expect("task").expect("decided");
    }
    // The slot is taken before the first await: of three exports started
    // together (each of 3,000 events), the third finds both slots taken.
    let (a, b, c) = tokio::join!(
        engine.export("o", EventFilter::default()),
        engine.export("o", EventFilter::default()),
        engine.export("o", EventFilter::default()),
    );
    assert!(a.is_ok() && b.is_ok());
    assert!(matches!(c, Err(EngineError::ExportsBusy(2))), "{c:?}");
    // Once they are done, exports run again.
    engine
        .export("o", EventFilter::default())
        .await
        .expect("a slot is free again");
}
