//! The same by reference: `&Permit<ReadLogs>` under `action = DeployToProduction`.
use atlasent::Permit;

include!("../common/app_error.rs");

include!("../common/deploy_and_read_logs.rs");

#[atlasent::protect(action = DeployToProduction, agent = "deploy-bot")]
async fn deploy(commit: &str, _permit: &Permit<ReadLogs>) -> Result<(), AppError> {
    let _ = commit;
    Ok(())
}

fn main() {
    let _ = deploy("abc123");
}
