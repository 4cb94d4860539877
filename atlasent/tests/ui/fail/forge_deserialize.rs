//! A permit cannot be deserialized from JSON.
use atlasent::Permit;

include!("../common/app_error.rs");

fn main() {
    let _forged: Permit = serde_json::from_str(r#"{"permit_id":"dec_fake"}"#).unwrap();
}
