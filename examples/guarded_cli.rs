//! A command-line tool whose dangerous subcommand is guarded, with the
//! blocking client (no async anywhere in the tool's own code).
//!
//! ```text
//! cargo run --example guarded_cli -- list-tables
//! cargo run --example guarded_cli -- drop-table sessions --ticket OPS-1234   # allowed
//! cargo run --example guarded_cli -- drop-table users --ticket OPS-1234      # denied
//! ```
//!
//! Exit status: 0 done, 1 refused by policy, 2 authorization unavailable or
//! bad usage. Offline it uses the embedded local server (see the quickstart).

#[path = "support/backend.rs"]
mod backend;
#[path = "support/tables.rs"]
mod tables;

use std::process::ExitCode;

use tables::{drop_table, list_tables};

fn usage() -> ExitCode {
    eprintln!("usage: guarded_cli list-tables | drop-table TABLE [--ticket OPS-NNN]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The embedded server (when no ATLASENT_API_KEY is set) runs on its own
    // runtime threads; the tool itself only uses the blocking client.
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the embedded server");
    let backend = match runtime.block_on(backend::connect()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot reach AtlaSent: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!("{}", backend.description);
    atlasent::configure(backend.client.clone());

    let outcome = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["list-tables"] => list_tables().map(|t| t.join("\n")),
        ["drop-table", table] => drop_table(table, None),
        ["drop-table", table, "--ticket", ticket] => drop_table(table, Some(ticket)),
        _ => return usage(),
    };
    match outcome {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(atlasent::Error::Denied(denial)) => {
            eprintln!("DENIED: {}", denial.reason());
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("authorization unavailable, nothing was done: {e}");
            ExitCode::from(2)
        }
    }
}
