//! A misspelt action type is an unresolved name, reported once.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

#[atlasent::protect(action = DeployToProductoin, agent = "deploy-bot")]
async fn deploy(_permit: Permit<DeployToProduction>) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = deploy();
}
