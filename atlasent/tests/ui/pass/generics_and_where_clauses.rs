//! Generic parameters and where-clauses survive.
use atlasent::Permit;

include!("../common/app_error.rs");

use std::fmt::Display;

#[atlasent::protect(action = "render", agent = "bot", context = serde_json::json!({ "n": items.len() }))]
async fn render<T, U: Clone>(items: Vec<T>, extra: U, _permit: Permit) -> Result<String, AppError>
where
    T: Display + Send,
    U: Send,
{
    let _ = extra.clone();
    Ok(items.iter().map(ToString::to_string).collect())
}

fn main() {
    let _ = render(vec![1, 2], "x");
}
