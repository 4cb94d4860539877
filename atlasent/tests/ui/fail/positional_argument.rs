//! Positional arguments are refused with a hint to use `key = value`.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect("deploy", agent = "bot")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
