//! A function returning `()` could not report a refusal.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(_permit: Permit) {}

fn main() {}
