//! A guarded fn must declare the permit it runs under.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(commit: &str) -> Result<(), AppError> {
    let _ = commit;
    Ok(())
}

fn main() {}
