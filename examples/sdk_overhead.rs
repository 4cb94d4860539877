//! The SDK's own cost, measured from outside the bench harness (see
//! `scripts/bench-client-cpu.sh`, which drives it, and
//! `benches/sdk_overhead.rs`, which counts allocations):
//!
//! ```text
//! sdk_overhead stub [ADDR]           # the stub API, standalone; prints its URL
//! sdk_overhead loop URL CALLS [WIRE] # CALLS sequential protect() calls; their CPU time
//! sdk_overhead floor URL CALLS [WIRE] # the same with the two reqwest POSTs by hand
//! sdk_overhead ratio CALLS ROUNDS    # protect() vs two reqwest POSTs, interleaved
//! ```
//!
//! `loop` reports the CPU time (user + sys, every thread of the process,
//! from `/proc/self/task/*/schedstat`) of the calls alone, after one
//! warm-up call; `ratio` runs the stub in-process on its own thread and
//! alternates `ROUNDS` rounds of `CALLS` calls of each side, so that both
//! see the same machine load, and prints the ratio of the medians of the
//! per-round means, per wire.

use std::time::{Duration, Instant};

use atlasent::{Client, Wire};

#[path = "../benches/support/baseline.rs"]
mod baseline;
#[path = "../benches/support/stub.rs"]
mod stub;

/// A key of the shape Python 2.18 insists on (`ask_(live|test)_…`).
const KEY: &str = "ask_test_bench_stub";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let number = |i: usize, default: u32| arg(i).map_or(default, |s| s.parse().expect("a number"));
    match arg(0) {
        Some("stub") => {
            let addr = arg(1).unwrap_or("127.0.0.1:0").parse().expect("ADDR");
            println!("{}", stub::spawn(addr));
            loop {
                std::thread::park();
            }
        }
        Some("loop") => {
            let url = arg(1).expect("URL");
            let wire = arg(3).unwrap_or("current").parse().expect("WIRE");
            run_loop(url, number(2, 5000), wire, false);
        }
        Some("floor") => {
            let url = arg(1).expect("URL");
            let wire = arg(3).unwrap_or("current").parse().expect("WIRE");
            run_loop(url, number(2, 5000), wire, true);
        }
        Some("ratio") => ratio(number(1, 200), number(2, 20)),
        _ => {
            eprintln!("usage: sdk_overhead stub [ADDR] | loop URL CALLS [current|legacy] | ratio CALLS ROUNDS");
            std::process::exit(2);
        }
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn client(url: &str, wire: Wire) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(url)
        .wire(wire)
        .build()
        .expect("client")
}

/// CPU time of the whole process so far (every thread's, nanoseconds).
fn cpu_ns() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let path = task.expect("task").path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            total += text
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

/// CPU time of the calling thread so far (nanoseconds).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `calls` protect() calls (`by_hand`: the baseline's two POSTs instead).
fn run_loop(url: &str, calls: u32, wire: Wire, by_hand: bool) {
    let rt = rt();
    let client = client(url, wire);
    let floor = baseline::Baseline::new(client.config(), KEY);
    let context = stub::context();
    let protect = || -> String {
        let (agent, action) = (stub::AGENT, stub::ACTION);
        rt.block_on(async {
            match (by_hand, wire) {
                (false, _) => client
                    .protect(agent, action, &context)
                    .await
                    .expect("allowed")
                    .permit_id()
                    .to_owned(),
                (true, Wire::Legacy) => floor.protect_legacy(agent, action, &context, KEY).await,
                (true, _) => floor.protect_current(agent, action, &context).await,
            }
        })
    };
    assert_eq!(protect(), stub::PERMIT);
    let (cpu, wall) = (cpu_ns(), Instant::now());
    for _ in 0..calls {
        protect();
    }
    let wall = wall.elapsed();
    let cpu = Duration::from_nanos(cpu_ns() - cpu);
    let who = if by_hand { "reqwest" } else { "rust" };
    println!(
        "{who}-{wire} calls={calls} cpu_s={:.3} wall_s={:.3}",
        cpu.as_secs_f64(),
        wall.as_secs_f64()
    );
}

fn ratio(calls: u32, rounds: u32) {
    let url = stub::spawn(([127, 0, 0, 1], 0).into());
    let rt = rt();
    let context = stub::context();
    let current = client(&url, Wire::Current);
    let legacy = client(&url, Wire::Legacy);
    let by_hand = baseline::Baseline::new(current.config(), KEY);
    // Wall time and this thread's CPU time per call (the client runs on
    // this thread alone: a current-thread runtime; the stub has its own).
    let time = |f: &dyn Fn()| {
        let (start, cpu) = (Instant::now(), thread_cpu_ns());
        for _ in 0..calls {
            f();
        }
        let cpu = Duration::from_nanos(thread_cpu_ns() - cpu);
        (start.elapsed() / calls, cpu / calls)
    };
    let sdk_current = || {
        rt.block_on(current.protect(stub::AGENT, stub::ACTION, &context))
            .expect("allowed");
    };
    let sdk_legacy = || {
        rt.block_on(legacy.protect(stub::AGENT, stub::ACTION, &context))
            .expect("allowed");
    };
    let hand_current = || {
        rt.block_on(by_hand.protect_current(stub::AGENT, stub::ACTION, &context));
    };
    let hand_legacy = || {
        rt.block_on(by_hand.protect_legacy(stub::AGENT, stub::ACTION, &context, KEY));
    };
    let sides: [(&str, &dyn Fn()); 4] = [
        ("protect current", &sdk_current),
        ("reqwest current", &hand_current),
        ("protect legacy", &sdk_legacy),
        ("reqwest legacy", &hand_legacy),
    ];
    for (_, side) in &sides {
        time(*side); // warm-up: connections, caches
    }
    let mut means: Vec<Vec<Duration>> = vec![Vec::new(); sides.len()];
    let mut cpus: Vec<Vec<Duration>> = vec![Vec::new(); sides.len()];
    for round in 0..rounds {
        // Alternate the order too, so that neither side always runs first.
        for i in 0..sides.len() {
            let i = if round % 2 == 0 {
                i
            } else {
                sides.len() - 1 - i
            };
            let (wall, cpu) = time(sides[i].1);
            means[i].push(wall);
            cpus[i].push(cpu);
        }
    }
    let median = |m: &mut Vec<Duration>| {
        m.sort();
        m[m.len() / 2]
    };
    let medians: Vec<Duration> = means.iter_mut().map(median).collect();
    let cpu_medians: Vec<Duration> = cpus.iter_mut().map(median).collect();
    for (((name, _), median), cpu) in sides.iter().zip(&medians).zip(&cpu_medians) {
        println!(
            "{name:<16} {:>8.1} µs per call, {:>8.1} µs CPU (medians of {rounds} rounds of {calls})",
            median.as_secs_f64() * 1e6,
            cpu.as_secs_f64() * 1e6
        );
    }
    let ratio = |m: &[Duration], a: usize, b: usize| m[a].as_secs_f64() / m[b].as_secs_f64();
    for (wire, sdk, hand) in [("current", 0, 1), ("legacy", 2, 3)] {
        println!(
            "ratio {wire}: protect / reqwest = {:.3} (wall), {:.3} (client CPU)",
            ratio(&medians, sdk, hand),
            ratio(&cpu_medians, sdk, hand)
        );
    }
}
