//! The error type must implement `From<atlasent::Error>`.
use atlasent::Permit;

include!("../common/app_error.rs");

#[derive(Debug)]
struct PlainError;

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(_permit: Permit) -> Result<(), PlainError> {
    Ok(())
}

fn main() {}
