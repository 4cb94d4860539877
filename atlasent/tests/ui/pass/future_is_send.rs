//! The guarded future stays `Send` when the body's is.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

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
