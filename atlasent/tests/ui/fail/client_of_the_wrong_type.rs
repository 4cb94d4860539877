//! `client` must be an `atlasent::Client` for an async fn.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot", client = "https://api.atlasent.io")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
