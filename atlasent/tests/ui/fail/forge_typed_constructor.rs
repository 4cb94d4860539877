//! `Permit<A>` has no public constructor, and the crate-private ones are out of reach.
use atlasent::Permit;

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

fn by_new() -> Permit<DeployToProduction> {
    Permit::<DeployToProduction>::new(
        "dec_fake".to_owned(),
        "hash".to_owned(),
        "audit".to_owned(),
        "allowed".to_owned(),
        "2024-01-01T00:00:00Z".to_owned(),
        "bot".to_owned(),
        "deploy_to_production".to_owned(),
    )
}

fn by_retype(permit: Permit) -> Permit<DeployToProduction> {
    permit.retype()
}

fn main() {
    let _ = (by_new, by_retype);
}
