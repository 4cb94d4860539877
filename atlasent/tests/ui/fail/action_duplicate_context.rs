//! `context` given twice.
#[atlasent::action("wire_transfer", context = String, context = u64)]
pub struct WireTransfer;

fn main() {}
