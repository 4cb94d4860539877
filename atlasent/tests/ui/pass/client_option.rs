//! `client` takes a client, a reference, or an `Arc` of one.
use atlasent::Permit;

include!("../common/app_error.rs");

use std::sync::Arc;

#[atlasent::protect(action = "a", agent = "bot", client = client)]
async fn by_reference(client: &atlasent::Client, _permit: Permit) -> Result<(), AppError> {
    Ok(())
}

#[atlasent::protect(action = "b", agent = "bot", client = client)]
async fn by_value(client: atlasent::Client, _permit: Permit) -> Result<(), AppError> {
    Ok(())
}

#[atlasent::protect(action = "c", agent = "bot", client = shared)]
async fn by_arc(shared: Arc<atlasent::Client>, _permit: Permit) -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = (by_reference, by_value, by_arc);
}
