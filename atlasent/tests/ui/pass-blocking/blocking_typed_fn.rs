//! Plain (blocking) fns with a typed action: a typed, a borrowed and an untyped
//! permit, with the default client and an explicit one.
//! Compiled only: `main` makes no call to a server.
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

#[derive(serde::Serialize)]
pub struct WireContext {
    pub amount: u64,
    pub to: String,
}

#[atlasent::action("wire_transfer", context = WireContext)]
pub struct WireTransfer;

#[atlasent::protect(action = DeployToProduction, agent = "deploy-bot")]
fn deploy(commit: &str, permit: Permit<DeployToProduction>) -> Result<String, AppError> {
    Ok(format!("{commit} under {}", permit.permit_id()))
}

#[atlasent::protect(action = DeployToProduction, agent = "deploy-bot")]
fn deploy_untyped(permit: Permit) -> Result<String, AppError> {
    Ok(permit.action().to_owned())
}

struct Payments {
    client: atlasent::blocking::Client,
}

impl Payments {
    #[atlasent::protect(action = WireTransfer, agent = "payments-bot", context = transfer, client = self.client)]
    fn wire(&self, transfer: &WireContext, _permit: &Permit<WireTransfer>) -> Result<u64, AppError> {
        Ok(transfer.amount)
    }
}

fn main() {
    let _ = (deploy, deploy_untyped, Payments::wire);
}
