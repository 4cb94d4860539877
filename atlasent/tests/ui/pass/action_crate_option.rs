//! `crate = path` on `#[atlasent::action]`, and an action declared with attributes
//! and docs kept.
//! Compiled only: `main` makes no call to a server.
mod renamed {
    pub use atlasent as sdk;
}

/// Deploy to production.
#[atlasent::action("deploy_to_production", crate = renamed::sdk)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeployToProduction;

#[atlasent::action("read_logs", crate = ::atlasent,)]
pub(crate) struct ReadLogs;

fn name<A: atlasent::Action>() -> &'static str {
    A::NAME
}

fn main() {
    assert_eq!(name::<DeployToProduction>(), "deploy_to_production");
    assert_eq!(name::<ReadLogs>(), "read_logs");
    assert_eq!(DeployToProduction, DeployToProduction);
}
