//! Code generic over `A: Action`: a helper taking `&Permit<A>`, and a guarded fn
//! whose action is a type parameter.
//! Compiled only: `main` makes no call to a server.
use atlasent::Permit;

include!("../common/app_error.rs");

include!("../common/deploy_and_read_logs.rs");

use atlasent::actions::ContextFor;
use atlasent::Action;

fn audit<A: Action>(permit: &Permit<A>) -> String {
    format!("{} may {} ({})", permit.agent(), A::NAME, permit.permit_id())
}

#[atlasent::protect(action = A, agent = "bot", context = *context)]
async fn run<A: Action, C: ContextFor<A> + Sync + ?Sized>(context: &C, permit: Permit<A>) -> Result<String, AppError> {
    Ok(audit(&permit))
}

async fn both() -> Result<(), AppError> {
    let context = serde_json::json!({ "commit": "abc123" });
    run::<DeployToProduction, _>(&context).await?;
    run::<ReadLogs, _>(&context).await?;
    Ok(())
}

fn main() {
    let _ = both();
}
