//! A `Permit<A>` turns into an untyped `Permit`: `From`, `into()`, `into_untyped()`,
//! and a typed permit compares with an untyped one.
//! Compiled only: `main` makes no call to a server.
use atlasent::Permit;

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

fn untyped(permit: Permit) -> Permit {
    permit
}

fn convert(a: Permit<DeployToProduction>, b: Permit<DeployToProduction>, c: Permit<DeployToProduction>) -> Vec<Permit> {
    let a: Permit = Permit::from(a);
    let b: Permit = b.into();
    let c = untyped(c.into_untyped());
    assert!(a == b || a != c);
    vec![a, b, c]
}

fn compare(typed: &Permit<DeployToProduction>, plain: &Permit) -> bool {
    typed == plain
}

fn main() {
    let _ = (convert, compare);
}
