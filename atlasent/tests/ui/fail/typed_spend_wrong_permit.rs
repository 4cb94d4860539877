//! A `Permit<ReadLogs>` cannot be spent where a `Permit<DeployToProduction>` is required.
use atlasent::Permit;

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

#[atlasent::action("read_logs")]
pub struct ReadLogs;

fn deploy(_permit: Permit<DeployToProduction>) {}

fn spend(permit: Permit<ReadLogs>) {
    deploy(permit);
}

fn main() {
    let _ = spend;
}
