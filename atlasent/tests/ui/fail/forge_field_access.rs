//! A permit's fields are private: they cannot be read or rewritten.
use atlasent::Permit;

include!("../common/app_error.rs");

fn tamper(mut permit: Permit) -> Permit {
    permit.permit_id = "dec_other".into();
    permit
}

fn main() {}
