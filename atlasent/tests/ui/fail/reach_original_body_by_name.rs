//! There is no inner function to call around the guard.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

async fn bypass() -> Result<(), AppError> {
    __atlasent_run_inner().await?;
    run_unguarded().await
}

fn main() {}
