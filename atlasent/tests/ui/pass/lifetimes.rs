//! Lifetimes in arguments and the return type survive.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "slice", agent = who)]
async fn first_word<'a, 'b>(text: &'a str, who: &'b str, _permit: Permit) -> Result<&'a str, AppError> {
    Ok(text.split(' ').next().unwrap_or(text))
}

fn main() {
    let text = String::from("hello world");
    let _ = first_word(&text, "bot");
}
