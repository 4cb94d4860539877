//! The extractors: who is calling ([`Authed`], [`AuthedJson`]: API key,
//! scope and rate limit), and the JSON body of a POST.
//!
//! Authentication comes first: a request without a valid key learns nothing
//! about its body (every such failure is the same 401), and failed
//! authentications are counted per client address (429 past the limit).
//! With an `Authorization` header the key is checked before the body is
//! read; without one (1.4.1 clients send `api_key` in the body) the body is
//! read, within the size limit, only to find `api_key`, and anything wrong
//! with it is the same 401. Body errors are reported in detail only to an
//! authenticated caller; a body `api_key` must agree with the header's.

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::fields::Fields;
use super::layers::RequestId;
use super::rate::RateState;
use super::AppState;
use crate::engine::Caller;
use crate::keys::ApiKeyInfo;

/// The scopes an endpoint requires (one of them; any key when empty).
pub(super) trait Scope {
    /// The scopes, one of which the key must hold.
    const SCOPES: &'static [&'static str];
}

macro_rules! scopes {
    ($($(#[$doc:meta])* $name:ident => [$($scope:literal),*];)*) => {$(
        $(#[$doc])*
        pub(super) struct $name;
        impl Scope for $name {
            const SCOPES: &'static [&'static str] = &[$($scope),*];
        }
    )*};
}

scopes! {
    /// Any valid key.
    AnyKey => [];
    /// `evaluate`.
    EvaluateScope => ["evaluate"];
    /// `verify`: also what reads permit records (a permit id is a bearer
    /// token for verifying within its organization, so a key that may not
    /// verify, an auditor's, must not learn live ids either).
    VerifyScope => ["verify"];
    /// `revoke`.
    RevokeScope => ["revoke"];
    /// `audit.read`.
    AuditReadScope => ["audit.read"];
    /// `audit.export`.
    AuditExportScope => ["audit.export"];
}

/// An authenticated, rate-limited request.
pub(super) struct Ctx {
    pub(super) request_id: String,
    pub(super) key: ApiKeyInfo,
    pub(super) rate: RateState,
}

impl Ctx {
    /// The caller as the engine knows it; `body` is the request body whose
    /// digest binds a stored reply to this exact request.
    pub(super) fn caller(&self, body: &Map<String, Value>) -> Caller {
        let canonical = atlasent::audit::canonical_json_of(body).unwrap_or_default();
        Caller {
            key_id: self.key.key_id.clone(),
            org_id: self.key.org_id.clone(),
            request_id: self.request_id.clone(),
            body_digest: hex::encode(Sha256::digest(canonical.as_bytes())),
        }
    }

    /// A 200 with a JSON body the engine wrote, and the rate-limit headers.
    pub(super) fn reply(&self, body: String) -> Response {
        let mut response = (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        self.rate.set_headers(response.headers_mut());
        response
    }

    /// A 200 with `body` as JSON (a reply type of [`atlasent::wire`]).
    pub(super) fn reply_json(&self, body: &impl serde::Serialize) -> Result<Response, ApiError> {
        let text = serde_json::to_string(body).map_err(|e| {
            crate::engine::EngineError::Storage(format!("cannot serialize the reply: {e}"))
        })?;
        Ok(self.reply(text))
    }
}

/// The same answer for every failed authentication, so that nothing about
/// the request (its body, which key is close) leaks to an unauthenticated
/// caller; the failure counts against the client's address.
const UNAUTHORIZED: &str = "missing or invalid API key: send `Authorization: Bearer <key>` \
                            (or `api_key` in a JSON body)";

/// How long a request body may take to arrive: a client that stops sending
/// mid-body does not hold its connection and task for ever.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The client's address when the server was started with connection info
/// (in-process routers have none and share one failure budget).
fn client_addr(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The request's id, as the request-id layer stored it.
fn request_id(extensions: &Extensions) -> String {
    extensions
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default()
}

/// The key of an `Authorization: Bearer` header: `Ok(None)` without the
/// header, `Err` for a header that is not a bearer credential.
pub(super) fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ()> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = v.to_str().map_err(|_| ())?;
    let key = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .ok_or(())?
        .trim();
    Ok(Some(key))
}

/// One request's authentication against the state.
struct Gate<'a> {
    state: &'a AppState,
    addr: Option<IpAddr>,
    request_id: String,
}

impl<'a> Gate<'a> {
    /// Refuse a client address that failed to authenticate too often.
    fn open(state: &'a AppState, extensions: &Extensions) -> Result<Self, ApiError> {
        let addr = client_addr(extensions);
        state.auth_failures.check(&addr).map_err(|rate| {
            ApiError::rate_limited(
                format!(
                    "too many failed authentications from this address ({} per minute)",
                    rate.limit
                ),
                rate,
            )
        })?;
        Ok(Gate {
            state,
            addr,
            request_id: request_id(extensions),
        })
    }

    /// Count a failed authentication and build the 401.
    fn failed(&self) -> ApiError {
        let _ = self.state.auth_failures.hit(&self.addr);
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_api_key", UNAUTHORIZED)
    }

    /// The key's record, or the 401.
    fn key(&self, key: Option<&str>) -> Result<&'a ApiKeyInfo, ApiError> {
        key.and_then(|k| self.state.keys.find(k))
            .ok_or_else(|| self.failed())
    }

    /// Count the request against the key's rate and require one of
    /// `scopes` (none when empty).
    fn admit(&self, info: &ApiKeyInfo, scopes: &[&str]) -> Result<Ctx, ApiError> {
        let rate = self.state.limiter.hit(&info.key_id).map_err(|rate| {
            ApiError::rate_limited(
                format!("rate limit of {} requests per minute exceeded", rate.limit),
                rate,
            )
        })?;
        if !scopes.is_empty() && !scopes.iter().any(|s| info.allows(s)) {
            let names: Vec<String> = scopes.iter().map(|s| format!("`{s}`")).collect();
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this API key lacks the {} scope", names.join(" or ")),
            )
            .with_rate(rate));
        }
        Ok(Ctx {
            request_id: self.request_id.clone(),
            key: info.clone(),
            rate,
        })
    }
}

