//! Exactly one `Permit` parameter: the second is an error.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(first: Permit, second: &Permit) -> Result<(), AppError> {
    let _ = (first, second);
    Ok(())
}

fn main() {}
