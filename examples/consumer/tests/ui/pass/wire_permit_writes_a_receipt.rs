//! A `Permit<WireTransfer>` obtained by hand (`protect_as`, with a
//! `WireContext`) writes a receipt, and turns into an untyped `Permit`.
//! Compiled only: `main` makes no call to a server.
use atlasent::Permit;
use atlasent_consumer_example::payments::{Receipt, WireContext, WireTransfer};

async fn by_hand(client: &atlasent::Client) -> Result<(Receipt, Permit), atlasent::Error> {
    let context = WireContext {
        amount_usd: 250,
        memo: "invoice 7".into(),
    };
    let permit: Permit<WireTransfer> = client
        .protect_as::<WireTransfer>("payments-bot", &context)
        .await?;
    let receipt = Receipt::new(&permit, "ref_1".into(), 250);
    Ok((receipt, permit.into()))
}

fn main() {
    let _ = by_hand;
}
