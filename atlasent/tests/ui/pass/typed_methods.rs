//! Methods with a typed action: `&self`, agent, context and client from `self`.
//! Compiled only: `main` makes no call to a server.
use atlasent::Permit;

include!("../common/app_error.rs");

include!("../common/wire_transfer.rs");

struct Payments {
    name: String,
    client: atlasent::Client,
}

impl Payments {
    #[atlasent::protect(
        action = WireTransfer,
        agent = self.name,
        context = WireContext { amount, to: to.to_owned() },
        client = self.client
    )]
    async fn wire(&self, amount: u64, to: &str, permit: &Permit<WireTransfer>) -> Result<String, AppError> {
        Ok(format!("{} sent {amount} to {to} under {}", self.name, permit.permit_id()))
    }

    #[atlasent::protect(action = WireTransfer, agent = "payments-bot", context = transfer, client = self.client)]
    async fn wire_owned(&mut self, transfer: WireContext, permit: Permit<WireTransfer>) -> Result<Permit, AppError> {
        self.name.push('!');
        Ok(permit.into())
    }
}

fn main() {
    let _ = (Payments::wire, Payments::wire_owned);
}
