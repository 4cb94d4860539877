//! Callers call the guarded fns with their own arguments only, inside a
//! task-scoped client (async) or a thread-scoped one (blocking).
//! Compiled only: `main` makes no call to a server.
use atlasent_consumer_example::deploy::{self, DeployError, Runner};
use atlasent_consumer_example::payments::{self, PaymentError, PaymentRail, Receipt};

async fn pay(
    client: atlasent::Client,
    rail: &dyn PaymentRail,
) -> Result<(Receipt, u64), PaymentError> {
    atlasent::with_client(client, async {
        let receipt = payments::wire(rail, "payments-bot", 250, "invoice 7").await?;
        let balance = payments::balance(rail, "payments-bot").await?;
        Ok((receipt, balance))
    })
    .await
}

fn roll_back(client: atlasent::blocking::Client, runner: &dyn Runner) -> Result<(), DeployError> {
    atlasent::blocking::with_client(client, || deploy::rollback(runner, "billing", "v41"))
}

fn main() {
    let _ = (pay, roll_back);
}
