//! `#[atlasent::action]` on a tuple struct.
#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction(pub String);

fn main() {}
