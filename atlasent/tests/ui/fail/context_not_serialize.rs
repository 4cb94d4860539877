//! The context must be `Serialize`.
use atlasent::Permit;

include!("../common/app_error.rs");

struct Opaque;

#[atlasent::protect(action = "deploy", agent = "bot", context = Opaque)]
async fn run(_permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {}
