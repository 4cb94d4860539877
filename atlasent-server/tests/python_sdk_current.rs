//! The Python SDK users install today, `atlasent` 2.18.0, unchanged, against
//! a running `atlasent-server` with dot-notation policies
//! (`examples/policies/current.json`) — and our SDK on both wires trading
//! permits with it through the same server. The SDK is installed on first
//! use into a venv under `target/`.

mod common;
#[path = "python/venv.rs"]
mod venv;

use std::path::PathBuf;

use atlasent::Wire;
use atlasent_server::{RunningServer, Server};
use serde_json::json;

/// 2.x clients refuse keys that do not look like `ask_(live|test)_…`.
const KEY: &str = "ask_test_interop_key_2_18";

fn policy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/policies/current.json")
}

async fn start(per_minute: Option<u32>) -> RunningServer {
    let mut builder = Server::builder().policy_file(policy()).api_key(KEY);
    if let Some(n) = per_minute {
        builder = builder.rate_limit_per_minute(n);
    }
    builder.start().await.expect("server starts")
}

fn client(server: &RunningServer, wire: Wire) -> atlasent::Client {
    common::client_as(server, KEY, wire)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_2_18_works_unchanged_and_trades_permits_with_the_rust_sdk() {
    let py = tokio::task::spawn_blocking(|| venv::ensure_python_sdk("2.18.0", "verify"))
        .await
        .expect("install");
    let server = start(None).await;
    let limited = start(Some(2)).await;

    // Permits our SDK obtains, through each wire, for Python to verify.
    let rust_context = json!({"environment": "production", "commit": "from-rust", "replicas": 3});
    let mut rust_tokens = Vec::new();
    for wire in [Wire::Current, Wire::Legacy] {
        let evaluation = client(&server, wire)
            .evaluate("deploy-bot", "deploy.production", &rust_context)
            .await
            .expect("evaluate");
        assert!(evaluation.permitted, "{wire:?}: {evaluation:?}");
        rust_tokens.push(evaluation.permit_id);
    }

    let mut args = venv::interop_args(&server, KEY, &limited, "interop-2.18");
    args.extend([rust_tokens[0].clone(), rust_tokens[1].clone()]);
    let stdout =
        venv::run_interop(py, "interop_current.py", args, "PYTHON 2.18 INTEROP OK", 30).await;

    // Permits Python obtained verify through our SDK, on each wire, once.
    let python_tokens: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("PERMIT_FOR_RUST "))
        .collect();
    assert_eq!(python_tokens.len(), 2, "{stdout}");
    for (token, wire) in python_tokens.iter().zip([Wire::Current, Wire::Legacy]) {
        let client = client(&server, wire);
        let verified = client
            .verify(token, "deploy-bot", "deploy.production", &rust_context)
            .await
            .expect("verify");
        assert!(verified.verified, "{wire:?}: {verified:?}");
        let again = client
            .verify(token, "deploy-bot", "deploy.production", &rust_context)
            .await
            .expect("verify");
        assert!(
            !again.verified,
            "{wire:?}: a permit verifies once: {again:?}"
        );
    }
}
