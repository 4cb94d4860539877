//! An actix-web service with a guarded handler.
//!
//! ```text
//! cargo run --example actix_service
//! curl -X POST localhost:8080/wire/2500     # 200 with the permit id
//! curl -X POST localhost:8080/wire/50000    # 403 with the policy's reason
//! ```
//!
//! It listens on `127.0.0.1:8080`; give another address as the argument
//! (`cargo run --example actix_service -- 127.0.0.1:8081`) if that is taken.
//!
//! `atlasent::Error` is an actix `ResponseError` (feature `actix`): a deny
//! answers 403, a rate limit 429 with `Retry-After`, anything else 503.

#[path = "support/backend.rs"]
mod backend;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_web::{post, web, HttpResponse};
use atlasent::Permit;
use serde_json::json;

/// What the handlers share.
pub struct AppState {
    /// The AtlaSent client the guard uses.
    pub client: atlasent::Client,
    /// How many handler bodies ran.
    pub bodies_run: Arc<AtomicUsize>,
}

// `#[protect]` goes above the route attribute: it removes the permit
// parameter before actix sees the handler's extractors.
#[atlasent::protect(
    action = "wire_transfer",
    agent = "finance-agent",
    context = json!({ "amount_usd": *amount, "counterparty_id": "acme-corp", "memo": "via actix" }),
    client = state.client,
)]
#[post("/wire/{amount}")]
async fn wire(
    state: web::Data<AppState>,
    amount: web::Path<u64>,
    permit: Permit,
) -> Result<HttpResponse, atlasent::Error> {
    state.bodies_run.fetch_add(1, Ordering::SeqCst);
    Ok(HttpResponse::Ok().json(json!({ "wired": *amount, "permit_id": permit.permit_id() })))
}

/// Register the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(wire);
}

#[allow(dead_code)]
#[actix_web::main]
async fn main() -> std::process::ExitCode {
    backend::serve(async |client| -> Result<(), backend::BoxError> {
        let state = web::Data::new(AppState {
            client,
            bodies_run: Arc::default(),
        });
        let addr = backend::listen_addr("127.0.0.1:8080");
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(state.clone())
                .configure(routes)
        })
        .bind(&addr)
        .map_err(|e| {
            let command = "cargo run --example actix_service -- 127.0.0.1:8081";
            backend::cannot_listen(&addr, e, command)
        })?;
        for bound in server.addrs() {
            eprintln!("listening on http://{bound}");
        }
        server.run().await?;
        Ok(())
    })
    .await
}
