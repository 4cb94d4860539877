//! `#[atlasent::action]` with options but no name.
#[atlasent::action(context = String)]
pub struct DeployToProduction;

fn main() {}
