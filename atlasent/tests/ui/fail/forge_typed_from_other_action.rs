//! A `Permit<ReadLogs>` does not convert into a `Permit<DeployToProduction>`.
use atlasent::Permit;

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

#[atlasent::action("read_logs")]
pub struct ReadLogs;

fn relabel(permit: Permit<ReadLogs>) -> Permit<DeployToProduction> {
    Permit::<DeployToProduction>::from(permit)
}

fn main() {
    let _ = relabel;
}
