//! A permit to read the balance does not write a wire's receipt: a
//! `Permit<ReadBalance>` is not a `Permit<WireTransfer>`.
use atlasent::Permit;
use atlasent_consumer_example::payments::{ReadBalance, Receipt};

async fn receipt_from_a_read() -> Result<Receipt, atlasent::Error> {
    let permit: Permit<ReadBalance> = atlasent::protect_as::<ReadBalance>("payments-bot", &()).await?;
    Ok(Receipt::new(&permit, "ref_1".into(), 250))
}

fn main() {
    let _ = receipt_from_a_read;
}
