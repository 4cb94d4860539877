//! The basic shape: an async free fn with the permit first.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "deploy_to_production", agent = "deploy-bot")]
async fn deploy(permit: Permit, commit: &str) -> Result<String, AppError> {
    Ok(format!("{commit} under {}", permit.permit_id()))
}

fn main() {
    let _future = deploy("abc123");
}
