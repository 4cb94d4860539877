//! The chaos run: `protect()` through a proxy that delays, resets,
//! truncates, flips bits, stalls, duplicates, replays and swaps replies
//! (`support/chaos.rs`), against the real server on loopback.
//!
//! The claim it proves: the SDK returns a `Permit` only when the server
//! recorded that exact permit as verified for that exact call. Every call has
//! its own agent and context (`{"call": n, "nonce": ...}`); after the run the
//! audit log, read from the server directly, must hold for each returned
//! permit exactly one `permit.verified` event with that permit id, that agent,
//! the action, and the SHA-256 of that call's canonical context.
//!
//! By default a short run (a few thousand calls, bounded in time) for CI.
//! Settings, all optional:
//! - `ATLASENT_CHAOS_CALLS` (default 3000), `ATLASENT_CHAOS_SEED` (default
//!   from the clock, printed), `ATLASENT_CHAOS_CONCURRENCY` (default 16),
//!   `ATLASENT_CHAOS_SECONDS` (stop starting calls after this; default 240
//!   for the short run, none when `ATLASENT_CHAOS_CALLS` is set),
//!   `ATLASENT_CHAOS_TIMEOUT_MS` (the client's timeout; default 300).
//!
//! The long run of the figures in the notes:
//! `ATLASENT_CHAOS_CALLS=100000 cargo test --release --workspace --all-features --test chaos -- --nocapture`

#[path = "support/chaos.rs"]
mod chaos;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atlasent::audit::AuditEventQuery;
use atlasent_server::{limits, Policy, Server};
use chaos::{ChaosConfig, ChaosProxy, Fault, Rng};
use futures_util::StreamExt;
use serde_json::{json, Value};

const KEY: &str = "ask_local_chaos";
const AUDIT_KEY: &str = "ask_local_chaos_audit";
const ACTION: &str = "chaos_op";
/// Every tenth call asks for something the policy denies.
const DENIED_EVERY: u64 = 10;

fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a non-negative integer, got {v:?}")),
        Err(_) => default,
    }
}

fn policy() -> Policy {
    Policy::from_value(&json!({
        "policy_id": "chaos",
        "version": "1.0.0",
        "description": "Allows the chaos action unless the context asks for a deny.",
        "default": "deny",
        "rules": [
            { "id": "deny_marked", "effect": "deny",
              "match": { "action": ACTION, "context": { "deny": true } } },
            { "id": "allow_chaos", "effect": "allow", "match": { "action": ACTION } }
        ]
    }))
    .expect("the chaos policy is valid")
}

/// One call's identity: what its permit must be bound to.
struct Call {
    number: u64,
    agent: String,
    execution_hash: String,
}

/// A permit the SDK returned, with the call it was returned to.
struct Returned {
    call: Call,
    permit_id: String,
    audit_hash: String,
}

fn context_of(number: u64, seed: u64) -> Value {
    let nonce = Rng::new(seed ^ number.wrapping_mul(0xd1b5_4a32_d192_ed03)).next_u64();
    let mut context = json!({ "call": number, "nonce": format!("{nonce:016x}") });
    if number % DENIED_EVERY == 0 {
        context["deny"] = json!(true);
    }
    context
}

/// The current wire's binding of a verification to its evaluate payload
/// (the SDK's default wire; the server logs it in the `permit.verified` event).
fn execution_hash(agent: &str, context: &Value) -> String {
    let context = context.as_object().expect("the context is an object");
    atlasent::wire::execution_hash(ACTION, agent, context)
}

fn error_kind(err: &atlasent::Error) -> String {
    match (err.denial(), err.code()) {
        (Some(d), _) => format!("denied/{:?}/{}", d.stage(), d.outcome().unwrap_or("policy")),
        // The reply binding at work: a swapped, replayed or duplicated reply.
        (None, Some(code)) if err.to_string().contains("answers another request") => {
            format!("{} (a reply to another request)", code.as_str())
        }
        (None, Some(code)) => code.as_str().to_owned(),
        (None, None) => format!("other: {err}"),
    }
}

#[derive(Default)]
struct Tally {
    permits: Vec<Returned>,
    errors: BTreeMap<String, u64>,
    /// Calls the policy denies that came back with a permit.
    permits_for_denied_calls: u64,
}

/// What the log says about permits: `permit.verified` payloads and the hash
/// of each `evaluate.allow` event, by decision id.
struct Log {
    verified: HashMap<String, Vec<Value>>,
    allow_hash: HashMap<String, String>,
}

async fn read_log(base_url: &str) -> Log {
    let auditor = atlasent::Client::builder()
        .api_key(AUDIT_KEY)
        .base_url(base_url)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("audit client");
    let query = AuditEventQuery::new()
        .types(["permit.verified", "evaluate.allow"])
        .limit(500);
    let mut events = std::pin::pin!(auditor.audit_events(query));
    let mut log = Log {
        verified: HashMap::new(),
        allow_hash: HashMap::new(),
    };
    while let Some(event) = events.next().await {
        let event = event.expect("the audit log reads back");
        let id = event.payload["decision_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match event.event_type.as_deref() {
            Some("permit.verified") => log.verified.entry(id).or_default().push(event.payload),
            Some("evaluate.allow") => {
                log.allow_hash.insert(id, event.hash);
            }
            _ => {}
        }
    }
    log
}

