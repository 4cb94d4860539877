//! A `const fn` cannot make the call that obtains a permit.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "deploy", agent = "bot")]
const fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
