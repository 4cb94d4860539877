//! `&Permit` works as well as `Permit`.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn deploy(permit: &Permit) -> Result<usize, AppError> {
    Ok(permit.permit_id().len())
}

fn main() {
    let _future = deploy();
}
