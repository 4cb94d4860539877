//! The futures of the async guarded fns are `Send`, inside `with_client`
//! too, so they can be spawned on a multi-thread runtime.
//! Compiled only: `main` makes no call to a server.
use std::sync::Arc;

use atlasent_consumer_example::payments::{self, PaymentRail};

fn assert_send<T: Send>(_: &T) {}

fn main() {
    let spawnable = |client: atlasent::Client, rail: Arc<dyn PaymentRail>| async move {
        atlasent::with_client(client, async move {
            payments::wire(&*rail, "payments-bot", 250, "invoice 7").await
        })
        .await
    };
    let client = atlasent::Client::builder()
        .api_key("ask_test_compile_only")
        .build();
    if let Ok(client) = client {
        let rail: Arc<dyn PaymentRail> = Arc::new(NoRail);
        let fut = spawnable(client, rail);
        assert_send(&fut);
    }
}

struct NoRail;

impl PaymentRail for NoRail {
    fn send(&self, _: u64, _: &str) -> Result<String, payments::RailError> {
        Err(payments::RailError("no rail".into()))
    }
    fn balance(&self) -> Result<u64, payments::RailError> {
        Ok(0)
    }
}
