//! `atlasent-server bench`: a load generator of N concurrent
//! `atlasent::Client::protect()` loops against a server URL for a duration.
//!
//! What it measures: each loop calls `protect()` (evaluate, then verify the
//! permit) again as soon as the previous call returned. A call counts when it
//! *completes* inside the measured window (after `--warmup`); throughput is
//! those calls over the window's length. Latency is the time of one
//! `protect()` call that got a decision (allowed, denied or held), kept in a
//! log-linear histogram of 128 linear buckets per power of two (< 0.8 %
//! relative error). Errors (the SDK's error codes) have no latency.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use atlasent::{Client, DenialStage, Error, ErrorCode, Wire};

/// Arguments of `atlasent-server bench`.
#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8787 (plain http:// only
    /// to a loopback host).
    #[arg(long, env = "ATLASENT_BASE_URL")]
    url: String,
    /// The API key (comma-separated or repeated for several: the loops are
    /// spread over them, one client per key, which also spreads the server's
    /// per-key rate limit).
    #[arg(
        long = "api-key",
        env = "ATLASENT_API_KEY",
        value_delimiter = ',',
        hide_env_values = true,
        required = true
    )]
    api_keys: Vec<String>,
    /// Concurrent protect() loops (1 to 100000).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    concurrency: u32,
    /// How long to measure, e.g. 10s, 500ms, 1m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Run the loops this long before measuring (not counted), e.g. 2s.
    #[arg(long, default_value = "0s", value_parser = parse_duration_or_zero)]
    warmup: Duration,
    /// The agent of every call.
    #[arg(long, default_value = "bench-agent")]
    agent: String,
    /// The action of every call (the default is allowed by
    /// examples/policies/demo.json with the default context).
    #[arg(long, default_value = "deploy")]
    action: String,
    /// The context of every call: a JSON object.
    #[arg(long, default_value = r#"{"environment":"staging"}"#)]
    context: String,
    /// The wire to speak: current or legacy.
    #[arg(long, default_value = "current", value_parser = parse_wire)]
    wire: Wire,
    /// Threads of the generator's runtime: 1 is a current-thread runtime
    /// (the generator shares the machine with the server; keep it cheap).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: u16,
    /// The SDK's timeout of one request. The SDK does not retry here: each
    /// failure is counted once.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// No progress line on stderr.
    #[arg(long)]
    quiet: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration_or_zero(s)?;
    if d.is_zero() {
        return Err(format!("{s:?} is zero; give a positive duration"));
    }
    Ok(d)
}

fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| format!("{s:?} is too large"));
    }
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration like 10s, 500ms or 1m: {e}"))?;
    if d > Duration::from_secs(7 * 24 * 3600) {
        return Err(format!("{s:?} is out of range: at most 7d"));
    }
    Ok(d)
}

fn parse_wire(s: &str) -> Result<Wire, String> {
    match s {
        "current" => Ok(Wire::Current),
        "legacy" => Ok(Wire::Legacy),
        _ => Err(format!("{s:?}: use current or legacy")),
    }
}

// ------------------------------------------------------------- histogram

/// Linear buckets per power of two: 2^7 = 128, a bucket's width is < 0.8 %
/// of its values.
const MANTISSA_BITS: u32 = 7;
const SUB: u64 = 1 << MANTISSA_BITS;
/// Microseconds up to 2^40 (about 12.7 days) are told apart; longer ones
/// land in the last bucket.
const MAX_BITS: u32 = 40;
const BUCKETS: usize = ((MAX_BITS - MANTISSA_BITS + 1) as usize) * SUB as usize;

/// A log-linear histogram of microseconds (HDR-style): exact below 256 µs,
/// then 128 linear buckets per power of two. Fixed size, lock-free,
/// nothing allocated per sample.
struct Histogram {
    counts: Box<[AtomicU64]>,
}

