//! The body cannot name the generated permit local (hygiene).
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    let _again = __atlasent_permit;
    Ok(())
}

fn main() {}
