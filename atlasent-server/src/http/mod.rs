//! The HTTP surface: the v1 endpoints over axum. Authentication, rate limits,
//! body limits and request validation live here; decisions, permits and the
//! audit log live in the [`Engine`].
//!
//! - [`router`](mod@router): the routes (paths from [`atlasent::wire::paths`]) and the
//!   layers: the request id ([`layers`]) and the body limit.
//! - [`extract`]: who is calling — [`Authed`](extract::Authed) (GET) and
//!   [`AuthedJson`](extract::AuthedJson) (POST, with its JSON body) check the
//!   API key, its scope and its rate limit ([`rate`]).
//! - [`fields`] validates members and query parameters; [`bodies`] reads
//!   each request into the engine's input.
//! - [`handlers`]: a few lines each.
//! - [`error`]: the one error type, [`ApiError`](error::ApiError), and its one reply.

use std::net::IpAddr;

use crate::engine::Engine;
use crate::keys::ApiKeys;

mod bodies;
mod error;
mod extract;
mod fields;
mod handlers;
mod layers;
mod rate;
mod router;

pub(crate) use rate::RateLimiter;
pub(crate) use router::router;

/// Shared state of the handlers.
pub(crate) struct AppState {
    pub(crate) engine: Engine,
    pub(crate) keys: ApiKeys,
    pub(crate) limiter: RateLimiter<String>,
    pub(crate) auth_failures: RateLimiter<Option<IpAddr>>,
    pub(crate) max_body_bytes: usize,
}
