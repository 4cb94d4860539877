//! An action with a typed context needs `context = ...`: the default `()` is no
//! `WireContext`.
use atlasent::Permit;

include!("../common/app_error.rs");

include!("../common/wire_transfer.rs");

#[atlasent::protect(action = WireTransfer, agent = "payments-bot")]
async fn wire(_permit: &Permit<WireTransfer>) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = wire();
}
