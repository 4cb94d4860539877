//! The one error type of the HTTP surface and its one reply: a status, the
//! contract's `{"code", "message", "request_id"}` body
//! ([`ErrorResponse`](atlasent::wire::ErrorResponse)), `Retry-After` and the
//! rate-limit headers where they apply.
//!
//! A handler or extractor builds an [`ApiError`] without the request id: its
//! response carries an [`ErrorBody`] that the request-id layer
//! ([`layers::request_id`](super::layers::request_id)) writes out with the
//! request's id.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::rate::RateState;
use crate::engine::EngineError;

/// How long a client waits for a busy export slot.
const EXPORT_RETRY_SECS: u64 = 5;

/// An error reply in the contract's shape.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// The key's rate state, for its headers (and a 429's `Retry-After`).
    rate: Option<RateState>,
    /// `Retry-After` seconds of a 429 that is not the key's rate limit.
    retry_after: Option<u64>,
}

/// The code and message of an error reply, left in the response's
/// extensions for the request-id layer to write as the body.
#[derive(Debug, Clone)]
pub(super) struct ErrorBody {
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            rate: None,
            retry_after: None,
        }
    }

    /// A 400 `bad_request`: a body that cannot be read as JSON.
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// A 422 `bad_request`: a member or parameter of the wrong kind.
    pub(super) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_request", message)
    }

    /// The 404 of a permit the caller's organization does not have: the
    /// same for an unknown id, another organization's permit and a decision
    /// that issued no permit.
    pub(super) fn permit_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "permit_not_found",
            "permit not found",
        )
    }

    /// A 429 of a rate limit, with its headers.
    pub(super) fn rate_limited(message: String, rate: RateState) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).with_rate(rate)
    }

    /// The same error with the key's rate-limit headers.
    pub(super) fn with_rate(mut self, rate: RateState) -> Self {
        self.rate = Some(rate);
        self
    }

    /// The same error with another message.
    pub(super) fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::RequestIdReused { .. } => {
                Self::new(StatusCode::CONFLICT, "bad_request", e.to_string())
            }
            EngineError::ExportTooLarge { .. } => Self::invalid(e.to_string()),
            EngineError::PermitNotFound => Self::permit_not_found(),
            EngineError::PermitUsed => {
                Self::new(StatusCode::CONFLICT, "permit_consumed", e.to_string())
            }
            EngineError::ExportsBusy(_) => {
                let mut err =
                    Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string());
                err.retry_after = Some(EXPORT_RETRY_SECS);
                err
            }
            EngineError::Storage(_) | EngineError::Closed => {
                // Logged inside the request's span, which names its id.
                tracing::error!(error = %e, "engine failure");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_error",
                    "the store did not answer or did not confirm the write, which may or may \
                     not be recorded: retry (with the same X-Request-ID for a decision)",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, [(header::CONTENT_TYPE, "application/json")]).into_response();
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(rate) = self.rate {
            rate.set_headers(headers);
            if self.status == StatusCode::TOO_MANY_REQUESTS {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(rate.retry_after()));
            }
        }
        response.extensions_mut().insert(ErrorBody {
            code: self.code,
            message: self.message,
        });
        response
    }
}
