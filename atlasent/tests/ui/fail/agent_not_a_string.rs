//! The agent must be string-like (`AsRef<str>`).
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "deploy", agent = 42)]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
