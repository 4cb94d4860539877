//! `protect_as` on the async client and the async free function; an untyped
//! context for an action declared without one.
//! Compiled only: `main` makes no call to a server.
use atlasent::Permit;

#[atlasent::action("deploy_to_production")]
pub struct DeployToProduction;

fn deploy(_permit: &Permit<DeployToProduction>) {}

async fn with_client(client: &atlasent::Client) -> Result<Permit<DeployToProduction>, atlasent::Error> {
    let permit = client
        .protect_as::<DeployToProduction>("deploy-bot", &serde_json::json!({ "commit": "abc123" }))
        .await?;
    deploy(&permit);
    Ok(permit)
}

async fn with_default_client() -> Result<(), atlasent::Error> {
    #[derive(serde::Serialize)]
    struct Commit<'a> {
        commit: &'a str,
    }
    let permit = atlasent::protect_as::<DeployToProduction>("deploy-bot", &Commit { commit: "abc123" }).await?;
    deploy(&permit);
    Ok(())
}

fn assert_send<T: Send>(_: &T) {}

fn main() {
    let future = with_default_client();
    assert_send(&future);
    let _ = (with_client, future);
}
