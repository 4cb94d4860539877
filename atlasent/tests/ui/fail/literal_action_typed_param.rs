//! A literal action makes an untyped permit: it cannot bind a `Permit<DeployToProduction>`
//! (the literal could name any action); use `action = DeployToProduction`.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

#[atlasent::protect(action = "deploy_to_production", agent = "deploy-bot")]
async fn deploy(_permit: Permit<DeployToProduction>) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = deploy();
}
