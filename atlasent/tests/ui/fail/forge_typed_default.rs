//! A `Permit<A>` has no `Default`.
use atlasent::Permit;

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

fn main() {
    let _forged: Permit<DeployToProduction> = Default::default();
}
