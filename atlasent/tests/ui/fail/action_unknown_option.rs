//! An unknown option of `#[atlasent::action]`.
#[atlasent::action("deploy_to_production", agent = "bot")]
pub struct DeployToProduction;

fn main() {}