impl Histogram {
    fn new() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn index(us: u64) -> usize {
        if us < 2 * SUB {
            return us as usize;
        }
        let msb = 63 - us.leading_zeros();
        if msb >= MAX_BITS {
            return BUCKETS - 1;
        }
        let shift = msb - MANTISSA_BITS;
        ((u64::from(shift) + 1) * SUB + ((us >> shift) - SUB)) as usize
    }

    /// The largest value bucket `i` holds.
    fn high(i: usize) -> u64 {
        let i = i as u64;
        if i < 2 * SUB {
            return i;
        }
        let shift = i / SUB - 1;
        let low = (SUB + i % SUB) << shift;
        low + (1 << shift) - 1
    }

    fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.counts[Self::index(us)].fetch_add(1, Relaxed);
    }

    fn snapshot(&self) -> Vec<u64> {
        self.counts.iter().map(|c| c.load(Relaxed)).collect()
    }
}

/// Quantiles of a histogram snapshot, in microseconds (a bucket's upper
/// bound: never under the true value by more than the bucket's width).
fn quantile(counts: &[u64], q: f64) -> u64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0;
    }
    // The rank of the q-quantile, 1-based, at least 1.
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for (i, &c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return Histogram::high(i);
        }
    }
    0
}

// ------------------------------------------------------------- counting

/// How one call ended.
#[derive(Clone, Copy)]
enum Outcome {
    Allowed,
    DeniedByPolicy,
    DeniedAtVerification,
    Held,
    Failed(usize),
}

/// Error kinds counted: the SDK's codes, then what is not a request error.
const ERROR_KINDS: usize = ErrorCode::ALL.len() + 1;

fn kind_name(i: usize) -> &'static str {
    ErrorCode::ALL.get(i).map_or("other", |c| c.as_str())
}

fn classify(result: &Result<atlasent::Permit, Error>) -> Outcome {
    match result {
        Ok(_) => Outcome::Allowed,
        Err(Error::Denied(d)) if d.stage() == DenialStage::Policy => Outcome::DeniedByPolicy,
        Err(Error::Denied(_)) => Outcome::DeniedAtVerification,
        Err(Error::Held(_)) => Outcome::Held,
        Err(e) => Outcome::Failed(
            e.code()
                .and_then(|c| ErrorCode::ALL.iter().position(|&k| k == c))
                .unwrap_or(ErrorCode::ALL.len()),
        ),
    }
}

/// Phases of a run.
const WARMUP: u8 = 0;
const MEASURING: u8 = 1;
const DONE: u8 = 2;

/// What every loop adds to (atomics: the runtime may have several threads).
struct Tally {
    phase: AtomicU8,
    allowed: AtomicU64,
    denied_policy: AtomicU64,
    denied_verification: AtomicU64,
    held: AtomicU64,
    errors: [AtomicU64; ERROR_KINDS],
    /// The first message of each error kind, and of the first denial.
    first_error: Mutex<[Option<String>; ERROR_KINDS]>,
    first_denial: Mutex<Option<String>>,
    latency: Histogram,
}

impl Tally {
    fn new() -> Self {
        Self {
            phase: AtomicU8::new(WARMUP),
            allowed: AtomicU64::new(0),
            denied_policy: AtomicU64::new(0),
            denied_verification: AtomicU64::new(0),
            held: AtomicU64::new(0),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
            first_error: Mutex::new(std::array::from_fn(|_| None)),
            first_denial: Mutex::new(None),
            latency: Histogram::new(),
        }
    }

