//! An axum service whose sensitive routes are guarded by AtlaSent.
//!
//! ```text
//! cargo run --example axum_service
//! curl -X POST localhost:3000/deploy -H 'x-agent-id: deploy-bot' -H 'x-environment: staging'
//! ```
//!
//! It listens on `127.0.0.1:3000`; give another address as the argument
//! (`cargo run --example axum_service -- 127.0.0.1:3001`) if that is taken.
//!
//! - `POST /deploy` is guarded by [`ProtectLayer`]: the agent comes from the
//!   `x-agent-id` header, the context from the request; the handler receives
//!   the verified permit as [`Authorized`].
//! - `POST /wire/{amount}` is a `#[atlasent::protect]` handler: its errors
//!   become 403 (denied), 429 (rate limited, with `Retry-After`) or 503
//!   (decision service unavailable) — never 200 without a permit.

#[path = "support/backend.rs"]
mod backend;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use atlasent::integrations::axum::{Authorized, ProtectLayer};
use atlasent::Permit;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// What the handlers share; `bodies_run` counts handler bodies that ran.
#[derive(Clone)]
pub struct AppState {
    /// The AtlaSent client the guards use.
    pub client: atlasent::Client,
    /// How many handler bodies ran.
    pub bodies_run: Arc<AtomicUsize>,
}

async fn deploy(State(state): State<AppState>, permit: Authorized) -> Json<Value> {
    state.bodies_run.fetch_add(1, Ordering::SeqCst);
    Json(
        json!({ "deployed": true, "permit_id": permit.permit_id(), "audit_hash": permit.audit_hash() }),
    )
}

#[atlasent::protect(
    action = "wire_transfer",
    agent = "finance-agent",
    context = json!({ "amount_usd": amount, "counterparty_id": "acme-corp", "memo": "via axum" }),
    client = state.client,
)]
async fn wire(
    State(state): State<AppState>,
    Path(amount): Path<u64>,
    permit: Permit,
) -> Result<Json<Value>, atlasent::Error> {
    state.bodies_run.fetch_add(1, Ordering::SeqCst);
    Ok(Json(
        json!({ "wired": amount, "permit_id": permit.permit_id() }),
    ))
}

/// The service, with its routes guarded.
pub fn app(state: AppState) -> Router {
    let guard = ProtectLayer::new("deploy")
        .client(state.client.clone())
        .agent_from_header("x-agent-id")
        .context(|parts| {
            let env = parts
                .headers
                .get("x-environment")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("production");
            json!({ "environment": env, "path": parts.uri.path() })
        });
    Router::new()
        .route("/deploy", post(deploy).layer(guard))
        .route("/wire/{amount}", post(wire))
        .with_state(state)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    backend::exit_status(run().await)
}

#[allow(dead_code)]
async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let backend = backend::connect().await?;
    eprintln!("{}", backend.description);
    let state = AppState {
        client: backend.client.clone(),
        bodies_run: Arc::default(),
    };
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
        format!(
            "cannot listen on {addr} ({e}); pass another address: \
             cargo run --example axum_service -- 127.0.0.1:3001"
        )
    })?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app(state)).await?;
    Ok(())
}
