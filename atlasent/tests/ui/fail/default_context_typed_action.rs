//! An action with a typed context needs `context = ...`: the default `()` is no
//! `WireContext`.
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

#[atlasent::protect(action = WireTransfer, agent = "payments-bot")]
async fn wire(_permit: &Permit<WireTransfer>) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = wire();
}
