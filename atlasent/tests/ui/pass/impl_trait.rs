//! `impl Trait` in argument and return position survives.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

use std::fmt::Display;

#[atlasent::protect(action = "show", agent = name)]
async fn show(name: impl AsRef<str> + Send, _permit: Permit) -> Result<impl Display, AppError> {
    Ok(name.as_ref().len())
}

fn main() {
    let _ = show("bot");
}
