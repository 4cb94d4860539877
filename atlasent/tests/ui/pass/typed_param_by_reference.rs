//! A typed action with `&Permit<A>` (and a path to the action type).
//! Compiled only: `main` makes no call to a server.
use atlasent::Permit;

include!("../common/app_error.rs");

mod actions {
    #[atlasent::action("deploy_to_production")]
    pub struct DeployToProduction;
}

fn log(permit: &Permit<actions::DeployToProduction>) -> &str {
    permit.permit_id()
}

#[atlasent::protect(action = actions::DeployToProduction, agent = "deploy-bot")]
async fn deploy(permit: &atlasent::Permit<actions::DeployToProduction>, commit: &str) -> Result<String, AppError> {
    Ok(format!("{commit} under {}", log(permit)))
}

fn main() {
    let _ = deploy("abc123");
}
