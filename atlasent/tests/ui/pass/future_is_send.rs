//! The guarded future stays `Send` when the body's is.
use atlasent::Permit;

include!("../common/app_error.rs");

fn assert_send<T: Send>(_: T) {}

#[atlasent::protect(action = "deploy", agent = "bot", context = serde_json::json!({ "c": commit }))]
async fn deploy(commit: String, _permit: Permit) -> Result<(), AppError> {
    tokio::task::yield_now().await;
    let _ = commit;
    Ok(())
}

fn main() {
    assert_send(deploy("abc".into()));
}
