//! `#[protect(action = T)]` with a type that is not an action.
use atlasent::Permit;

include!("../common/app_error.rs");

pub struct NotAnAction;

#[atlasent::protect(action = NotAnAction, agent = "bot")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = run();
}
