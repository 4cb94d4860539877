//! `downcast` turns an untyped permit into a typed one when the action matches, and
//! gives the permit back when it does not.
//! Compiled only: `main` makes no call to a server.
use atlasent::Permit;

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

fn deploy(_permit: &Permit<DeployToProduction>) {}

fn deploy_if_allowed(permit: Permit) -> Result<(), Permit> {
    let typed: Permit<DeployToProduction> = permit.downcast::<DeployToProduction>()?;
    deploy(&typed);
    Ok(())
}

fn describe(permit: Permit) -> String {
    match permit.downcast::<DeployToProduction>() {
        Ok(typed) => format!("deploy permit {}", typed.permit_id()),
        Err(other) => format!("{other} is not a deploy permit"),
    }
}

fn main() {
    let _ = (deploy_if_allowed, describe);
}
