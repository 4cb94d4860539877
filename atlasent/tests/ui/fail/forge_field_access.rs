//! A permit's fields are private: they cannot be read or rewritten.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

fn tamper(mut permit: Permit) -> Permit {
    permit.permit_id = "dec_other".into();
    permit
}

fn main() {}
