//! A guarded fn must declare the permit it runs under.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(commit: &str) -> Result<(), AppError> {
    let _ = commit;
    Ok(())
}

fn main() {}
