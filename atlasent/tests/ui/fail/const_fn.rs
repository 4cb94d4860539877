//! A `const fn` cannot make the call that obtains a permit.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "deploy", agent = "bot")]
const fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
