//! Callers cannot hand a permit in: the parameter is gone from the signature.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(permit: Permit, commit: &str) -> Result<(), AppError> {
    let _ = (permit, commit);
    Ok(())
}

async fn caller(stolen: Permit) -> Result<(), AppError> {
    run(stolen, "abc123").await
}

fn main() {}
