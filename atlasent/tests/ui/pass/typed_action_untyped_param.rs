//! A typed action may bind an untyped `Permit` (by value or by reference).
//! Compiled only: `main` makes no call to a server.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

#[atlasent::protect(action = DeployToProduction, agent = "deploy-bot")]
async fn by_value(permit: Permit) -> Result<String, AppError> {
    Ok(permit.action().to_owned())
}

#[atlasent::protect(action = DeployToProduction, agent = "deploy-bot")]
async fn by_reference(permit: &Permit) -> Result<String, AppError> {
    Ok(permit.action().to_owned())
}

fn main() {
    let _ = (by_value(), by_reference());
}
