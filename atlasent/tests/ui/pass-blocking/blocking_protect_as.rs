//! `protect_as` on the blocking client and the blocking free function.
//! Compiled only: `main` makes no call to a server.
use atlasent::Permit;

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

include!("../common/wire_transfer.rs");

fn deploy(_permit: Permit<DeployToProduction>) {}

fn with_client(client: &atlasent::blocking::Client) -> Result<(), atlasent::Error> {
    let permit = client.protect_as::<DeployToProduction>("deploy-bot", &serde_json::json!({}))?;
    deploy(permit);
    let context = WireContext { amount: 5, to: "acct_1".to_owned() };
    let _: Permit<WireTransfer> = client.protect_as::<WireTransfer>("payments-bot", &context)?;
    Ok(())
}

fn with_default_client() -> Result<(), atlasent::Error> {
    let permit = atlasent::blocking::protect_as::<DeployToProduction>("deploy-bot", &serde_json::json!({}))?;
    deploy(permit);
    Ok(())
}

fn main() {
    let _ = (with_client, with_default_client);
}
