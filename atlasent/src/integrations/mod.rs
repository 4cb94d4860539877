//! Web-framework integrations (features `axum`, `actix`).
//!
//! Every framework maps an [`crate::Error`] to a response the same
//! way, fail-closed — never a 2xx:
//!
//! | error | status | body |
//! |---|---|---|
//! | denial (policy or verification) | 403 | `{"error":"denied","reason","request_id"}` |
//! | hold or escalate (a human must decide) | 403 | `{"error":"held","decision":"hold"\|"escalate","reason","request_id"}` |
//! | `rate_limited` | 429, `Retry-After` | `{"error":"rate_limited","retry_after_seconds"}` |
//! | anything else | 503 | `{"error":"authorization_unavailable","code"}` |
//!
//! The 503 body names the error code but not the message: details of the
//! decision service stay in the logs (a `tracing` warning), not in replies to
//! end users. The 403 bodies leave out the decision id and its audit hash
//! (after a failed verification the decision id is a permit id) and the
//! escalation id: handles for the API rather than for the end user. The
//! request id is enough to find the decision (every audit event records it).

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;

use crate::error::{Error, ErrorCode};

/// How an error becomes an HTTP reply.
pub(crate) struct HttpReply {
    pub(crate) status: u16,
    pub(crate) body: serde_json::Value,
    pub(crate) retry_after: Option<u64>,
}

impl Error {
    pub(crate) fn http_reply(&self) -> HttpReply {
        match self {
            Error::Denied(d) => HttpReply {
                status: 403,
                body: serde_json::json!({
                    "error": "denied",
                    "reason": d.reason(),
                    "request_id": d.request_id(),
                }),
                retry_after: None,
            },
            Error::Held(h) => HttpReply {
                status: 403,
                body: serde_json::json!({
                    "error": "held",
                    "decision": if h.decision() == crate::Decision::Escalate { "escalate" } else { "hold" },
                    "reason": h.reason(),
                    "request_id": h.request_id(),
                }),
                retry_after: None,
            },
            e if e.code() == Some(ErrorCode::RateLimited) => {
                // Round up: retrying early would only be refused again.
                let secs = e
                    .retry_after()
                    .map_or(1, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
                    .max(1);
                HttpReply {
                    status: 429,
                    body: serde_json::json!({ "error": "rate_limited", "retry_after_seconds": secs }),
                    retry_after: Some(secs),
                }
            }
            e => {
                tracing::warn!(error = %e, "authorization unavailable; refusing the request (fail-closed)");
                HttpReply {
                    status: 503,
                    body: serde_json::json!({
                        "error": "authorization_unavailable",
                        "code": e.code().map(ErrorCode::as_str),
                    }),
                    retry_after: None,
                }
            }
        }
    }
}
