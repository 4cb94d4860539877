//! `atlasent-server`: serve decisions, lint policies, verify audit exports.
//! Built with the `cli` feature (on by default).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use atlasent_server::store::PostgresUrl;
use atlasent_server::{Policy, Server, Storage};
use clap::{Parser, Subcommand};

mod bench;

/// A local, AtlaSent-compatible decision server.
#[derive(Parser)]
#[command(name = "atlasent-server", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the AtlaSent v1 API.
    Serve(ServeArgs),
    /// Validate policy files and explain each problem with its JSON path;
    /// warn (exit status unchanged) about an allow rule that lacks a bound a
    /// deny rule on the same action relies on. With --actions, also check
    /// that the policies can allow every action of a manifest and that each
    /// typed context has the keys the allow rules need (exit 1 if not).
    Lint {
        /// Policy files or folders of .json policies.
        #[arg(required = true)]
        policies: Vec<PathBuf>,
        /// An action manifest (JSON, as
        /// `atlasent_server::testing::write_action_manifest` writes it):
        /// report each action no allow rule can ever allow and each typed
        /// context that lacks a key an allow rule needs.
        #[arg(long = "actions", value_name = "FILE")]
        actions: Option<PathBuf>,
    },
    /// Audit-log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Load-test a server: N concurrent `protect()` loops (evaluate + verify)
    /// for a duration; prints a progress line each second on stderr, then
    /// protect()/s, decisions/s, p50/p99/p99.9/max latency, denials and
    /// errors by code, and a `csv:` line. Exit 0 when a call got a decision,
    /// 1 when every call failed, 2 when the server cannot be reached or
    /// refuses the key at start.
    Bench(bench::BenchArgs),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify an export bundle offline: hash chain, genesis, head, count and
    /// signature. Exits non-zero, saying what failed, unless all hold.
    Verify {
        /// The bundle (a JSON file as exported).
        bundle: PathBuf,
        /// A trusted public key: SPKI PEM file, or a file of 64 hex digits
        /// (repeatable; the bundle's signing_key_id is tried first).
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: String,
    /// A policy file or a folder of .json policies (repeatable; required:
    /// with no policy every request is denied).
    #[arg(long = "policy")]
    policies: Vec<PathBuf>,
    /// Serve with no policy, denying every request (for example to let
    /// auditors export an existing log); warns on start.
    #[arg(long)]
    allow_no_policy: bool,
    /// An accepted API key of the --org-id organization, all scopes
    /// (repeatable; for local use: `ps` shows argv to every local user —
    /// prefer --keys-file or ATLASENT_SERVER_API_KEYS).
    #[arg(
        long = "api-key",
        env = "ATLASENT_SERVER_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    api_keys: Vec<String>,
    /// A keys file (TOML or JSON): each key (or its sha256) with its
    /// organization and scopes.
    #[arg(long = "keys-file", env = "ATLASENT_SERVER_KEYS_FILE")]
    keys_file: Option<PathBuf>,
    /// An auditor's key: may list and export the audit log, nothing else
    /// (repeatable).
    #[arg(long = "audit-key")]
    audit_keys: Vec<String>,
    /// SQLite database file (created mode 0600), `:memory:` for none, or a
    /// PostgreSQL URL `postgres://USER[:PASSWORD]@HOST:PORT/DATABASE` (the
    /// `postgres` feature; the password may come from PGPASSWORD): several
    /// servers given the same URL, signing key and keys act as one.
    #[arg(long, default_value = "./atlasent.db")]
    db: String,
    /// Ed25519 private key (PKCS#8 PEM), created mode 0600 if absent.
    #[arg(long, default_value = "./atlasent-signing-key.pem")]
    signing_key: PathBuf,
    /// Use a signing-key or keys file that group or others can read.
    #[arg(long)]
    allow_insecure_key_file: bool,
    /// How long a permit stays verifiable, e.g. 30s, 15m, 1h, 2d (1ms to 30d).
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    permit_ttl: Duration,
    /// Requests per minute per API key before 429 (1 to 1000000), counted by
    /// this server alone: with several nodes on one PostgreSQL database, give
    /// each its share.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rate_limit_per_minute: u32,
    /// Failed authentications per minute per client address before 429
    /// (1 to 1000000).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    auth_failures_per_minute: u32,
    /// The largest request body in bytes (1024 to 16777216).
    #[arg(long, default_value_t = 65_536, value_parser = parse_body_bytes)]
    max_body_bytes: usize,
    /// The most events in one export (1 to 10000000).
    #[arg(long, default_value_t = 100_000, value_parser = parse_export_events)]
    max_export_events: usize,
    /// Organization of the --api-key and --audit-key keys.
    #[arg(long, default_value = "local")]
    org_id: String,
}

fn in_range<T: PartialOrd + std::fmt::Display>(
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, String> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{value} is out of range: allowed {} to {}",
            range.start(),
            range.end()
        ))
    }
}

