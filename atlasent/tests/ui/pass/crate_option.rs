//! `crate = ::path` names where atlasent is.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot", crate = ::atlasent)]
async fn deploy(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = deploy();
}
