//! A permit cannot be built with a struct literal.
use atlasent::Permit;

include!("../common/app_error.rs");

fn forge() -> Permit {
    Permit {
        permit_id: "dec_fake".into(),
        permit_hash: String::new(),
        audit_hash: String::new(),
        reason: String::new(),
        timestamp: String::new(),
        agent: "bot".into(),
        action: "deploy".into(),
    }
}

fn main() {
    let _ = forge();
}
