//! Any error type with `From<atlasent::Error>`: the crate's own, boxed, custom.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "a", agent = "bot")]
async fn plain(_permit: Permit) -> Result<(), atlasent::Error> {
    Ok(())
}

#[atlasent::protect(action = "b", agent = "bot")]
async fn boxed(_permit: Permit) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}

type AppResult<T> = Result<T, AppError>;

#[atlasent::protect(action = "c", agent = "bot")]
async fn aliased(_permit: Permit) -> AppResult<u8> {
    Ok(1)
}

fn main() {
    let _ = (plain(), boxed(), aliased());
}
