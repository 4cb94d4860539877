//! A new guarded fn of the consumer's: `PaymentError` carries the refusal
//! (it has `From<atlasent::Error>`) and the rail's error (`?`).
//! Compiled only: `main` makes no call to a server.
use atlasent::Permit;
use atlasent_consumer_example::payments::{PaymentError, PaymentRail, WireContext, WireTransfer};

#[atlasent::protect(
    action = WireTransfer,
    agent = "payments-bot",
    context = WireContext { amount_usd, memo: "refund".to_owned() },
)]
async fn refund(
    rail: &dyn PaymentRail,
    amount_usd: u64,
    _permit: Permit<WireTransfer>,
) -> Result<String, PaymentError> {
    Ok(rail.send(amount_usd, "refund")?)
}

fn main() {
    let _ = refund;
}
