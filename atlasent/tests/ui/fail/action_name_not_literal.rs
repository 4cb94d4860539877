//! The action name is a string literal, not a constant.
const NAME: &str = "deploy_to_production";

#[atlasent::action(NAME)]
pub struct DeployToProduction;

fn main() {}
