//! `WireTransfer` takes a `WireContext` and nothing else: a JSON context
//! (where a misspelt key would reach the policy as a deny in production)
//! does not compile.
use atlasent::Permit;
use atlasent_consumer_example::payments::{PaymentError, PaymentRail, WireTransfer};

#[atlasent::protect(
    action = WireTransfer,
    agent = "payments-bot",
    context = serde_json::json!({ "amount": amount_usd, "memo": "refund" }),
)]
async fn refund(rail: &dyn PaymentRail, amount_usd: u64, _permit: Permit<WireTransfer>) -> Result<String, PaymentError> {
    Ok(rail.send(amount_usd, "refund")?)
}

fn main() {
    let _ = refund;
}
