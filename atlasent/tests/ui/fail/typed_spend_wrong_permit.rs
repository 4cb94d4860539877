//! A `Permit<ReadLogs>` cannot be spent where a `Permit<DeployToProduction>` is required.
use atlasent::Permit;

include!("../common/deploy_and_read_logs.rs");

fn deploy(_permit: Permit<DeployToProduction>) {}

fn spend(permit: Permit<ReadLogs>) {
    deploy(permit);
}

fn main() {
    let _ = spend;
}
