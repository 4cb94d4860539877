//! Another crate cannot widen what a typed action accepts: `AcceptsContext` is
//! sealed, so an impl letting `protect_as::<WireTransfer>` take any JSON does not
//! compile (found by the hostile review of issue 14).
use atlasent::actions::{AcceptsContext, TypedContext};

#[derive(serde::Serialize)]
pub struct WireContext {
    pub amount: u64,
}

#[atlasent::action("wire_transfer", context = WireContext)]
pub struct WireTransfer;

#[derive(serde::Serialize)]
#[serde(transparent)]
pub struct Anything(serde_json::Value);

impl AcceptsContext<Anything> for TypedContext<WireContext> {}

fn main() {}
