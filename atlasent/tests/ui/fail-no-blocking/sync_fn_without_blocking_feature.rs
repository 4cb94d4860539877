//! A plain fn needs the blocking client: without the feature, a clear error.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "drop_database", agent = "cli")]
fn drop_database(_permit: Permit, name: &str) -> Result<(), AppError> {
    let _ = name;
    Ok(())
}

fn main() {}
