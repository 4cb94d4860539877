//! A `Permit<WireTransfer>` cannot be built by hand to write a receipt
//! nothing authorized: its fields are private.
use atlasent::Permit;
use atlasent_consumer_example::payments::{Receipt, WireTransfer};

fn forge() -> Receipt {
    let permit: Permit<WireTransfer> = Permit {
        permit_id: "dec_fake".into(),
        agent: "payments-bot".into(),
        action: "payments.wire".into(),
    };
    Receipt::new(&permit, "ref_1".into(), 250)
}

fn main() {
    let _ = forge;
}
