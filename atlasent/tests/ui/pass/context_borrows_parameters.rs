//! `context` may borrow parameters and be any `Serialize` type.
use atlasent::Permit;

include!("../common/app_error.rs");

#[derive(serde::Serialize)]
struct Transfer<'a> {
    amount_usd: u64,
    counterparty_id: &'a str,
}

#[atlasent::protect(action = "wire_transfer", agent = "finance-agent", context = Transfer { amount_usd: amount, counterparty_id: to })]
async fn wire(amount: u64, to: &str, _permit: Permit) -> Result<String, AppError> {
    Ok(format!("{amount} to {to}"))
}

fn main() {
    let _ = wire(5, "cp-1");
}
