//! `#[atlasent::action]` on a struct with fields: an action carries no data.
#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction {
    pub commit: String,
}

fn main() {}
