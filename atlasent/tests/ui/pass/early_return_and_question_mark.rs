//! `return` and `?` in the body behave as written.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "parse", agent = "bot")]
async fn parse(text: &str, _permit: Permit) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    if text.is_empty() {
        return Ok(0);
    }
    let n: u32 = text.parse()?;
    Ok(n)
}

fn main() {
    let _ = parse("7");
}
