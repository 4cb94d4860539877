//! An untyped `Permit` does not turn into a `Permit<A>` with `From`/`into()`: only
//! `downcast` does, which checks the action.
use atlasent::Permit;

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

fn by_from(permit: Permit) -> Permit<DeployToProduction> {
    Permit::<DeployToProduction>::from(permit)
}

fn by_into(permit: Permit) -> Permit<DeployToProduction> {
    permit.into()
}

fn main() {
    let _ = (by_from, by_into);
}
