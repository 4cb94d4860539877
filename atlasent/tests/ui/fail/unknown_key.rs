//! An unknown option is an error on that key, listing the valid ones.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot", actoin = "typo")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
