//! Ask AtlaSent whether an agent may perform an action, from the command line.
//!
//! ```text
//! ATLASENT_API_KEY=ask_live_... cargo run --example authorize -- deploy-bot deploy_to_production '{"commit":"abc123"}'
//! ```
//!
//! Uses the global client, configured from `ATLASENT_API_KEY` and (optionally)
//! `ATLASENT_BASE_URL`. Exits 0 with the permit when the action is authorized
//! end to end, 1 on a denial, 2 on any other failure: fail-closed, like
//! everything in this SDK.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(agent), Some(action)) = (args.next(), args.next()) else {
        eprintln!("usage: authorize AGENT ACTION [CONTEXT_JSON]");
        return ExitCode::from(2);
    };
    let context: serde_json::Value = match args.next() {
        None => serde_json::json!({}),
        Some(text) => match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(err) => {
                eprintln!("CONTEXT_JSON is not valid JSON: {err}");
                return ExitCode::from(2);
            }
        },
    };
    match atlasent::protect(&agent, &action, &context).await {
        Ok(permit) => {
            println!("{permit}");
            println!("audit hash: {}", permit.audit_hash());
            ExitCode::SUCCESS
        }
        Err(atlasent::Error::Denied(denial)) => {
            eprintln!("denied: {denial}");
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("authorization failed (fail-closed): {err}");
            ExitCode::from(2)
        }
    }
}