    fn count(&self, result: &Result<atlasent::Permit, Error>, took: Duration) {
        if self.phase.load(Relaxed) != MEASURING {
            return;
        }
        let outcome = classify(result);
        let counter = match outcome {
            Outcome::Allowed => &self.allowed,
            Outcome::DeniedByPolicy => &self.denied_policy,
            Outcome::DeniedAtVerification => &self.denied_verification,
            Outcome::Held => &self.held,
            Outcome::Failed(kind) => &self.errors[kind],
        };
        let before = counter.fetch_add(1, Relaxed);
        match (outcome, result) {
            (Outcome::Failed(kind), Err(e)) => {
                if before == 0 {
                    let mut first = self
                        .first_error
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    first[kind].get_or_insert_with(|| e.to_string());
                }
                return;
            }
            (Outcome::DeniedByPolicy | Outcome::DeniedAtVerification, Err(e)) if before == 0 => {
                let mut first = self
                    .first_denial
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                first.get_or_insert_with(|| e.to_string());
            }
            _ => {}
        }
        self.latency.record(took);
    }

    fn errors(&self) -> u64 {
        self.errors.iter().map(|e| e.load(Relaxed)).sum()
    }

    fn decided(&self) -> u64 {
        self.allowed.load(Relaxed)
            + self.denied_policy.load(Relaxed)
            + self.denied_verification.load(Relaxed)
            + self.held.load(Relaxed)
    }

    fn calls(&self) -> u64 {
        self.decided() + self.errors()
    }
}

// ------------------------------------------------------------- the run

/// The fields of the final `csv:` line, in order (also printed as the
/// `csv-header:` line before it).
pub(crate) const CSV_HEADER: &str = "concurrency,threads,wire,duration_s,calls,protect_per_s,\
decisions_per_s,p50_ms,p99_ms,p999_ms,max_ms,allowed,denied,held,errors,generator_cpu_pct";

