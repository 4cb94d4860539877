//! A literal action makes an untyped permit: it cannot bind a `Permit<DeployToProduction>`
//! (the literal could name any action); use `action = DeployToProduction`.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

#[atlasent::protect(action = "deploy_to_production", agent = "deploy-bot")]
async fn deploy(_permit: Permit<DeployToProduction>) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = deploy();
}
