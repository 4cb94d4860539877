//! Without `action` the attribute is an error naming the option.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(agent = "bot")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