fn parse_body_bytes(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number of bytes"))?;
    in_range(n, atlasent_server::limits::MAX_BODY_BYTES)
}

fn parse_export_events(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number"))?;
    in_range(n, atlasent_server::limits::MAX_EXPORT_EVENTS)
}

/// A duration like 30s, 15m, 1h or 2d (humantime's syntax: also `1h 30m`,
/// `90min`, `2days`; a bare number is seconds), within 1ms to 30d. Overflow
/// is an error like any value out of range, never a wrapped number.
fn parse_ttl(s: &str) -> Result<Duration, String> {
    use humantime::DurationError;
    let out_of_range = || format!("{s:?} is out of range: allowed 1ms to 30d");
    let ttl = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(s.parse().map_err(|_| out_of_range())?)
    } else {
        humantime::parse_duration(s).map_err(|e| match e {
            DurationError::NumberOverflow => out_of_range(),
            DurationError::UnknownUnit { unit, .. } => {
                format!("unknown unit {unit:?} in {s:?}; use ms, s, m, h or d")
            }
            _ => format!("{s:?} is not a duration like 30s, 15m, 1h or 2d"),
        })?
    };
    if atlasent_server::limits::PERMIT_TTL.contains(&ttl) {
        Ok(ttl)
    } else {
        Err(out_of_range())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Lint { policies, actions } => lint(&policies, actions.as_deref()),
        Command::Serve(args) => serve(args),
        Command::Bench(args) => bench::run(args),
        Command::Audit(AuditCommand::Verify { bundle, keys }) => audit_verify(&bundle, &keys),
    }
}

