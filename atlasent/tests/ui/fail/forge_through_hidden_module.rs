//! The macro's hidden support module has no way to build a permit.
use atlasent::Permit;

include!("../common/app_error.rs");

fn main() {
    let _a: Permit = atlasent::__private::Permit::new();
    let _b: Permit = atlasent::__private::new_permit("dec_fake");
}
