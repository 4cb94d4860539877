//! The macro's hidden support module has no way to build a permit.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

fn main() {
    let _a: Permit = atlasent::__private::Permit::new();
    let _b: Permit = atlasent::__private::new_permit("dec_fake");
}
