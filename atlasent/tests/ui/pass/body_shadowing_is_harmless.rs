//! The body's own `use` items and locals cannot clash with generated code.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn deploy(_permit: Permit) -> Result<u8, AppError> {
    use std::result::Result as Ok;
    #[allow(non_snake_case)]
    let __atlasent_permit = 3u8;
    let core = 1u8;
    let _ = core;
    let value: Ok<u8, AppError> = ::core::result::Result::Ok(__atlasent_permit);
    value
}

fn main() {
    let _ = deploy();
}
