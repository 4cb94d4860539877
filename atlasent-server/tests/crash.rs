//! Crash safety: under concurrent load the server process is killed with
//! SIGKILL at random moments, restarted on the same database, and every time
//! the whole chain verifies and every permit whose evaluate reply reached a
//! client is in the log.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atlasent::audit::{verify_audit_bundle, VerifyingKey};
use common::KEY;
use serde_json::{json, Value};

const ROUNDS: usize = 12;
const CLIENTS: usize = 8;

/// Start the binary on `db` and wait for its `listening on` line.
fn spawn_server(db: &Path, key: &Path) -> (Child, String) {
    let mut child = common::serve_command(db, key, &[])
        .stderr(Stdio::inherit())
        .spawn()
        .expect("server binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, url)
}

// The kill moments vary, the seed is printed.
#[path = "../../atlasent/tests/support/standalone.rs"]
mod standalone;
use standalone::Rng;

async fn load(
    url: String,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<String>>>,
    worker: usize,
) {
    let client = atlasent::Client::builder()
        .api_key(KEY)
        .base_url(url)
        .max_retries(0)
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let amount = if i % 3 == 0 { 50_000 } else { 100 };
        let ctx = json!({ "amount_usd": amount, "counterparty_id": format!("cp-{worker}"), "memo": format!("n{i}") });
        match client
            .evaluate("finance-agent", "wire_transfer", &ctx)
            .await
        {
            Ok(r) => {
                acknowledged.lock().expect("lock").push(r.permit_id.clone());
                if r.permitted && i % 2 == 0 {
                    let _ = client
                        .verify(&r.permit_id, "finance-agent", "wire_transfer", &ctx)
                        .await;
                }
            }
            // The server died under us; anything unacknowledged may be lost.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

async fn export(url: &str) -> String {
    common::export_text(url, KEY).await
}

/// A fresh directory per test: the two tests run at once in this process, so
/// a shared one would let the second start delete the first one's database.
fn workdir(test: &str) -> PathBuf {
    common::scratch_dir("crash", test)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_never_loses_an_acknowledged_decision_or_breaks_the_chain() {
    let dir = workdir("sigkill");
    let db = dir.join("atlasent.db");
    let key_file = dir.join("signing-key.pem");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    println!("crash test seed: {seed}");
    let mut rng = Rng(seed);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    // ROUNDS kills; every start, including the one after the last kill, checks.
    for round in 0..=ROUNDS {
        let (mut child, url) = spawn_server(&db, &key_file);
        // After a restart, everything acknowledged so far must be there.
        let bundle = export(&url).await;
        let keys_resp: Value = reqwest::Client::new()
            .get(format!("{url}/v1-signing-keys"))
            .header("authorization", format!("Bearer {KEY}"))
            .send()
            .await
            .expect("keys")
            .json_value()
            .await;
        let public_pem = keys_resp["keys"][0]["public_key_pem"]
            .as_str()
            .expect("pem")
            .to_owned();
        let key = VerifyingKey::from_spki_pem(&public_pem).expect("key");
        let result = verify_audit_bundle(&bundle, &[key]).expect("bundle");
        assert!(
            result.verified(),
            "round {round}: chain or signature broken after restart: {result:?}"
        );
        let logged: std::collections::HashSet<String> = serde_json::from_str::<Value>(&bundle)
            .expect("json")["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["payload"]["decision_id"].as_str().map(str::to_owned))
            .collect();
        let acked = acknowledged.lock().expect("lock").clone();
        let missing: Vec<_> = acked.iter().filter(|id| !logged.contains(*id)).collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged but not logged: {missing:?}"
        );
        println!(
            "round {round}: {} events, {} acknowledged decisions, all present",
            result_count(&bundle),
            acked.len()
        );

        if round == ROUNDS {
            child.kill().expect("stop");
            child.wait().expect("reaped");
            break;
        }
        // Load, then SIGKILL at a random moment.
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|w| {
                tokio::spawn(load(
                    url.clone(),
                    Arc::clone(&stop),
                    Arc::clone(&acknowledged),
                    w,
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(30 + rng.next() % 250)).await;
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.expect("load task");
        }
    }
    let total = acknowledged.lock().expect("lock").len();
    assert!(
        total > ROUNDS * 10,
        "the load made real progress ({total} acknowledged decisions)"
    );
}

fn result_count(bundle: &str) -> u64 {
    serde_json::from_str::<Value>(bundle).expect("json")["event_count"]
        .as_u64()
        .unwrap_or(0)
}

trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        serde_json::from_slice(&self.bytes().await.expect("body")).expect("json")
    }
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_keeps_the_log() {
    let dir = workdir("sigterm");
    let db = dir.join("atlasent.db");
    let key_file = dir.join("signing-key.pem");
    let (mut child, url) = spawn_server(&db, &key_file);
    let client = atlasent::Client::builder()
        .api_key(KEY)
        .base_url(&url)
        .build()
        .expect("client");
    let ctx = json!({ "amount_usd": 10, "counterparty_id": "c", "memo": "m" });
    let permit = client
        .protect("finance-agent", "wire_transfer", &ctx)
        .await
        .expect("permit");
    for signal in ["-TERM", "-INT"] {
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
        let exit = child.wait().expect("exits");
        assert!(exit.success(), "{signal}: clean exit, got {exit:?}");
        let (next, url) = spawn_server(&db, &key_file);
        child = next;
        let bundle = export(&url).await;
        assert!(
            bundle.contains(permit.permit_id()),
            "{signal}: the decision survived the restart"
        );
    }
    child.kill().expect("stop");
    child.wait().expect("reaped");
}
