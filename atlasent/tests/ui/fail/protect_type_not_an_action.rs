//! `#[protect(action = T)]` with a type that is not an action.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

pub struct NotAnAction;

#[atlasent::protect(action = NotAnAction, agent = "bot")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = run();
}
