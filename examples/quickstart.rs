//! The first ten minutes with AtlaSent: guarded functions that are allowed
//! and denied, permit ids and audit hashes, and an audit export verified
//! offline.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Works offline with no configuration: it starts the embedded local server
//! in-process with the demo policy of `examples/policies/demo.json`. With
//! `ATLASENT_API_KEY` (and optionally `ATLASENT_BASE_URL`) set, the same code
//! talks to that API instead.

#[path = "support/actions.rs"]
mod actions;
#[path = "support/backend.rs"]
mod backend;

use actions::{WireContext, WireTransfer};

use atlasent::audit::ExportFilter;
use atlasent::Permit;
use serde_json::json;

/// Deploy a commit. The body runs only with a verified permit in hand.
#[atlasent::protect(
    action = "deploy",
    agent = "deploy-bot",
    context = json!({ "commit": commit, "environment": environment, "approver": approver })
)]
async fn deploy(
    commit: &str,
    environment: &str,
    approver: Option<&str>,
    permit: Permit,
) -> Result<String, atlasent::Error> {
    Ok(format!(
        "deployed {commit} to {environment} under {} (audit hash {})",
        permit.permit_id(),
        permit.audit_hash()
    ))
}

/// Wire money, guarded by an action type: `WireTransfer` (declared with
/// `#[atlasent::action("wire_transfer", context = WireContext)]`) takes a
/// `WireContext`, so a misspelt key does not compile, and the body receives a
/// `Permit<WireTransfer>`, which nothing else can stand in for.
#[atlasent::protect(
    action = WireTransfer,
    agent = "finance-agent",
    context = WireContext { amount_usd, counterparty_id: to.to_owned(), memo: memo.to_owned() }
)]
async fn wire(
    amount_usd: u64,
    to: &str,
    memo: &str,
    permit: &Permit<WireTransfer>,
) -> Result<String, atlasent::Error> {
    Ok(format!(
        "wired ${amount_usd} to {to} under {} (audit hash {})",
        permit.permit_id(),
        permit.audit_hash()
    ))
}

fn report(what: &str, outcome: Result<String, atlasent::Error>) -> bool {
    match outcome {
        Ok(done) => {
            println!("ALLOWED  {what}\n         {done}");
            true
        }
        Err(atlasent::Error::Denied(denial)) => {
            println!("DENIED   {what}\n         reason: {}", denial.reason());
            if !denial.audit_hash().is_empty() {
                println!(
                    "         evaluation {} (audit hash {})",
                    denial.evaluation_id(),
                    denial.audit_hash()
                );
            }
            false
        }
        Err(other) => {
            println!("FAILED   {what}\n         {other} (fail-closed: nothing ran)");
            false
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    backend::exit_status(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    println!("AtlaSent quickstart: execution-time authorization for AI agents.\n");
    let backend = backend::connect().await?;
    println!("{}\n", backend.description);
    atlasent::configure(backend.client.clone());

    let mut allowed = 0;
    let mut denied = 0;
    let mut tally = |ok: bool| if ok { allowed += 1 } else { denied += 1 };
    tally(report(
        "deploy abc123 to staging",
        deploy("abc123", "staging", None).await,
    ));
    tally(report(
        "deploy def456 to production, no approver",
        deploy("def456", "production", None).await,
    ));
    tally(report(
        "deploy def456 to production, approved by kim",
        deploy("def456", "production", Some("kim")).await,
    ));
    tally(report(
        "wire $2,500 to acme-corp",
        wire(2_500, "acme-corp", "invoice 1042").await,
    ));
    tally(report(
        "wire $50,000 to acme-corp",
        wire(50_000, "acme-corp", "invoice 1043").await,
    ));
    println!("\n{allowed} allowed, {denied} denied.\n");

    // Every decision above is an event of a hash chain. Export it, signed,
    // and check it offline, as an auditor would.
    let bundle = backend
        .client
        .create_audit_export(&ExportFilter::all())
        .await?;
    let path = std::env::temp_dir().join(format!(
        "atlasent-quickstart-export-{}.json",
        std::process::id()
    ));
    bundle.save(&path)?;
    println!(
        "Exported the audit trail ({} events) to {}",
        bundle.event_count(),
        path.display()
    );
    let keys = backend.signing_keys().await?;
    let result = atlasent::audit::AuditBundle::load(&path)?.verify(&keys)?;
    if result.verified() {
        println!(
            "audit export verified: {} events, hash chain intact, signature valid (key {})",
            bundle.event_count(),
            result.matched_key_id.as_deref().unwrap_or("?")
        );
    } else {
        println!(
            "audit export NOT verified: {}",
            result.reason.as_deref().unwrap_or("unknown")
        );
        std::process::exit(1);
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}
