//! Any pattern binds the permit: `_permit`, `mut permit`, `_`.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "a", agent = "bot")]
async fn underscore_named(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

#[atlasent::protect(action = "b", agent = "bot")]
async fn mutable(mut permit: Permit) -> Result<(), AppError> {
    let rebound = &mut permit;
    let _ = rebound.permit_id();
    Ok(())
}

#[atlasent::protect(action = "c", agent = "bot")]
async fn wildcard(_: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = (underscore_named(), mutable(), wildcard());
}
