//! `action` must be a string literal, not a constant or expression.
use atlasent::Permit;

include!("../common/app_error.rs");

const ACTION: &str = "deploy";

#[atlasent::protect(action = ACTION, agent = "bot")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
