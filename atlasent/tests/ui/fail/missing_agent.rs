//! Without `agent` the attribute is an error naming the option.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "deploy")]
async fn run(permit: Permit) -> Result<(), AppError> {
    let _ = permit;
    Ok(())
}

fn main() {}
