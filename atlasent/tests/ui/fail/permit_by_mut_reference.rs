//! The permit is taken by value or `&Permit`, never `&mut Permit`.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(permit: &mut Permit) -> Result<(), AppError> {
    let _ = permit;
    Ok(())
}

fn main() {}
