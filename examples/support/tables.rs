//! The guarded commands of `guarded_cli`, apart from its argument parsing
//! so that the policy coverage test (`tests/policy_coverage.rs`) can
//! register the same actions by including this file.
#![allow(dead_code)]

use atlasent::Permit;
use serde_json::json;

/// Read-only: allowed by the demo policy's `allow_reads` rule.
#[atlasent::protect(action = "read_tables", agent = "ops-cli")]
pub(crate) fn list_tables(_permit: Permit) -> Result<Vec<&'static str>, atlasent::Error> {
    Ok(vec!["payments", "sessions", "users"])
}

/// Destructive: the body runs only with a verified permit.
#[atlasent::protect(
    action = "drop_table",
    agent = "ops-cli",
    context = json!({ "table": table, "ticket": ticket })
)]
pub(crate) fn drop_table(
    table: &str,
    ticket: Option<&str>,
    permit: &Permit,
) -> Result<String, atlasent::Error> {
    Ok(format!(
        "dropped table {table} (permit {}, audit hash {})",
        permit.permit_id(),
        permit.audit_hash()
    ))
}
