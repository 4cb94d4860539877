//! Exactly one `Permit` parameter: the second is an error.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(first: Permit, second: &Permit) -> Result<(), AppError> {
    let _ = (first, second);
    Ok(())
}

fn main() {}
