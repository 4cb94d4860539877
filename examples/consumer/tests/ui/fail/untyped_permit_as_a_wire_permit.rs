//! A permit for any action (`Permit`, from `atlasent::protect` with a
//! string action) does not turn into a `Permit<WireTransfer>` without the
//! check of `Permit::downcast`.
use atlasent::Permit;
use atlasent_consumer_example::payments::{Receipt, WireTransfer};

async fn relabel() -> Result<Receipt, atlasent::Error> {
    let permit: Permit = atlasent::protect("payments-bot", "payments.wire", &()).await?;
    let typed: Permit<WireTransfer> = permit.into();
    Ok(Receipt::new(&typed, "ref_1".into(), 250))
}

fn main() {
    let _ = relabel;
}
