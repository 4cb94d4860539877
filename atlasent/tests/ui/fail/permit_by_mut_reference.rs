//! The permit is taken by value or `&Permit`, never `&mut Permit`.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(permit: &mut Permit) -> Result<(), AppError> {
    let _ = permit;
    Ok(())
}

fn main() {}
