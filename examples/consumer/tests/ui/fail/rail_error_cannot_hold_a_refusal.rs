//! A guarded fn must return an error type that can carry AtlaSent's
//! refusal: `RailError` has no `From<atlasent::Error>` (return
//! `PaymentError`, which has).
use atlasent::Permit;
use atlasent_consumer_example::payments::{PaymentRail, RailError, WireContext, WireTransfer};

#[atlasent::protect(
    action = WireTransfer,
    agent = "payments-bot",
    context = WireContext { amount_usd, memo: "refund".to_owned() },
)]
async fn refund(rail: &dyn PaymentRail, amount_usd: u64, _permit: Permit<WireTransfer>) -> Result<String, RailError> {
    rail.send(amount_usd, "refund")
}

fn main() {
    let _ = refund;
}
