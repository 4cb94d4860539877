//! A bare `#[protect]` reports both required options.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