/// Why `returned` is not a permit the server verified for its call, if so.
fn falsity(returned: &Returned, log: &Log) -> Option<String> {
    let call = &returned.call;
    let events = log
        .verified
        .get(&returned.permit_id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let [event] = events else {
        return Some(format!(
            "call {}: permit {} has {} permit.verified events",
            call.number,
            returned.permit_id,
            events.len()
        ));
    };
    let expect = [
        ("verified", json!(true)),
        ("outcome", json!("verified")),
        ("agent", json!(call.agent)),
        ("action", json!(ACTION)),
        ("execution_hash", json!(call.execution_hash)),
    ];
    expect
        .iter()
        .find(|(field, want)| &event[*field] != want)
        .map(|(field, want)| {
            format!(
                "call {}: permit {}: the log's {field} is {}, the call's is {want}",
                call.number, returned.permit_id, event[*field]
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protect_returns_a_permit_only_when_the_server_verified_it_for_that_call() {
    let calls = setting("ATLASENT_CHAOS_CALLS", 3000);
    let concurrency = setting("ATLASENT_CHAOS_CONCURRENCY", 16).max(1);
    // The short run is bounded in time; a long one asked for by its size
    // runs to the end unless given a bound too.
    let default_seconds = match std::env::var_os("ATLASENT_CHAOS_CALLS") {
        Some(_) => u64::from(u32::MAX),
        None => 240,
    };
    let budget = Duration::from_secs(setting("ATLASENT_CHAOS_SECONDS", default_seconds));
    let timeout = Duration::from_millis(setting("ATLASENT_CHAOS_TIMEOUT_MS", 300).max(1));
    let seed = setting(
        "ATLASENT_CHAOS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    );
    println!(
        "chaos: seed {seed}, {calls} calls, {concurrency} tasks, client timeout {timeout:?} \
         (reproduce the fault schedule with ATLASENT_CHAOS_SEED={seed})"
    );

    let server = Server::builder()
        .policy(policy())
        .api_key(KEY)
        .audit_key(AUDIT_KEY)
        // The largest the server accepts: the run must never meet a limit
        // (a bit flipped in `Authorization` is a failed authentication).
        .rate_limit_per_minute(*limits::RATE_LIMIT_PER_MINUTE.end())
        .auth_failures_per_minute(*limits::AUTH_FAILURES_PER_MINUTE.end())
        .start()
        .await
        .expect("server");
    let proxy = ChaosProxy::start(
        server.local_addr(),
        ChaosConfig::for_client_timeout(seed, timeout),
    )
    .await
    .expect("proxy");
    let client = atlasent::Client::builder()
        .api_key(KEY)
        .base_url(proxy.url())
        .timeout(timeout)
        .connect_timeout(timeout)
        .max_retries(2)
        .retry_backoff(Duration::from_millis(5))
        .build()
        .expect("client");

    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(1));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, next, tally) = (client.clone(), Arc::clone(&next), Arc::clone(&tally));
            tokio::spawn(async move {
                loop {
                    let number = next.fetch_add(1, Ordering::Relaxed);
                    if number > calls || started.elapsed() > budget {
                        return;
                    }
                    let agent = format!("chaos-agent-{number}");
                    let context = context_of(number, seed);
                    let result = client.protect(&agent, ACTION, &context).await;
                    let mut tally = tally.lock().expect("tally");
                    match result {
                        Ok(permit) => {
                            if number % DENIED_EVERY == 0 {
                                tally.permits_for_denied_calls += 1;
                            }
                            assert_eq!((permit.agent(), permit.action()), (agent.as_str(), ACTION));
                            tally.permits.push(Returned {
                                permit_id: permit.permit_id().to_owned(),
                                audit_hash: permit.audit_hash().to_owned(),
                                call: Call {
                                    number,
                                    execution_hash: execution_hash(&agent, &context),
                                    agent,
                                },
                            });
                        }
                        Err(err) => *tally.errors.entry(error_kind(&err)).or_default() += 1,
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    let wall = started.elapsed();
    // Its pooled connections through the proxy close before the log is read.
    drop(client);

    let log = read_log(&server.base_url()).await;
    let tally = std::mem::take(&mut *tally.lock().expect("tally"));
    let done: u64 = tally.permits.len() as u64 + tally.errors.values().sum::<u64>();
    let false_permits: Vec<String> = tally
        .permits
        .iter()
        .filter_map(|p| falsity(p, &log))
        .collect();
    let altered_audit_hash = tally
        .permits
        .iter()
        .filter(|p| log.allow_hash.get(&p.permit_id) != Some(&p.audit_hash))
        .count();

    println!("chaos: {done} calls in {wall:.1?} (seed {seed})");
    if done < calls {
        println!("  stopped starting calls after {budget:?} (ATLASENT_CHAOS_SECONDS)");
    }
    println!("  permits {}", tally.permits.len());
    println!("  false permits {}", false_permits.len());
    println!(
        "  permits for calls the policy denies {}",
        tally.permits_for_denied_calls
    );
    println!(
        "  permits whose audit_hash differs from the log's (a bit flipped in a reply's string) {altered_audit_hash}"
    );
    println!("  errors by kind:");
    for (kind, n) in &tally.errors {
        println!("    {kind} {n}");
    }
    println!("  proxy: {}", proxy.stats().summary());

    assert!(
        false_permits.is_empty(),
        "seed {seed}: {} false permits, e.g.\n{}",
        false_permits.len(),
        false_permits
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(tally.permits_for_denied_calls, 0, "seed {seed}");
    assert!(done > 0, "seed {seed}: no call finished within {budget:?}");
    assert!(
        !tally.permits.is_empty(),
        "seed {seed}: no call got through; the run proved nothing"
    );
    for fault in Fault::ALL {
        assert!(
            proxy.stats().injected(fault) > 0,
            "seed {seed}: {fault:?} was never injected; the run did not test it"
        );
    }
}
