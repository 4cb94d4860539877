//! An empty `action` is refused.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "", agent = "bot")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
