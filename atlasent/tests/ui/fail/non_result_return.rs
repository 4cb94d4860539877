//! A refusal must reach the caller: the return type is a `Result`.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(_permit: Permit) -> u32 {
    7
}

fn main() {}
