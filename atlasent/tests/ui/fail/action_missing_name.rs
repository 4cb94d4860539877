//! `#[atlasent::action]` without a name.
#[atlasent::action]
pub struct DeployToProduction;

fn main() {}
