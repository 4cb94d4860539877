//! `protect_as::<WireTransfer>` takes a `WireContext` and nothing else: a JSON object
//! with a misspelt key does not compile.
use atlasent::Permit;

include!("../common/wire_transfer.rs");

async fn wire(client: &atlasent::Client) -> Result<Permit<WireTransfer>, atlasent::Error> {
    client
        .protect_as::<WireTransfer>("payments-bot", &serde_json::json!({ "amuont": 100 }))
        .await
}

fn main() {
    let _ = wire;
}
