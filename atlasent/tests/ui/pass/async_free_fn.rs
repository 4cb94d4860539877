//! The basic shape: an async free fn with the permit first.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy_to_production", agent = "deploy-bot")]
async fn deploy(permit: Permit, commit: &str) -> Result<String, AppError> {
    Ok(format!("{commit} under {}", permit.permit_id()))
}

fn main() {
    let _future = deploy("abc123");
}
