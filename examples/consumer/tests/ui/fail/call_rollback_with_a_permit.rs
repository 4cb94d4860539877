//! The blocking guarded fn `deploy::rollback` takes no permit from its
//! callers either.
use atlasent::Permit;
use atlasent_consumer_example::deploy::{self, DeployError, Runner};

fn replay(runner: &dyn Runner, stolen: Permit) -> Result<(), DeployError> {
    deploy::rollback(runner, "billing", "v41", stolen)
}

fn main() {
    let _ = replay;
}
