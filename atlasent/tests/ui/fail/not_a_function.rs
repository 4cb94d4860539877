//! The attribute applies only to functions.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot")]
struct Deployer;

fn main() {}
