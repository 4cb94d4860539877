//! The published Python SDK `atlasent` 1.4.1, unchanged, against a running
//! `atlasent-server`. The SDK is installed on first use into a venv under
//! `target/` (that needs PyPI once; later runs reuse it).

mod common;

#[path = "python/venv.rs"]
mod venv;

use common::{start, start_with, KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_works_unchanged_against_the_server() {
    let py = tokio::task::spawn_blocking(|| venv::ensure_python_sdk("1.4.1", ""))
        .await
        .expect("install");
    let server = start().await;
    let limited = start_with(|b| b.rate_limit_per_minute(2)).await;
    let args = venv::interop_args(&server, KEY, &limited, "interop");
    venv::run_interop(py, "interop.py", args, "PYTHON INTEROP OK", 10).await;
}
