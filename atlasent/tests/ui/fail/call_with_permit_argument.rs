//! Callers cannot hand a permit in: the parameter is gone from the signature.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(permit: Permit, commit: &str) -> Result<(), AppError> {
    let _ = (permit, commit);
    Ok(())
}

async fn caller(stolen: Permit) -> Result<(), AppError> {
    run(stolen, "abc123").await
}

fn main() {}
