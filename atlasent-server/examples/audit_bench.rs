//! Time and peak memory of verifying a large audit export offline.
//!
//! ```text
//! cargo run --release -p atlasent-server --example audit_bench -- 100000 [generate]
//! ```
//!
//! Produces a real N-event chain through the server's engine (evaluations and
//! verifications, in memory), exports it signed, writes it to
//! `target/audit-bench-N.json` (and its public key to `.pem`; both are kept
//! and reused), then verifies it in a fresh child process so that the
//! reported peak memory (VmHWM) is the verifier's alone: streamed from the
//! file (`verify_audit_bundle_file`). With `generate`, only writes the files
//! (`scripts/bench-verify.sh` times the CLI and Python on them).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlasent::audit::{verify_audit_bundle_file, VerifyingKey};
use atlasent_server::engine::{Caller, Engine, EngineConfig, EventFilter};
use atlasent_server::{Policy, PolicySet, Signer, Storage};
use serde_json::json;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn verify(path: &str, pem_path: &str) {
    let before = peak_rss_kib();
    let pem = std::fs::read_to_string(pem_path).expect("key");
    let key = VerifyingKey::from_spki_pem(&pem).expect("key");
    let size = std::fs::metadata(path).expect("bundle").len();
    let start = Instant::now();
    let result = verify_audit_bundle_file(path, &[key]).expect("bundle");
    let elapsed = start.elapsed();
    assert!(result.verified(), "{result:?}");
    println!(
        "verified {:.1} MiB bundle in {:.3} s; peak RSS {:.1} MiB (process start {:.1} MiB)",
        size as f64 / (1 << 20) as f64,
        elapsed.as_secs_f64(),
        peak_rss_kib() as f64 / 1024.0,
        before as f64 / 1024.0
    );
}

fn generate(n: usize, path: &PathBuf, pem_path: &PathBuf) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let policy = Policy::from_value(&json!({
            "policy_id": "bench", "version": "1.0.0", "default": "deny",
            "rules": [{ "id": "small", "effect": "allow", "match": { "action": "pay", "context": { "amount": { "lte": 100 } } } }]
        }))
        .expect("policy");
        let signer = Arc::new(Signer::generate().expect("signing key"));
        let engine = Engine::open(
            EngineConfig {
                storage: Storage::Memory,
                permit_ttl: Duration::from_secs(3600),
                org_id: "bench".into(),
                max_export_events: n,
                clock: atlasent_server::clock::Clock::system(),
            },
            Arc::new(PolicySet::new(vec![policy]).expect("set")),
            Arc::clone(&signer),
        )
        .expect("engine");
        let started = Instant::now();
        let mut made = 0;
        let mut i = 0u64;
        while made < n {
            let burst: Vec<_> = (0..256.min(n - made))
                .map(|_| {
                    i += 1;
                    let engine = engine.clone();
                    let ctx = json!({ "amount": i % 150, "memo": format!("invoice {i}") });
                    let caller = Caller {
                        key_id: "key_bench".into(),
                        org_id: "bench".into(),
                        request_id: format!("req-{i}"),
                        body_digest: format!("{i}"),
                    };
                    tokio::spawn(async move {
                        let ctx = ctx.as_object().expect("object").clone();
                        engine.evaluate(caller, "agent-7", "pay", &ctx).await.expect("evaluate")
                    })
                })
                .collect();
            for t in burst {
                t.await.expect("task");
                made += 1;
            }
        }
        let bundle = engine.export("bench", EventFilter::default()).await.expect("export");
        // Written aside and renamed: an interrupted run leaves no partial
        // bundle to be reused.
        std::fs::write(pem_path, signer.public_key_pem()).expect("write key");
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, bundle).expect("write bundle");
        std::fs::rename(&partial, path).expect("rename bundle");
        eprintln!("generated {n} events in {:.1} s", started.elapsed().as_secs_f64());
    });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("verify") {
        verify(&args[1], &args[2]);
        return;
    }
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target");
    let path = dir.join(format!("audit-bench-{n}.json"));
    let pem_path = dir.join(format!("audit-bench-{n}.pem"));
    if !path.exists() || !pem_path.exists() {
        generate(n, &path, &pem_path);
    }
    if args.get(1).map(String::as_str) == Some("generate") {
        println!("{}", path.display());
        return;
    }
    let status = std::process::Command::new(std::env::current_exe().expect("exe"))
        .arg("verify")
        .arg(&path)
        .arg(&pem_path)
        .status()
        .expect("child runs");
    assert!(status.success());
}
