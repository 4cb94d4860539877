//! A number is not an action.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = 5, agent = "bot")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
