//! A `Permit<WireTransfer>` of an action with a typed context says its context was a
//! `WireContext`; an untyped permit cannot show that, so `downcast` refuses it
//! (the permit comes only from `protect_as` or the attribute).
use atlasent::Permit;

#[derive(serde::Serialize)]
pub struct WireContext {
    pub amount: u64,
}

#[atlasent::action("wire_transfer", context = WireContext)]
pub struct WireTransfer;

fn launder(permit: Permit) -> Option<Permit<WireTransfer>> {
    permit.downcast::<WireTransfer>().ok()
}

fn main() {
    let _ = launder;
}
