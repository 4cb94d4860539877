//! A `Permit<A>` cannot be built with a struct literal.
use atlasent::Permit;

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

fn main() {
    let _forged = Permit::<DeployToProduction> {
        permit_id: "dec_fake".to_owned(),
        action: "deploy_to_production".to_owned(),
        action_type: std::marker::PhantomData,
    };
}
