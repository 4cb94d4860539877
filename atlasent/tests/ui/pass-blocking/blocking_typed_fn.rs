//! Plain (blocking) fns with a typed action: a typed, a borrowed and an untyped
//! permit, with the default client and an explicit one.
//! Compiled only: `main` makes no call to a server.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

include!("../common/wire_transfer.rs");

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
