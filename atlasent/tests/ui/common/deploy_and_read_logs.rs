// Shared by the trybuild cases
// (`include!("../common/deploy_and_read_logs.rs");`): two actions, for the
// cases where a permit of one must not pass for the other.

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

#[atlasent::action("read_logs")]
pub struct ReadLogs;
