//! Without `agent` the attribute is an error naming the option.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
