//! A typed context, by value and by reference, to `protect_as` and to the attribute.
//! Compiled only: `main` makes no call to a server.
use atlasent::Permit;

include!("../common/app_error.rs");

include!("../common/wire_transfer.rs");

async fn direct(client: &atlasent::Client) -> Result<(), atlasent::Error> {
    let context = WireContext { amount: 100, to: "acct_1".to_owned() };
    let _: Permit<WireTransfer> = client.protect_as::<WireTransfer>("payments-bot", &context).await?;
    let by_ref: &WireContext = &context;
    let _: Permit<WireTransfer> = client.protect_as::<WireTransfer>("payments-bot", &by_ref).await?;
    Ok(())
}

#[atlasent::protect(action = WireTransfer, agent = "payments-bot", context = WireContext { amount, to: to.to_owned() })]
async fn by_value(amount: u64, to: &str, _permit: Permit<WireTransfer>) -> Result<(), AppError> {
    Ok(())
}

#[atlasent::protect(action = WireTransfer, agent = "payments-bot", context = transfer)]
async fn by_reference(transfer: &WireContext, _permit: &Permit<WireTransfer>) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let transfer = WireContext { amount: 1, to: "acct_2".to_owned() };
    let _ = (direct, by_value(1, "acct_1"), by_reference(&transfer));
}
