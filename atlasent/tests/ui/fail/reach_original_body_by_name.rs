//! There is no inner function to call around the guard.
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
    Ok(())
}

async fn bypass() -> Result<(), AppError> {
    __atlasent_run_inner().await?;
    run_unguarded().await
}

fn main() {}
