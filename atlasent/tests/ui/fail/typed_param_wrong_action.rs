//! `#[protect(action = DeployToProduction)]` cannot take a `Permit<ReadLogs>`: the error names both actions.
use atlasent::Permit;

include!("../common/app_error.rs");

include!("../common/deploy_and_read_logs.rs");

#[atlasent::protect(action = DeployToProduction, agent = "deploy-bot")]
async fn deploy(_permit: Permit<ReadLogs>) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = deploy();
}
