//! A trait method declaration has no body to guard.
use atlasent::Permit;

include!("../common/app_error.rs");

trait Deploy {
    #[atlasent::protect(action = "deploy", agent = "bot")]
    async fn deploy(&self, permit: Permit) -> Result<(), AppError>;
}

fn main() {}
