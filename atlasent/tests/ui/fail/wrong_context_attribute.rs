//! The attribute with a typed action checks the context type too.
use atlasent::Permit;

include!("../common/app_error.rs");

include!("../common/wire_transfer.rs");

#[derive(serde::Serialize)]
pub struct OtherContext {
    pub amount: u64,
}

#[atlasent::protect(action = WireTransfer, agent = "payments-bot", context = OtherContext { amount })]
async fn wire(amount: u64, _permit: Permit<WireTransfer>) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = wire(100);
}
