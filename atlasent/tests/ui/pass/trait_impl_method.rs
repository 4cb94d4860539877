//! A trait-impl method: the trait declares no permit, the impl receives one.
use atlasent::Permit;

include!("../common/app_error.rs");

trait Tool {
    async fn call(&self, input: &str) -> Result<String, AppError>;
}

struct Search;

impl Tool for Search {
    #[atlasent::protect(action = "search", agent = "assistant", context = serde_json::json!({ "q": input }))]
    async fn call(&self, input: &str, _permit: Permit) -> Result<String, AppError> {
        Ok(input.to_uppercase())
    }
}

fn main() {
    let _ = Search.call("q");
}
