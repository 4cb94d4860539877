//! `#[atlasent::action]` on a function.
#[atlasent::action("deploy_to_production")]
pub fn deploy() {}

fn main() {}
