//! A `Permit<A>` cannot be deserialized.
use atlasent::Permit;

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

fn main() {
    let _forged: Permit<DeployToProduction> =
        serde_json::from_str(r#"{"permit_id":"dec_fake","action":"deploy_to_production"}"#).unwrap();
}
