//! A `Permit<A>` is single-use: it cannot be cloned.
use atlasent::Permit;

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

fn copy(permit: &Permit<DeployToProduction>) -> Permit<DeployToProduction> {
    <Permit<DeployToProduction> as Clone>::clone(permit)
}

fn main() {
    let _ = copy;
}
