//! A refusal must reach the caller: the return type is a `Result`.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(_permit: Permit) -> u32 {
    7
}

fn main() {}
