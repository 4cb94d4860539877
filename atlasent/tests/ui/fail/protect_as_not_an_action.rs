//! `protect_as` takes an action type; a type without `#[atlasent::action]` is refused.
pub struct NotAnAction;

async fn run(client: &atlasent::Client) -> Result<(), atlasent::Error> {
    let _permit = client
        .protect_as::<NotAnAction>("bot", &serde_json::json!({}))
        .await?;
    Ok(())
}

fn main() {
    let _ = run;
}
