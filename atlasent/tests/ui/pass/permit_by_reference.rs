//! `&Permit` works as well as `Permit`.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn deploy(permit: &Permit) -> Result<usize, AppError> {
    Ok(permit.permit_id().len())
}

fn main() {
    let _future = deploy();
}
