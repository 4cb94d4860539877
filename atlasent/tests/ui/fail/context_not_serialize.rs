//! The context must be `Serialize`.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

struct Opaque;

#[atlasent::protect(action = "deploy", agent = "bot", context = Opaque)]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
