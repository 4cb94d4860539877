//! A permit is single-use: it cannot be cloned.
use atlasent::Permit;

include!("../common/app_error.rs");

fn copy(permit: &Permit) -> Permit {
    <Permit as Clone>::clone(permit)
}

fn main() {}
