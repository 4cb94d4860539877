//! A plain fn uses the blocking client.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "drop_database", agent = "ops-cli", context = serde_json::json!({ "db": name }))]
fn drop_database(_permit: Permit, name: &str) -> Result<(), AppError> {
    let _ = name;
    Ok(())
}

fn main() {
    let _ = drop_database;
}
