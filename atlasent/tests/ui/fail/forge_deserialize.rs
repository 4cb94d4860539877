//! A permit cannot be deserialized from JSON.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

fn main() {
    let _forged: Permit = serde_json::from_str(r#"{"permit_id":"dec_fake"}"#).unwrap();
}
