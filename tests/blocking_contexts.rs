//! A guarded plain fn and a decision server on the same current-thread
//! runtime (the shape of a `#[tokio::test]`): called directly, the fn would
//! block the only thread that could answer it, so it gets a prompt error
//! saying so, never a wait for the client's timeout; called through
//! `spawn_blocking`, it runs on another thread while the runtime serves it.

#[path = "support/checks.rs"]
mod checks;
#[path = "support/server.rs"]
mod server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use atlasent::{Error, Permit};
use atlasent_server::RunningServer;
use serde_json::json;

const KEY: &str = "ask_local_blocking_contexts";

async fn real_server() -> RunningServer {
    server::policy_server(server::FINANCE_POLICY, KEY).await
}

/// The default 30 seconds: a call that waited for it instead of failing at
/// once would be the defect this file pins.
fn blocking_client(url: &str) -> atlasent::blocking::Client {
    atlasent::blocking::Client::builder()
        .api_key(KEY)
        .base_url(url)
        .timeout(Duration::from_secs(30))
        .max_retries(0)
        .build()
        .expect("blocking client")
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[atlasent::protect(
    action = "wire_transfer",
    agent = "finance-agent",
    context = json!({ "amount_usd": amount, "counterparty_id": "cp-1", "memo": "cli" }),
    client = client,
)]
fn wire(client: &atlasent::blocking::Client, amount: u64, _permit: Permit) -> Result<u64, Error> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(amount)
}

#[tokio::test]
async fn a_server_on_this_current_thread_runtime_gets_a_prompt_error_not_a_timeout() {
    let server = real_server().await;
    let client = blocking_client(&server.base_url());
    let runs = RUNS.load(Ordering::SeqCst);
    let err = wire(&client, 10).expect_err("refused");
    assert!(matches!(err, Error::Config { .. }), "not a timeout: {err}");
    let message = err.to_string();
    checks::assert_contains_all(
        &message,
        &[
            "`wire`",
            "current-thread runtime",
            "decision server",
            "tokio::task::spawn_blocking",
        ],
    );
    assert_eq!(RUNS.load(Ordering::SeqCst), runs, "the body did not run");
}

#[tokio::test]
async fn spawn_blocking_reaches_a_server_on_the_same_current_thread_runtime() {
    let server = real_server().await;
    let client = blocking_client(&server.base_url());
    let sent = tokio::task::spawn_blocking(move || wire(&client, 10))
        .await
        .expect("join")
        .expect("allowed");
    assert_eq!(sent, 10);
    let client = blocking_client(&server.base_url());
    let denied = tokio::task::spawn_blocking(move || wire(&client, 20_000))
        .await
        .expect("join")
        .expect_err("denied");
    assert!(denied.is_denied(), "{denied}");
}
