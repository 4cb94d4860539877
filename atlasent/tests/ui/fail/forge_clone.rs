//! A permit is single-use: it cannot be cloned.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

fn copy(permit: &Permit) -> Permit {
    <Permit as Clone>::clone(permit)
}

fn main() {}
