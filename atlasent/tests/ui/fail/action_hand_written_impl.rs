//! `Action` is implemented by `#[atlasent::action]`, not by hand.
pub struct DeployToProduction;

impl atlasent::Action for DeployToProduction {
    const NAME: &'static str = "deploy_to_production";
    type Context = atlasent::actions::AnyContext;
}

fn main() {}
