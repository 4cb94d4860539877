//! The routes, and the layers around them.

use std::sync::Arc;

use atlasent::wire::paths;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{middleware, Router};

use super::handlers::*;
use super::{layers, AppState};

/// The router with every endpoint: paths from [`atlasent::wire::paths`],
/// bodies read under the server's `max_body_bytes`, every request given
/// its id.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let body_limit = DefaultBodyLimit::max(state.max_body_bytes);
    Router::new()
        .route(paths::EVALUATE, post(evaluate))
        .route(paths::VERIFY_PERMIT, post(verify))
        .route(paths::REVOKE_PERMIT, post(revoke))
        .route(paths::API_KEY_SELF, get(key_self))
        .route(paths::AUDIT_EVENTS, get(audit_events))
        .route(paths::AUDIT_EXPORTS, post(audit_export))
        .route(paths::SIGNING_KEYS, get(signing_keys))
        .route(paths::PERMITS, get(permits))
        .route(paths::PERMIT, get(permit))
        .route(paths::PERMIT_VERIFY, post(permit_verify))
        .route(paths::PERMIT_REVOKE, post(permit_revoke))
        .route(paths::HEALTH, get(health))
        .fallback(not_found)
        .layer(body_limit)
        .layer(middleware::from_fn(layers::request_id))
        .with_state(state)
}
