//! The agent must be string-like (`AsRef<str>`).
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = 42)]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
