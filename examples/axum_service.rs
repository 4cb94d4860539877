//! An axum service whose sensitive routes are guarded by AtlaSent.
//!
//! ```text
//! cargo run --example axum_service
//! curl -X POST localhost:3000/deploy -H 'authorization: Bearer demo-deploy-bot-token' -H 'x-environment: staging'
//! ```
//!
//! It listens on `127.0.0.1:3000`; give another address as the argument
//! (`cargo run --example axum_service -- 127.0.0.1:3001`) if that is taken.
//!
//! - `authenticate`, the service's own authentication middleware, maps a
//!   bearer token to an agent id and inserts it as the [`AgentId`] request
//!   extension. A header such as `x-agent-id` names nobody: any client can
//!   send it.
//! - `POST /deploy` is guarded by [`ProtectLayer`]: the agent is the
//!   authenticated [`AgentId`] (no token, no agent: 401, and the handler
//!   does not run), the context comes from the request; the handler receives
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
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
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

/// The demo's bearer token of the `deploy-bot` agent. A real service checks
/// its callers' credentials (sessions, signed tokens, mTLS) instead of a
/// table in the code.
pub const DEPLOY_BOT_TOKEN: &str = "demo-deploy-bot-token";

/// The tokens this service accepts and the agents they stand for.
const TOKENS: &[(&str, &str)] = &[(DEPLOY_BOT_TOKEN, "deploy-bot")];

/// The authenticated agent of a request, inserted by `authenticate` only.
#[derive(Debug, Clone)]
pub struct AgentId(String);

impl AsRef<str> for AgentId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Authentication: a valid bearer token puts its [`AgentId`] into the
/// request; a wrong one is refused here with 401; a request without one goes
/// on unauthenticated, and the guards that need an agent refuse it.
async fn authenticate(mut request: Request, next: Next) -> Response {
    let Some(authorization) = request.headers().get(header::AUTHORIZATION) else {
        return next.run(request).await;
    };
    let agent = authorization
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| TOKENS.iter().find(|(known, _)| *known == token))
        .map(|(_, agent)| AgentId((*agent).to_owned()));
    match agent {
        Some(agent) => {
            request.extensions_mut().insert(agent);
            next.run(request).await
        }
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({ "error": "invalid_token" })),
        )
            .into_response(),
    }
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
    let guard = ProtectLayer::agent_from_extension::<AgentId>("deploy")
        .client(state.client.clone())
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
        // Outermost, so it runs before every guard.
        .layer(middleware::from_fn(authenticate))
        .with_state(state)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    backend::serve(async |client| -> Result<(), backend::BoxError> {
        let addr = backend::listen_addr("127.0.0.1:3000");
        let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
            let command = "cargo run --example axum_service -- 127.0.0.1:3001";
            backend::cannot_listen(&addr, e, command)
        })?;
        eprintln!("listening on http://{}", listener.local_addr()?);
        let state = AppState {
            client,
            bodies_run: Arc::default(),
        };
        axum::serve(listener, app(state)).await?;
        Ok(())
    })
    .await
}
