//! `crate = ::path` names where atlasent is.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "deploy", agent = "bot", crate = ::atlasent)]
async fn deploy(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = deploy();
}
