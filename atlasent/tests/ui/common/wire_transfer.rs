// Shared by the trybuild cases (`include!("../common/wire_transfer.rs");`):
// an action with a typed context.

#[derive(serde::Serialize)]
pub struct WireContext {
    pub amount: u64,
    pub to: String,
}

#[atlasent::action("wire_transfer", context = WireContext)]
pub struct WireTransfer;
