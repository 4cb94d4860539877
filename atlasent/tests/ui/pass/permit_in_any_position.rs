//! The permit may sit first, in the middle or last.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "a", agent = "bot")]
async fn middle(x: u8, _permit: Permit, y: u8) -> Result<u8, AppError> {
    Ok(x + y)
}

#[atlasent::protect(action = "b", agent = "bot")]
async fn last(x: u8, y: &str, _permit: &Permit) -> Result<usize, AppError> {
    Ok(x as usize + y.len())
}

fn main() {
    let _a = middle(1, 2);
    let _b = last(1, "two");
}
