//! `impl Trait` in argument and return position survives.
use atlasent::Permit;

include!("../common/app_error.rs");

use std::fmt::Display;

#[atlasent::protect(action = "show", agent = name)]
async fn show(name: impl AsRef<str> + Send, _permit: Permit) -> Result<impl Display, AppError> {
    Ok(name.as_ref().len())
}

fn main() {
    let _ = show("bot");
}
