//! An inherent method, agent and context taken from `self`.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

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
