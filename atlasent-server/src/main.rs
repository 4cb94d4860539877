//! `atlasent-server`: serve decisions, lint policies.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use atlasent_server::{Policy, Server, Storage};
use clap::{Parser, Subcommand};

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
    /// deny rule on the same action relies on.
    Lint {
        /// Policy files or folders of .json policies.
        #[arg(required = true)]
        policies: Vec<PathBuf>,
    },
    /// Audit-log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
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
    /// A policy file or a folder of .json policies (repeatable).
    #[arg(long = "policy")]
    policies: Vec<PathBuf>,
    /// An accepted API key (repeatable; at least one).
    #[arg(long = "api-key", required = true)]
    api_keys: Vec<String>,
    /// An auditor's key: may list and export the audit log, nothing else
    /// (repeatable).
    #[arg(long = "audit-key")]
    audit_keys: Vec<String>,
    /// SQLite database file, or `:memory:` for none.
    #[arg(long, default_value = "./atlasent.db")]
    db: String,
    /// Ed25519 private key (PKCS#8 PEM), created if absent.
    #[arg(long, default_value = "./atlasent-signing-key.pem")]
    signing_key: PathBuf,
    /// How long a permit stays verifiable, e.g. 30s, 15m, 1h, 2d.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    permit_ttl: Duration,
    /// Requests per minute per API key before 429.
    #[arg(long, default_value_t = 600)]
    rate_limit_per_minute: u32,
    /// Organization id reported in events and exports.
    #[arg(long, default_value = "local")]
    org_id: String,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s, 15m, 1h or 2d"))?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {s:?}; use ms, s, m, h or d"
            ))
        }
    };
    Ok(Duration::from_secs(secs))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Lint { policies } => lint(&policies),
        Command::Serve(args) => serve(args),
        Command::Audit(AuditCommand::Verify { bundle, keys }) => audit_verify(&bundle, &keys),
    }
}

fn audit_verify(bundle: &std::path::Path, key_files: &[PathBuf]) -> ExitCode {
    use atlasent::audit::{verify_audit_bundle_file, VerifyingKey};
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
    let result = match verify_audit_bundle_file(bundle, &keys) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mark = |ok: bool| if ok { "ok  " } else { "FAIL" };
    println!(
        "{} every event's hash recomputes from its payload",
        mark(result.tampered_event_ids.is_empty())
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
    if !result.tampered_event_ids.is_empty() {
        println!("tampered events: {}", result.tampered_event_ids.join(", "));
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

fn lint(paths: &[PathBuf]) -> ExitCode {
    let mut failed = false;
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
    runtime.block_on(async move {
        let storage = if args.db == ":memory:" {
            Storage::Memory
        } else {
            Storage::File(PathBuf::from(&args.db))
        };
        let mut builder = Server::builder()
            .listen(args.listen)
            .storage(storage)
            .signing_key_file(&args.signing_key)
            .permit_ttl(args.permit_ttl)
            .rate_limit_per_minute(args.rate_limit_per_minute)
            .org_id(args.org_id);
        for p in &args.policies {
            builder = builder.policy_file(p);
        }
        for k in args.api_keys {
            builder = builder.api_key(k);
        }
        for k in args.audit_keys {
            builder = builder.audit_key(k);
        }
        let server = match builder.start().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
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
