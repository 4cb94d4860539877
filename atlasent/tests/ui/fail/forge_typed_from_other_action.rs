//! A `Permit<ReadLogs>` does not convert into a `Permit<DeployToProduction>`.
use atlasent::Permit;

include!("../common/deploy_and_read_logs.rs");

fn relabel(permit: Permit<ReadLogs>) -> Permit<DeployToProduction> {
    Permit::<DeployToProduction>::from(permit)
}

fn main() {
    let _ = relabel;
}
