//! An inherent method, agent and context taken from `self`.
use atlasent::Permit;

include!("../common/app_error.rs");

struct Agent {
    name: String,
    client: atlasent::Client,
}

impl Agent {
    #[atlasent::protect(action = "read", agent = self.name, context = serde_json::json!({ "who": self.name }), client = self.client)]
    async fn read(&self, path: &str, _permit: Permit) -> Result<String, AppError> {
        Ok(format!("{} read {path}", self.name))
    }
}

fn main() {
    let _ = Agent::read;
}