/// A request authenticated by its `Authorization` header, holding one of
/// `S`'s scopes (GET endpoints).
pub(super) struct Authed<S> {
    pub(super) ctx: Ctx,
    _scope: PhantomData<S>,
}

impl<S: Scope> FromRequestParts<Arc<AppState>> for Authed<S> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let gate = Gate::open(state, &parts.extensions)?;
        let info = gate.key(bearer(&parts.headers).ok().flatten())?;
        Ok(Authed {
            ctx: gate.admit(info, S::SCOPES)?,
            _scope: PhantomData,
        })
    }
}

/// A POST authenticated by its header or its body's `api_key`, holding one
/// of `S`'s scopes, with its body: one JSON object (empty for an empty
/// body).
pub(super) struct AuthedJson<S> {
    pub(super) ctx: Ctx,
    pub(super) body: Map<String, Value>,
    _scope: PhantomData<S>,
}

impl<S> AuthedJson<S> {
    /// The body's members, for validation.
    pub(super) fn fields(&self) -> Fields<'_> {
        Fields::new(&self.body)
    }

    /// The caller, bound to the body.
    pub(super) fn caller(&self) -> Caller {
        self.ctx.caller(&self.body)
    }
}

impl<S: Scope> FromRequest<Arc<AppState>> for AuthedJson<S> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let gate = Gate::open(state, req.extensions())?;
        let (ctx, body) = match bearer(req.headers()).map(|k| k.map(str::to_owned)) {
            Err(()) => return Err(gate.failed()),
            Ok(Some(key)) => {
                let ctx = gate.admit(gate.key(Some(&key))?, S::SCOPES)?;
                let body = json_object(&read_body(state, req).await?)?;
                match body.get("api_key") {
                    None => {}
                    Some(Value::String(k)) if *k == key => {}
                    // The caller holds a valid key: say what is wrong.
                    Some(_) => {
                        return Err(gate.failed().with_message(
                            "the Authorization header and the body's api_key name different \
                             keys",
                        ))
                    }
                }
                (ctx, body)
            }
            Ok(None) => {
                let bytes = read_body(state, req).await?;
                let body = json_object(&bytes).map_err(|_| gate.failed())?;
                let info = gate.key(body.get("api_key").and_then(Value::as_str))?;
                (gate.admit(info, S::SCOPES)?, body)
            }
        };
        Ok(AuthedJson {
            ctx,
            body,
            _scope: PhantomData,
        })
    }
}

/// Read a body up to the limit ([`DefaultBodyLimit`](axum::extract::DefaultBodyLimit)
/// of the router, `max_body_bytes`): a declared length past it is refused
/// before reading, a body that does not arrive in time is a 408.
async fn read_body(state: &AppState, req: Request) -> Result<Bytes, ApiError> {
    let limit = state.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "bad_request",
            format!("request body is larger than {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(BODY_TIMEOUT, Bytes::from_request(req, &())).await {
        Ok(read) => read.map_err(|_| too_large()),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "bad_request",
            format!(
                "the request body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// Parse a body as one JSON object; a member name that appears twice (after
/// decoding escapes) is refused, never read first-wins or last-wins.
fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = atlasent::wire::from_slice_strict(bytes).map_err(|e| {
        let what = if e.is_duplicate() {
            "request body repeats a member name"
        } else {
            "request body is not valid JSON"
        };
        ApiError::bad_request(format!("{what}: {e}"))
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::invalid(format!(
            "request body must be a JSON object, got {}",
            atlasent::wire::json_kind(&other)
        ))),
    }
}
