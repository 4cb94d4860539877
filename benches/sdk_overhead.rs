//! What `atlasent::Client::protect()` costs beyond the two HTTP exchanges it
//! makes: `protect()` against the same two POSTs written by hand with
//! reqwest (`support/baseline.rs`), both against a stub API in-process
//! (`support/stub.rs`, on a thread of its own) on loopback, on the current
//! wire and on the legacy (1.4.1) one. Divan's allocation profiler counts
//! the allocations of the calling thread (the client's runtime is a
//! current-thread one, so hyper's connection tasks run there too; the stub's
//! thread is not counted).
//!
//! ```text
//! cargo bench --bench sdk_overhead
//! ```
//!
//! The same-run ratio of the two, interleaved, and the client's CPU time
//! against Python: `scripts/bench-client-cpu.sh`.

use std::sync::OnceLock;

use atlasent::{Client, Wire};

#[path = "support/baseline.rs"]
mod baseline;
#[path = "support/stub.rs"]
mod stub;

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

/// A key of the shape Python 2.18 insists on (`ask_(live|test)_…`).
const KEY: &str = "ask_test_bench_stub";

struct Fixture {
    rt: tokio::runtime::Runtime,
    current: Client,
    legacy: Client,
    baseline: baseline::Baseline,
    context: serde_json::Value,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let url = stub::spawn(([127, 0, 0, 1], 0).into());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        let client = |wire| {
            Client::builder()
                .api_key(KEY)
                .base_url(&url)
                .wire(wire)
                .build()
                .expect("client")
        };
        let current = client(Wire::Current);
        let baseline = baseline::Baseline::new(current.config(), KEY);
        Fixture {
            rt,
            legacy: client(Wire::Legacy),
            current,
            baseline,
            context: stub::context(),
        }
    })
}

#[divan::bench(sample_count = 500)]
fn protect_current(bencher: divan::Bencher<'_, '_>) {
    let f = fixture();
    bencher.bench_local(|| {
        f.rt.block_on(f.current.protect(stub::AGENT, stub::ACTION, &f.context))
            .expect("allowed")
    });
}

#[divan::bench(sample_count = 500)]
fn reqwest_current(bencher: divan::Bencher<'_, '_>) {
    let f = fixture();
    bencher.bench_local(|| {
        f.rt.block_on(
            f.baseline
                .protect_current(stub::AGENT, stub::ACTION, &f.context),
        )
    });
}

#[divan::bench(sample_count = 500)]
fn protect_legacy(bencher: divan::Bencher<'_, '_>) {
    let f = fixture();
    bencher.bench_local(|| {
        f.rt.block_on(f.legacy.protect(stub::AGENT, stub::ACTION, &f.context))
            .expect("allowed")
    });
}

#[divan::bench(sample_count = 500)]
fn reqwest_legacy(bencher: divan::Bencher<'_, '_>) {
    let f = fixture();
    bencher.bench_local(|| {
        f.rt.block_on(
            f.baseline
                .protect_legacy(stub::AGENT, stub::ACTION, &f.context, KEY),
        )
    });
}
