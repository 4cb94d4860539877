//! The published Python SDK `atlasent` 1.4.1, unchanged, against a running
//! `atlasent-server`. The SDK is installed on first use into a venv under
//! `target/` (that needs PyPI once; later runs reuse it).

mod common;

#[path = "python/venv.rs"]
mod venv;

use std::path::PathBuf;

use common::{start, start_with, KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_works_unchanged_against_the_server() {
    let py = tokio::task::spawn_blocking(|| venv::ensure_python_sdk("1.4.1", ""))
        .await
        .expect("install");
    let server = start().await;
    let limited = start_with(|b| b.rate_limit_per_minute(2)).await;
    let work = tempdir();
    let pem_path = work.join("signing-key.pub.pem");
    std::fs::write(&pem_path, server.public_key_pem()).expect("write pem");
    let args = vec![
        server.base_url(),
        KEY.to_owned(),
        pem_path.display().to_string(),
        limited.base_url(),
        work.display().to_string(),
    ];
    venv::run_interop(py, "interop.py", args, "PYTHON INTEROP OK", 10).await;
}

fn tempdir() -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tempdir");
    dir
}
