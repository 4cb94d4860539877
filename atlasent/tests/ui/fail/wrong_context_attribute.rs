//! The attribute with a typed action checks the context type too.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[derive(serde::Serialize)]
pub struct WireContext {
    pub amount: u64,
    pub to: String,
}

#[atlasent::action("wire_transfer", context = WireContext)]
pub struct WireTransfer;

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