/// Run `bench`: 0 when at least one call got a decision (allowed, denied
/// or held), 1 when every call failed, 2 on a usage error or a server that
/// cannot be reached or refuses the key at start.
pub(crate) fn run(args: BenchArgs) -> ExitCode {
    let context: serde_json::Value = match serde_json::from_str(&args.context) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        Ok(_) => {
            eprintln!(
                "error: --context must be a JSON object, e.g. '{{\"environment\":\"staging\"}}'"
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: --context is not JSON: {e}");
            return ExitCode::from(2);
        }
    };
    let mut clients = Vec::new();
    for key in &args.api_keys {
        let built = Client::builder()
            .api_key(key.clone())
            .base_url(args.url.clone())
            .wire(args.wire)
            .timeout(args.timeout)
            .max_retries(0)
            .user_agent_suffix("atlasent-server-bench")
            .build();
        match built {
            Ok(c) => clients.push(c),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads.into())
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(drive(args, clients, context))
}

async fn drive(args: BenchArgs, clients: Vec<Client>, context: serde_json::Value) -> ExitCode {
    // One call per client first: a server that is not there, or that
    // refuses the key, would make every call fail.
    for (i, client) in clients.iter().enumerate() {
        let key = if clients.len() > 1 {
            format!(" (key {} of {})", i + 1, clients.len())
        } else {
            String::new()
        };
        match client.protect(&args.agent, &args.action, &context).await {
            Err(e @ Error::Request(_))
                if matches!(e.code(), Some(ErrorCode::Network | ErrorCode::Timeout)) =>
            {
                eprintln!("error: cannot reach the server at {}{key}: {e}", args.url);
                return ExitCode::from(2);
            }
            Err(e @ Error::Request(_))
                if matches!(
                    e.code(),
                    Some(ErrorCode::InvalidApiKey | ErrorCode::Forbidden)
                ) =>
            {
                eprintln!(
                    "error: the server at {} refuses the API key{key}: {e}",
                    args.url
                );
                return ExitCode::from(2);
            }
            Err(e @ (Error::Config { .. } | Error::InvalidArgument { .. })) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            _ => {}
        }
    }

    let tally = Arc::new(Tally::new());
    let context = Arc::new(context);
    let agent: Arc<str> = Arc::from(args.agent.as_str());
    let action: Arc<str> = Arc::from(args.action.as_str());
    let mut loops = tokio::task::JoinSet::new();
    for i in 0..args.concurrency as usize {
        let client = clients[i % clients.len()].clone();
        let (tally, context, agent, action) = (
            tally.clone(),
            context.clone(),
            agent.clone(),
            action.clone(),
        );
        loops.spawn(async move {
            while tally.phase.load(Relaxed) != DONE {
                let started = Instant::now();
                let result = client.protect(&agent, &action, &*context).await;
                tally.count(&result, started.elapsed());
            }
        });
    }

    let quiet = args.quiet;
    if !args.warmup.is_zero() {
        if !quiet {
            eprintln!("warmup: {:.1} s", args.warmup.as_secs_f64());
        }
        tokio::time::sleep(args.warmup).await;
    }
    tally.phase.store(MEASURING, Relaxed);
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let end = start + args.duration;
    let mut last_calls = 0;
    let mut last_at = start;
    let elapsed = loop {
        let next = (last_at + Duration::from_secs(1)).min(end);
        tokio::time::sleep_until(tokio::time::Instant::from_std(next)).await;
        let at = Instant::now();
        let last = at >= end;
        if last {
            tally.phase.store(DONE, Relaxed);
        }
        if !quiet {
            let calls = tally.calls();
            let rate = (calls - last_calls) as f64 / (at - last_at).as_secs_f64();
            eprintln!(
                "[{:>6.1} s] calls {calls}  {rate:.0}/s  denied {}  errors {}",
                (at - start).as_secs_f64(),
                tally.denied_policy.load(Relaxed) + tally.denied_verification.load(Relaxed),
                tally.errors(),
            );
            last_calls = calls;
        }
        last_at = at;
        if last {
            break at - start;
        }
    };
    // The generator's own CPU over the window, in % of one core.
    let cpu = cpu_start
        .zip(cpu_seconds())
        .map(|(a, b)| (b - a) / elapsed.as_secs_f64() * 100.0);
    // Calls in flight finish uncounted; wait for them a little, then stop.
    let drain = tokio::time::timeout(args.timeout + Duration::from_secs(1), async {
        while loops.join_next().await.is_some() {}
    });
    if drain.await.is_err() {
        loops.abort_all();
    }
    report(&args, &tally, elapsed, cpu)
}

/// CPU time (user + system) of this process so far, in seconds, from
/// `/proc/self/stat` (Linux; clock ticks of 1/100 s, Linux's USER_HZ);
/// `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // After the command name (which may hold spaces) in parentheses: state
    // is field 3, utime 14 and stime 15.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

fn report(args: &BenchArgs, tally: &Tally, elapsed: Duration, cpu: Option<f64>) -> ExitCode {
    let secs = elapsed.as_secs_f64();
    let allowed = tally.allowed.load(Relaxed);
    let denied_policy = tally.denied_policy.load(Relaxed);
    let denied_verification = tally.denied_verification.load(Relaxed);
    let held = tally.held.load(Relaxed);
    let errors = tally.errors();
    let calls = tally.calls();
    // Requests answered: a policy denial or a hold ends after evaluate.
    let decisions = 2 * (allowed + denied_verification) + denied_policy + held;
    let counts = tally.latency.snapshot();
    let ms = |us: u64| us as f64 / 1000.0;
    let (p50, p99, p999) = (
        ms(quantile(&counts, 0.50)),
        ms(quantile(&counts, 0.99)),
        ms(quantile(&counts, 0.999)),
    );
    let max = ms(counts
        .iter()
        .rposition(|&c| c > 0)
        .map_or(0, Histogram::high));

    let mut out = String::new();
    let _ = writeln!(
        out,
        "bench: {} protect() loops against {} for {:.2} s (warmup {:.1} s), wire {}, {} thread{}, {} key{}",
        args.concurrency,
        args.url,
        secs,
        args.warmup.as_secs_f64(),
        args.wire,
        args.threads,
        if args.threads == 1 { "" } else { "s" },
        args.api_keys.len(),
        if args.api_keys.len() == 1 { "" } else { "s" },
    );
    let _ = writeln!(
        out,
        "request: agent {:?}, action {:?}, context {}",
        args.agent, args.action, args.context
    );
    let _ = writeln!(out, "protect() calls:   {calls}");
    let _ = writeln!(out, "protect()/s:       {:.1}", calls as f64 / secs);
    let _ = writeln!(
        out,
        "decisions/s:       {:.1} (requests answered: evaluate + verify per allowed call)",
        decisions as f64 / secs
    );
    let _ = writeln!(
        out,
        "latency (ms):      p50 {p50:.3}  p99 {p99:.3}  p99.9 {p999:.3}  max {max:.3} \
         (calls with a decision)"
    );
    let _ = writeln!(out, "allowed:           {allowed}");
    let _ = writeln!(
        out,
        "denied:            {} (policy {denied_policy}, verification {denied_verification})",
        denied_policy + denied_verification
    );
    let _ = writeln!(out, "held:              {held}");
    let _ = writeln!(out, "errors:            {errors}");
    {
        let first = tally
            .first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (i, n) in tally.errors.iter().enumerate() {
            let n = n.load(Relaxed);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "  {}: {n} (first: {})",
                    kind_name(i),
                    first[i].as_deref().unwrap_or("?")
                );
            }
        }
    }
    let cpu_text = match cpu {
        Some(c) if calls > 0 => format!(
            "{c:.0}% of one core, {:.0} µs per call (user + system, this process)",
            c / 100.0 * secs / calls as f64 * 1e6
        ),
        Some(c) => format!("{c:.0}% of one core (user + system, this process)"),
        None => "n/a".to_owned(),
    };
    let _ = writeln!(out, "generator CPU:     {cpu_text}");
    let _ = writeln!(out, "csv-header: {CSV_HEADER}");
    let _ = writeln!(
        out,
        "csv: {},{},{},{secs:.3},{calls},{:.1},{:.1},{p50:.3},{p99:.3},{p999:.3},{max:.3},{allowed},{},{held},{errors},{}",
        args.concurrency,
        args.threads,
        args.wire,
        calls as f64 / secs,
        decisions as f64 / secs,
        denied_policy + denied_verification,
        cpu.map_or_else(String::new, |c| format!("{c:.0}")),
    );
    print!("{out}");

    if tally.errors[ErrorCode::ALL
        .iter()
        .position(|&c| c == ErrorCode::RateLimited)
        .unwrap_or(0)]
    .load(Relaxed)
        > 0
    {
        eprintln!(
            "warning: the server's rate limit refused calls: start it with a higher \
             --rate-limit-per-minute (at most 1000000 per key) or give bench several keys"
        );
    }
    if tally.decided() == 0 {
        eprintln!("error: no call got a decision ({calls} calls, {errors} errors)");
        return ExitCode::FAILURE;
    }
    if allowed == 0 && held == 0 {
        let first = tally
            .first_denial
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        eprintln!(
            "warning: every call was denied ({}): check --agent, --action and --context \
             against the server's policy",
            first.as_deref().unwrap_or("?")
        );
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_within_one_percent() {
        let mut last = 0;
        for us in (0..5_000_000u64).step_by(7).chain([u64::MAX / 2, u64::MAX]) {
            let i = Histogram::index(us);
            assert!(i >= last, "{us}");
            assert!(i < BUCKETS);
            last = i;
            if us < 1 << MAX_BITS {
                let high = Histogram::high(i);
                assert!(high >= us, "{us} above its bucket's bound {high}");
                assert!(
                    (high - us) as f64 <= us as f64 * 0.008 + 1.0,
                    "{us}: {high}"
                );
            }
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let h = Histogram::new();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us * 10));
        }
        let counts = h.snapshot();
        let p50 = quantile(&counts, 0.5);
        assert!((5000..=5040).contains(&p50), "{p50}");
        let p999 = quantile(&counts, 0.999);
        assert!((9990..=10070).contains(&p999), "{p999}");
        assert_eq!(quantile(&[0; 4], 0.5), 0);
    }
}
