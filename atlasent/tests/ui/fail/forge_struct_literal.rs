//! A permit cannot be built with a struct literal.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

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
