//! A permit has no `Default`.
use atlasent::Permit;

include!("../common/app_error.rs");

fn main() {
    let _forged: Permit = Default::default();
}
