//! A caller cannot hand `payments::wire` a permit it got elsewhere: the
//! permit parameter is not in the signature callers see.
use atlasent::Permit;
use atlasent_consumer_example::payments::{self, PaymentError, PaymentRail, WireTransfer};

async fn replay(rail: &dyn PaymentRail, stolen: Permit<WireTransfer>) -> Result<(), PaymentError> {
    payments::wire(rail, "payments-bot", 250, "invoice 7", stolen).await?;
    Ok(())
}

fn main() {
    let _ = replay;
}
