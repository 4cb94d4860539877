//! A trait method declaration has no body to guard.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

trait Deploy {
    #[atlasent::protect(action = "deploy", agent = "bot")]
    async fn deploy(&self, permit: Permit) -> Result<(), AppError>;
}

fn main() {}
