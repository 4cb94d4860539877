//! `#[atlasent::action]` on an enum.
#[atlasent::action("deploy_to_production")]
pub enum Deploy {
    Production,
    Staging,
}

fn main() {}
