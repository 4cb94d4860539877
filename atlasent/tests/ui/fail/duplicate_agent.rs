//! A repeated `agent` is an error on the second one.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot", agent = "other")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
