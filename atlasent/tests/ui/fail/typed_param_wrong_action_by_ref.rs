//! The same by reference: `&Permit<ReadLogs>` under `action = DeployToProduction`.
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

#[atlasent::action("read_logs")]
pub struct ReadLogs;

#[atlasent::protect(action = DeployToProduction, agent = "deploy-bot")]
async fn deploy(commit: &str, _permit: &Permit<ReadLogs>) -> Result<(), AppError> {
    let _ = commit;
    Ok(())
}

fn main() {
    let _ = deploy("abc123");
}
