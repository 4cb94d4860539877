//! The body cannot name the generated permit local (hygiene).
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    let _again = __atlasent_permit;
    Ok(())
}

fn main() {}