fn audit_verify(bundle: &std::path::Path, key_files: &[PathBuf]) -> ExitCode {
    use atlasent::audit::{verify_audit_bundle_file, BundleError, VerifyingKey};
    let mut keys = Vec::new();
    for path in key_files {
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| VerifyingKey::parse(&text).map_err(|e| e.to_string()));
        match parsed {
            Ok(key) => keys.push(key),
            Err(e) => {
                eprintln!("error: key {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    // Streamed from the file in bounded memory (a 64 KiB buffer, one event
    // at a time): the file is never held.
    let result = match verify_audit_bundle_file(bundle, &keys) {
        Ok(r) => r,
        Err(e @ (BundleError::DuplicateMember(_) | BundleError::TooLarge { .. })) => {
            // Not a usage error: the file is a bundle with two readings, or
            // one the verifier refuses to hold.
            println!("NOT VERIFIED: {e}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mark = |ok: bool| if ok { "ok  " } else { "FAIL" };
    println!(
        "{} every event's hash recomputes from its payload",
        mark(result.tampered_event_count == 0)
    );
    println!(
        "{} every event links to the one before",
        mark(result.links_ok)
    );
    println!(
        "{} starts at the genesis hash",
        mark(result.starts_at_genesis)
    );
    println!(
        "{} chain_head_hash matches the last event",
        mark(result.head_hash_matches)
    );
    println!(
        "{} event_count matches the events",
        mark(result.event_count_matches)
    );
    println!(
        "{} signature{}",
        mark(result.signature_valid),
        result
            .matched_key_id
            .as_deref()
            .map(|k| format!(" (key {k})"))
            .unwrap_or_default()
    );
    println!(
        "{} readers see what was signed (members and numbers)",
        mark(result.well_formed)
    );
    if result.tampered_event_count > 0 {
        let more = result.tampered_event_count - result.tampered_event_ids.len();
        println!(
            "tampered events ({}): {}{}",
            result.tampered_event_count,
            result.tampered_event_ids.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    if result.verified() {
        println!("verified");
        ExitCode::SUCCESS
    } else {
        println!(
            "NOT VERIFIED: {}",
            result.reason.as_deref().unwrap_or("a check failed")
        );
        ExitCode::FAILURE
    }
}

fn lint(paths: &[PathBuf], actions: Option<&Path>) -> ExitCode {
    let mut failed = false;
    // Read first: a bad manifest is a usage error whatever the policies say.
    let manifest = match actions.map(read_manifest).transpose() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut loaded = Vec::new();
    for path in paths {
        match Policy::load(path) {
            Ok(policies) => {
                for p in policies {
                    println!("ok: {} {} ({})", p.id(), p.version(), path.display());
                    loaded.push(p);
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("error: {e}");
            }
        }
    }
    // Warnings look across every policy given, combined as `serve` would
    // combine them (a deny in one file bounds an allow in another).
    match atlasent_server::PolicySet::new(loaded) {
        Ok(set) => {
            for w in set.warnings() {
                eprintln!("warning: {w}");
            }
            if let (Some(manifest), Some(file)) = (&manifest, actions) {
                failed |= lint_coverage(&set, manifest, file, failed);
            }
        }
        Err(e) => {
            failed = true;
            eprintln!("error: {e}; `serve` refuses this set of policies");
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Read an action manifest, naming the file in any error.
fn read_manifest(path: &Path) -> Result<atlasent::actions::ActionManifest, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("action manifest {}: {e}", path.display()))?;
    atlasent::actions::ActionManifest::from_json(&text)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Print each coverage problem of `manifest` (from `file`) as an error;
/// whether there was one. Not checked when a policy failed to load: the
/// answers would be about the wrong set.
fn lint_coverage(
    set: &atlasent_server::PolicySet,
    manifest: &atlasent::actions::ActionManifest,
    file: &Path,
    policy_failed: bool,
) -> bool {
    let file = file.display();
    if policy_failed {
        eprintln!("error: actions of {file} not checked: a policy above did not load");
        return true;
    }
    if manifest.actions.is_empty() {
        eprintln!(
            "error: {file} lists no actions: nothing to check (was it written by a program \
             that declares #[atlasent::action] types or #[atlasent::protect] actions?)"
        );
        return true;
    }
    let problems = set.coverage(manifest);
    for p in &problems {
        eprintln!("error: {p}");
    }
    if problems.is_empty() {
        let n = manifest.actions.len();
        println!(
            "ok: the policies cover the {n} action{} of {file}",
            if n == 1 { "" } else { "s" }
        );
    }
    !problems.is_empty()
}

fn serve(args: ServeArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ATLASENT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Loaded before anything is written, so that a refusal leaves no
    // database or signing key behind.
    let mut policies = Vec::new();
    for path in &args.policies {
        match Policy::load(path) {
            Ok(loaded) => {
                for p in &loaded {
                    eprintln!(
                        "policy: {} {} ({})",
                        p.id(),
                        p.version(),
                        absolute(path).display()
                    );
                }
                policies.extend(loaded);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if policies.is_empty() {
        if !args.allow_no_policy {
            eprintln!("error: {}", no_policy(&args.policies));
            return ExitCode::from(2);
        }
        eprintln!(
            "warning: --allow-no-policy: no policy is loaded, so every request is denied \
             (NO_TEMPLATE_MATCH)"
        );
    }
    runtime.block_on(async move {
        let storage = if args.db == ":memory:" {
            Storage::Memory
        } else if PostgresUrl::is_postgres(&args.db) {
            match PostgresUrl::parse(&args.db) {
                Ok(url) => Storage::Postgres(url),
                Err(e) => {
                    eprintln!("error: --db: {e}");
                    return ExitCode::from(2);
                }
            }
        } else {
            Storage::File(PathBuf::from(&args.db))
        };
        let shown_db = match &storage {
            Storage::Postgres(url) => format!("{url} (PostgreSQL)"),
            Storage::Memory => "none, in memory: permits and the audit log are lost when the \
                 server stops (--db FILE keeps them)"
                .to_owned(),
            Storage::File(path) => format!(
                "{} (SQLite, with its -wal and -shm files)",
                absolute(path).display()
            ),
        };
        let mut builder = Server::builder()
            .listen(args.listen)
            .storage(storage)
            .signing_key_file(&args.signing_key)
            .allow_insecure_key_file(args.allow_insecure_key_file)
            .permit_ttl(args.permit_ttl)
            .rate_limit_per_minute(args.rate_limit_per_minute)
            .auth_failures_per_minute(args.auth_failures_per_minute)
            .max_body_bytes(args.max_body_bytes)
            .max_export_events(args.max_export_events)
            .org_id(args.org_id);
        for p in policies {
            builder = builder.policy(p);
        }
        for k in args.api_keys {
            builder = builder.api_key(k);
        }
        for k in args.audit_keys {
            builder = builder.audit_key(k);
        }
        if let Some(path) = &args.keys_file {
            builder = builder.keys_file(path);
        }
        let server = match builder.start().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        eprintln!("database: {shown_db}");
        eprintln!(
            "signing key: {} (key id {})",
            absolute(&args.signing_key).display(),
            server.signing_key_id()
        );
        println!("listening on {}", server.base_url());
        shutdown_signal().await;
        match server.shutdown().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error during shutdown: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Why `serve` refuses to start with no policy, and the ways out.
fn no_policy(paths: &[PathBuf]) -> String {
    let what = if paths.is_empty() {
        "no --policy given".to_owned()
    } else {
        let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        format!(
            "--policy {} holds no policy (a folder is read for *.json files)",
            paths.join(", ")
        )
    };
    format!(
        "{what}: with no policy every request is denied. Give --policy FILE or --policy \
         FOLDER (repeatable; check them with `atlasent-server lint`), or --allow-no-policy \
         to serve a deny-all server on purpose"
    )
}

/// `path` from the filesystem root, for saying where the server writes (the
/// defaults are relative to the working directory).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
