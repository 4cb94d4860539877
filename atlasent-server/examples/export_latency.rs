//! Decision latency while a large export runs.
//!
//! ```text
//! cargo run --release -p atlasent-server --example export_latency -- 100000
//! ```
//!
//! Writes an N-event chain into a database file through the engine, starts
//! the server on that file, then times evaluate calls over HTTP: first
//! alone, then while a signed export of all N events is being built. Exports
//! of a file store read on their own connections, so decisions should not
//! wait for them; this prints the figures that show whether they do.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlasent_server::clock::Clock;
use atlasent_server::engine::{Caller, Engine, EngineConfig};
use atlasent_server::{Policy, PolicySet, Server, Signer, Storage};
use serde_json::json;

const KEY: &str = "ask_test_export_latency";

fn policy() -> Policy {
    Policy::from_value(&json!({
        "policy_id": "bench", "version": "1.0.0", "default": "deny",
        "rules": [{ "id": "pay", "effect": "allow", "match": { "action": "pay" } }]
    }))
    .expect("policy")
}

/// Fill the database with `n` events through the engine (no HTTP).
async fn fill(db: &std::path::Path, n: usize) {
    let engine = Engine::open(
        EngineConfig {
            storage: Storage::File(db.to_owned()),
            permit_ttl: Duration::from_secs(3600),
            org_id: "local".into(),
            max_export_events: n,
            clock: Clock::system(),
        },
        Arc::new(PolicySet::new(vec![policy()]).expect("set")),
        Arc::new(Signer::generate().expect("key")),
    )
    .expect("engine");
    let started = Instant::now();
    let ctx = json!({ "memo": "invoice" });
    let ctx = ctx.as_object().expect("object");
    let mut made = 0;
    while made < n {
        let burst: Vec<_> = (made..n.min(made + 512))
            .map(|i| {
                let engine = engine.clone();
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let caller = Caller {
                        key_id: "key_fill".into(),
                        org_id: "local".into(),
                        request_id: format!("fill-{i}"),
                        body_digest: String::new(),
                    };
                    engine
                        .evaluate(caller, "agent", "pay", &ctx)
                        .await
                        .expect("evaluate")
                })
            })
            .collect();
        for t in burst {
            t.await.expect("task");
            made += 1;
        }
    }
    eprintln!(
        "filled {n} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{label}: {} decisions, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().expect("samples").as_secs_f64() * 1e3,
    );
}

async fn decide(client: &atlasent::Client) -> Duration {
    let start = Instant::now();
    let result = client
        .evaluate("agent", "pay", &json!({ "memo": "timed" }))
        .await
        .expect("evaluate");
    assert!(result.permitted);
    start.elapsed()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/export-latency");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let db = dir.join("latency.db");
    fill(&db, n).await;

    let server = Server::builder()
        .policy(policy())
        .api_key(KEY)
        .storage(Storage::File(db))
        .max_export_events(n + 10_000)
        .rate_limit_per_minute(1_000_000)
        .start()
        .await
        .expect("server");
    let client = atlasent::Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .max_response_bytes(1 << 30)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");

    let mut alone = Vec::new();
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        alone.push(decide(&client).await);
    }
    report("no export running", alone);

    let exporter = {
        let url = format!("{}/v1-audit/exports", server.base_url());
        tokio::spawn(async move {
            let start = Instant::now();
            let bundle = reqwest::Client::new()
                .post(url)
                .header("authorization", format!("Bearer {KEY}"))
                .body("{}")
                .send()
                .await
                .expect("export")
                .bytes()
                .await
                .expect("body");
            (start.elapsed(), bundle.len())
        })
    };
    let mut during = Vec::new();
    while !exporter.is_finished() {
        during.push(decide(&client).await);
    }
    let (took, bytes) = exporter.await.expect("exporter");
    println!(
        "export of {n} events ({:.1} MiB) took {:.2} s",
        bytes as f64 / (1 << 20) as f64,
        took.as_secs_f64()
    );
    report("while the export ran", during);
}
