//! A plain fn needs the blocking client: without the feature, a clear error.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "drop_database", agent = "cli")]
fn drop_database(_permit: Permit, name: &str) -> Result<(), AppError> {
    let _ = name;
    Ok(())
}

fn main() {}
