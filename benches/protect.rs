//! A `#[atlasent::protect]` function against the same work written by hand
//! (`client.protect(..)` then the body), and the typed path (an action type,
//! `protect_as`, `Permit<A>`) against the untyped one, all against the real
//! server in-process on loopback (in-memory store).
//!
//! ```text
//! cargo bench --bench protect
//! ```

use std::path::PathBuf;
use std::sync::OnceLock;

use atlasent::{Client, Error, Permit};
use atlasent_server::{RunningServer, Server};
use serde_json::json;

fn main() {
    divan::main();
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    _server: RunningServer,
    client: Client,
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
                    .rate_limit_per_minute(1_000_000)
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

impl Fixture {
    /// One call of `way` (a guarded fn or its hand-written twin) for an
    /// amount the optimizer cannot see; its result.
    fn call<F>(&'static self, way: impl FnOnce(&'static Client, u64) -> F) -> usize
    where
        F: std::future::Future<Output = Result<usize, Error>>,
    {
        let amount = divan::black_box(10);
        self.rt
            .block_on(way(&self.client, amount))
            .expect("allowed")
    }
}

/// The context of every call: what the policy's wire transfer rule reads.
fn wire_context(amount: u64) -> serde_json::Value {
    json!({ "amount_usd": amount, "counterparty_id": "cp-1", "memo": "bench" })
}

#[atlasent::protect(
    action = "wire_transfer",
    agent = "finance-agent",
    context = wire_context(amount),
    client = client,
)]
async fn guarded(client: &Client, amount: u64, permit: &Permit) -> Result<usize, Error> {
    Ok(permit.permit_id().len() + amount as usize)
}

#[divan::bench(sample_count = 200)]
fn guarded_call() -> usize {
    fixture().call(guarded)
}

async fn by_hand(client: &Client, amount: u64) -> Result<usize, Error> {
    let context = wire_context(amount);
    let permit = client
        .protect("finance-agent", "wire_transfer", &context)
        .await?;
    Ok(permit.permit_id().len() + amount as usize)
}

#[divan::bench(sample_count = 200)]
fn hand_written_call() -> usize {
    fixture().call(by_hand)
}

/// The same action, declared as a type (untyped context, so that both sides
/// serialize the same `json!` value).
#[atlasent::action("wire_transfer")]
struct WireTransfer;

#[atlasent::protect(
    action = WireTransfer,
    agent = "finance-agent",
    context = wire_context(amount),
    client = client,
)]
async fn typed_guarded(
    client: &Client,
    amount: u64,
    permit: &Permit<WireTransfer>,
) -> Result<usize, Error> {
    Ok(permit.permit_id().len() + amount as usize)
}

#[divan::bench(sample_count = 200)]
fn typed_guarded_call() -> usize {
    fixture().call(typed_guarded)
}

async fn typed_by_hand(client: &Client, amount: u64) -> Result<usize, Error> {
    let permit = client
        .protect_as::<WireTransfer>("finance-agent", &wire_context(amount))
        .await?;
    Ok(permit.permit_id().len() + amount as usize)
}

#[divan::bench(sample_count = 200)]
fn typed_protect_as_call() -> usize {
    fixture().call(typed_by_hand)
}

/// The type-level part alone, without the network: turning a permit into a
/// `Permit<A>` (`downcast`: one string comparison) and back (`into`: a move).
#[divan::bench(sample_count = 200)]
fn downcast_and_back(bencher: divan::Bencher<'_, '_>) {
    let f = fixture();
    bencher
        .with_inputs(|| {
            f.rt.block_on(
                f.client
                    .protect("finance-agent", "wire_transfer", &wire_context(1)),
            )
            .expect("allowed")
        })
        .bench_values(|permit: Permit| {
            let typed = permit.downcast::<WireTransfer>().expect("same action");
            let untyped: Permit = typed.into();
            untyped
        });
}
