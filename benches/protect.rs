//! A `#[atlasent::protect]` function against the same work written by hand
//! (`client.protect(..)` then the body), both against the real server
//! in-process on loopback (in-memory store).
//!
//! ```text
//! cargo bench --bench protect
//! ```

use std::path::PathBuf;
use std::sync::OnceLock;

use atlasent::Permit;
use atlasent_server::{RunningServer, Server};
use serde_json::json;

fn main() {
    divan::main();
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    _server: RunningServer,
    client: atlasent::Client,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("rt");
        let policy = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/contract/vectors/policies/finance_wire_transfer.json");
        let server = rt
            .block_on(
                Server::builder()
                    .policy_file(policy)
                    .api_key("ask_bench")
                    .rate_limit_per_minute(u32::MAX)
                    .start(),
            )
            .expect("server");
        let client = atlasent::Client::builder()
            .api_key("ask_bench")
            .base_url(server.base_url())
            .build()
            .expect("client");
        Fixture {
            rt,
            _server: server,
            client,
        }
    })
}

#[atlasent::protect(
    action = "wire_transfer",
    agent = "finance-agent",
    context = json!({ "amount_usd": amount, "counterparty_id": "cp-1", "memo": "bench" }),
    client = client,
)]
async fn guarded(
    client: &atlasent::Client,
    amount: u64,
    permit: &Permit,
) -> Result<usize, atlasent::Error> {
    Ok(permit.permit_id().len() + amount as usize)
}

async fn by_hand(client: &atlasent::Client, amount: u64) -> Result<usize, atlasent::Error> {
    let context = json!({ "amount_usd": amount, "counterparty_id": "cp-1", "memo": "bench" });
    let permit = client
        .protect("finance-agent", "wire_transfer", &context)
        .await?;
    Ok(permit.permit_id().len() + amount as usize)
}

#[divan::bench(sample_count = 200)]
fn guarded_call() -> usize {
    let f = fixture();
    f.rt.block_on(guarded(&f.client, divan::black_box(10)))
        .expect("allowed")
}

#[divan::bench(sample_count = 200)]
fn hand_written_call() -> usize {
    let f = fixture();
    f.rt.block_on(by_hand(&f.client, divan::black_box(10)))
        .expect("allowed")
}
