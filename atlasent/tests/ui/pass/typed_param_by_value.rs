//! A typed action with a `Permit<A>` parameter taken by value, spent on a fn that
//! requires `Permit<A>`.
//! Compiled only: `main` makes no call to a server.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

fn record(_permit: Permit<DeployToProduction>) {}

#[atlasent::protect(action = DeployToProduction, agent = "deploy-bot", context = serde_json::json!({ "commit": commit }))]
async fn deploy(commit: &str, permit: Permit<DeployToProduction>) -> Result<(), AppError> {
    assert_eq!(<DeployToProduction as atlasent::Action>::NAME, "deploy_to_production");
    record(permit);
    Ok(())
}

fn main() {
    let _ = deploy("abc123");
}
