//! The layers around every route: the request id, and the body limit.
//!
//! [`request_id`] gives each request its id (the client's `X-Request-ID`
//! when it is sane, else a fresh one), stores it in the request's extensions
//! as [`RequestId`] for the extractors, runs the request inside a tracing
//! span that names it, sends it back as `X-Request-ID` and writes an
//! [`ApiError`](super::error::ApiError)'s body with it — so no handler threads the
//! id through its errors.
//!
//! The body limit is axum's [`DefaultBodyLimit`](axum::extract::DefaultBodyLimit)
//! (see [`router`](super::router::router)), which the body extractor reads under.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::error::ErrorBody;
use crate::clock;

/// The request's id, in its extensions.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

impl RequestId {
    /// The client's `X-Request-ID` when it is sane, else a fresh one.
    fn of(headers: &HeaderMap) -> Self {
        let sent = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()));
        RequestId(sent.map_or_else(fresh_id, str::to_owned))
    }
}

/// A fresh request id: a random UUID as 32 lowercase hex digits. A
/// correlation id, not a secret, so if the OS generator fails a
/// clock-and-counter id still keeps requests apart.
fn fresh_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        b[..8].copy_from_slice(&clock::now_ms().to_be_bytes());
        b[8..].copy_from_slice(&n.to_be_bytes());
    }
    uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .simple()
        .to_string()
}

/// The request-id layer (`axum::middleware::from_fn`).
pub(super) async fn request_id(mut request: Request, next: Next) -> Response {
    let id = RequestId::of(request.headers());
    request.extensions_mut().insert(id.clone());
    let span = tracing::info_span!("request", request_id = %id.0);
    let mut response = next.run(request).instrument(span).await;
    if let Some(ErrorBody { code, message }) = response.extensions_mut().remove::<ErrorBody>() {
        let body = atlasent::wire::ErrorResponse {
            code: Some(code.to_owned()),
            message: Some(message),
            reason: None,
            request_id: Some(id.0.clone()),
        };
        // Strings only: serializing cannot fail.
        *response.body_mut() = Body::from(serde_json::to_string(&body).unwrap_or_default());
    }
    if let Ok(v) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}
