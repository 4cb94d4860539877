//! The HTTP surface: the v1 endpoints over axum. Authentication, rate limits,
//! body limits and request validation live here; decisions, permits and the
//! audit log live in the [`Engine`].
//!
//! Authentication comes first: a request without a valid key learns nothing
//! about its body (every such failure is the same 401), and failed
//! authentications are counted per client address (429 past the limit).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::clock;
use crate::engine::{Caller, Engine, EngineError, EventFilter, Shape, VerifyInput};
use crate::keys::{ApiKeyInfo, ApiKeys};
use crate::policy::json_type;

mod permits;
mod shape;

/// The longest agent or action accepted (characters), as the contract says.
pub(crate) const MAX_NAME_CHARS: usize = 256;
/// The longest revocation reason accepted (characters).
pub(crate) const MAX_REASON_CHARS: usize = 1024;
/// The largest page of `GET /v1-audit/events`.
pub(crate) const MAX_PAGE: u32 = 500;
/// The default page size of `GET /v1-audit/events`.
pub(crate) const DEFAULT_PAGE: u32 = 50;

/// Shared state of the handlers.
pub(crate) struct AppState {
    pub(crate) engine: Engine,
    pub(crate) keys: ApiKeys,
    pub(crate) limiter: RateLimiter<String>,
    pub(crate) auth_failures: RateLimiter<Option<IpAddr>>,
    pub(crate) max_body_bytes: usize,
}

/// The router with every endpoint.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1-evaluate", post(evaluate))
        .route("/v1-verify-permit", post(verify))
        .route("/v1-revoke-permit", post(revoke))
        .route("/v1-api-key-self", get(key_self))
        .route("/v1-audit/events", get(audit_events))
        .route("/v1-audit/exports", post(audit_export))
        .route("/v1-signing-keys", get(signing_keys))
        .route("/v1/permits", get(permits::list))
        .route("/v1/permits/{id}", get(permits::get_one))
        .route("/v1/permits/{id}/verify", post(permits::verify))
        .route("/v1/permits/{id}/revoke", post(permits::revoke))
        .route("/health", get(health))
        .fallback(not_found)
        .with_state(state)
}

/// The client's address when the server was started with connection info
/// (in-process routers have none and share one failure budget).
pub(crate) struct ClientAddr(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// Fixed one-minute windows per key (API key id, client address).
pub(crate) struct RateLimiter<K> {
    per_minute: u32,
    windows: Mutex<HashMap<K, (i64, u32)>>,
}

#[derive(Debug, Clone, Copy)]
struct RateState {
    limit: u32,
    remaining: u32,
    /// Unix seconds when the window resets.
    reset: i64,
}

/// Past this many tracked keys, entries of past windows are dropped, so a
/// flood of addresses cannot grow the table without bound.
const MAX_TRACKED: usize = 10_000;

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn window() -> i64 {
        let now = clock::now_ms() / 1000;
        now - now.rem_euclid(60)
    }

    fn state(&self, window: i64, used: u32) -> RateState {
        RateState {
            limit: self.per_minute,
            remaining: self.per_minute.saturating_sub(used),
            reset: window + 60,
        }
    }

    /// Count one request of `key`; `Err` when over the limit.
    fn hit(&self, key: &K) -> Result<RateState, RateState> {
        let window = Self::window();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= MAX_TRACKED && !windows.contains_key(key) {
            windows.retain(|_, (w, _)| *w == window);
        }
        let entry = windows.entry(key.clone()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= self.per_minute {
            return Err(self.state(window, entry.1));
        }
        entry.1 += 1;
        Ok(self.state(window, entry.1))
    }

    /// `Err` when `key` has used up this window, without counting.
    fn check(&self, key: &K) -> Result<(), RateState> {
        let window = Self::window();
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        match windows.get(key) {
            Some(&(w, used)) if w == window && used >= self.per_minute => {
                Err(self.state(window, used))
            }
            _ => Ok(()),
        }
    }
}

/// An error reply in the contract's shape.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    request_id: String,
    rate: Option<RateState>,
    /// `Retry-After` seconds of a 429 that is not the key's rate limit.
    retry_after: Option<u64>,
}

/// How long a client waits for a busy export slot.
const EXPORT_RETRY_SECS: u64 = 5;
/// How long a request body may take to arrive: a client that stops sending
/// mid-body does not hold its connection and task for ever.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        request_id: &str,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            request_id: request_id.to_owned(),
            rate: None,
            retry_after: None,
        }
    }

    fn invalid(message: impl Into<String>, request_id: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_request",
            message,
            request_id,
        )
    }

    /// The 404 of a permit the caller's organization does not have: the
    /// same for an unknown id, another organization's permit and a decision
    /// that issued no permit.
    fn permit_not_found(request_id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "permit_not_found",
            "permit not found",
            request_id,
        )
    }

    fn rate_limited(message: String, rate: RateState, request_id: &str) -> Self {
        let mut err = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            message,
            request_id,
        );
        err.rate = Some(rate);
        err
    }

    fn engine(e: EngineError, request_id: &str) -> Self {
        match e {
            EngineError::RequestIdReused { .. } => Self::new(
                StatusCode::CONFLICT,
                "bad_request",
                e.to_string(),
                request_id,
            ),
            EngineError::ExportTooLarge { .. } => Self::invalid(e.to_string(), request_id),
            EngineError::PermitNotFound => Self::permit_not_found(request_id),
            EngineError::PermitUsed => Self::new(
                StatusCode::CONFLICT,
                "permit_consumed",
                e.to_string(),
                request_id,
            ),
            EngineError::ExportsBusy(_) => {
                let mut err = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    e.to_string(),
                    request_id,
                );
                err.retry_after = Some(EXPORT_RETRY_SECS);
                err
            }
            EngineError::Storage(_) | EngineError::Closed => {
                tracing::error!(error = %e, request_id, "engine failure");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_error",
                    "the decision could not be confirmed as recorded; retry with the same X-Request-ID",
                    request_id,
                )
            }
        }
    }
}

fn rate_headers(headers: &mut HeaderMap, rate: RateState) {
    for (name, value) in [
        ("x-ratelimit-limit", rate.limit.to_string()),
        ("x-ratelimit-remaining", rate.remaining.to_string()),
        ("x-ratelimit-reset", rate.reset.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}

fn request_id_header(headers: &mut HeaderMap, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", v);
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            json!({ "message": self.message, "code": self.code, "request_id": self.request_id });
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        let headers = response.headers_mut();
        request_id_header(headers, &self.request_id);
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(rate) = self.rate {
            rate_headers(headers, rate);
            if self.status == StatusCode::TOO_MANY_REQUESTS {
                let wait = (rate.reset - clock::now_ms() / 1000).max(1);
                headers.insert(header::RETRY_AFTER, HeaderValue::from(wait as u64));
            }
        }
        response
    }
}

/// A successful JSON reply with the request id and rate-limit headers.
fn ok(ctx: &Ctx, body: String) -> Response {
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    request_id_header(response.headers_mut(), &ctx.request_id);
    rate_headers(response.headers_mut(), ctx.rate);
    response
}

/// An authenticated, rate-limited request.
struct Ctx {
    request_id: String,
    key: ApiKeyInfo,
    rate: RateState,
}

impl Ctx {
    /// The caller as the engine knows it; `body` is the request body whose
    /// digest binds a stored reply to this exact request.
    fn caller(&self, body: &Map<String, Value>) -> Caller {
        let canonical = atlasent::audit::canonical_json_of(body).unwrap_or_default();
        Caller {
            key_id: self.key.key_id.clone(),
            org_id: self.key.org_id.clone(),
            request_id: self.request_id.clone(),
            body_digest: atlasent::audit::hex(&Sha256::digest(canonical.as_bytes())),
        }
    }
}

/// The client's `X-Request-ID` when it is sane, else a fresh one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            // A correlation id, not a secret: if the OS generator fails, a
            // clock-and-counter id still keeps requests apart.
            let mut b = [0u8; 16];
            if getrandom::fill(&mut b).is_err() {
                static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                b[..8].copy_from_slice(&clock::now_ms().to_be_bytes());
                b[8..].copy_from_slice(&n.to_be_bytes());
            }
            atlasent::audit::hex(&b)
        })
}

/// The same answer for every failed authentication, so that nothing about
/// the request (its body, which key is close) leaks to an unauthenticated
/// caller; the failure counts against the client's address.
const UNAUTHORIZED: &str = "missing or invalid API key: send `Authorization: Bearer <key>` \
                            (or `api_key` in a JSON body)";

impl AppState {
    /// Refuse a client address that failed to authenticate too often.
    fn not_blocked(&self, addr: Option<IpAddr>, rid: &str) -> Result<(), ApiError> {
        self.auth_failures.check(&addr).map_err(|rate| {
            ApiError::rate_limited(
                format!(
                    "too many failed authentications from this address ({} per minute)",
                    rate.limit
                ),
                rate,
                rid,
            )
        })
    }

    /// Count a failed authentication of `addr` and build the 401.
    fn auth_failed(&self, addr: Option<IpAddr>, rid: &str) -> ApiError {
        let _ = self.auth_failures.hit(&addr);
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            UNAUTHORIZED,
            rid,
        )
    }

    /// Count the request against the key's rate and require one of
    /// `scopes` (none when empty).
    fn admit(
        &self,
        info: &ApiKeyInfo,
        request_id: String,
        scopes: &[&str],
    ) -> Result<Ctx, ApiError> {
        let rate = self.limiter.hit(&info.key_id).map_err(|rate| {
            ApiError::rate_limited(
                format!("rate limit of {} requests per minute exceeded", rate.limit),
                rate,
                &request_id,
            )
        })?;
        if !scopes.is_empty() && !scopes.iter().any(|s| info.allows(s)) {
            let names: Vec<String> = scopes.iter().map(|s| format!("`{s}`")).collect();
            let mut err = ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this API key lacks the {} scope", names.join(" or ")),
                &request_id,
            );
            err.rate = Some(rate);
            return Err(err);
        }
        Ok(Ctx {
            request_id,
            key: info.clone(),
            rate,
        })
    }
}

/// The key of an `Authorization: Bearer` header: `Ok(None)` without the
/// header, `Err` for a header that is not a bearer credential.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ()> {
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

/// Authenticate a request that carries its key in the header (GET); the
/// key must hold one of `scopes` (any key when empty).
fn authenticate_header(
    state: &AppState,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    scopes: &[&str],
) -> Result<Ctx, ApiError> {
    let rid = request_id(headers);
    state.not_blocked(addr, &rid)?;
    let info = match bearer(headers) {
        Ok(Some(key)) => state.keys.find(key),
        Ok(None) | Err(()) => None,
    };
    match info {
        Some(info) => state.admit(info, rid, scopes),
        None => Err(state.auth_failed(addr, &rid)),
    }
}

/// The common start of every POST. With an `Authorization` header the key
/// is checked before the body is read; without one, the body is read (within
/// the size limit) only to find `api_key`, and anything wrong with it is the
/// same 401. Body errors are reported in detail only to an authenticated
/// caller. A body `api_key` must agree with the header's. Members outside
/// `allowed` are refused; `None` leaves that to the caller (a body of two
/// possible shapes).
async fn authenticated_body(
    state: &AppState,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    body: Body,
    allowed: Option<&[&str]>,
    scope: &str,
) -> Result<(Map<String, Value>, Ctx), ApiError> {
    let rid = request_id(headers);
    state.not_blocked(addr, &rid)?;
    let (map, ctx) = match bearer(headers) {
        Err(()) => return Err(state.auth_failed(addr, &rid)),
        Ok(Some(key)) => {
            let Some(info) = state.keys.find(key) else {
                return Err(state.auth_failed(addr, &rid));
            };
            let ctx = state.admit(info, rid, &[scope])?;
            let bytes = read_body(state, headers, body, &ctx.request_id).await?;
            let map = json_object(&bytes, &ctx.request_id)?;
            match map.get("api_key") {
                None => {}
                Some(Value::String(k)) if k == key => {}
                Some(_) => {
                    // The caller holds a valid key: say what is wrong.
                    let mut err = state.auth_failed(addr, &ctx.request_id);
                    err.message = "the Authorization header and the body's api_key name \
                                   different keys"
                        .into();
                    return Err(err);
                }
            }
            (map, ctx)
        }
        Ok(None) => {
            let bytes = read_body(state, headers, body, &rid).await?;
            let map = json_object(&bytes, &rid).map_err(|_| state.auth_failed(addr, &rid))?;
            let info = match map.get("api_key") {
                Some(Value::String(k)) => state.keys.find(k),
                _ => None,
            };
            let Some(info) = info else {
                return Err(state.auth_failed(addr, &rid));
            };
            let ctx = state.admit(info, rid, &[scope])?;
            (map, ctx)
        }
    };
    if let Some(allowed) = allowed {
        Fields::new(&map, &ctx.request_id).refuse_unknown(allowed)?;
    }
    Ok((map, ctx))
}

/// Read a body up to the limit.
async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    request_id: &str,
) -> Result<Bytes, ApiError> {
    let limit = state.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "bad_request",
            format!("request body is larger than {limit} bytes"),
            request_id,
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, limit)).await {
        Ok(read) => read.map_err(|_| too_large()),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "bad_request",
            format!(
                "the request body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ),
            request_id,
        )),
    }
}

/// Parse a body as one JSON object; a member name that appears twice (after
/// decoding escapes) is refused, never read first-wins or last-wins.
fn json_object(bytes: &[u8], request_id: &str) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = atlasent::wire::from_slice_strict(bytes).map_err(|e| {
        let what = if e.is_duplicate() {
            "request body repeats a member name"
        } else {
            "request body is not valid JSON"
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("{what}: {e}"),
            request_id,
        )
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::invalid(
            format!(
                "request body must be a JSON object, got {}",
                json_type(&other)
            ),
            request_id,
        )),
    }
}

/// Field-by-field validation of a request body with precise messages.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    request_id: &'a str,
}

impl<'a> Fields<'a> {
    fn new(map: &'a Map<String, Value>, request_id: &'a str) -> Self {
        Self { map, request_id }
    }

    fn refuse_unknown(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(unknown) => Err(ApiError::invalid(
                format!("unknown field `{unknown}`; expected {}", allowed.join(", ")),
                self.request_id,
            )),
            None => Ok(()),
        }
    }

    fn string(
        &self,
        name: &str,
        required: bool,
        min: usize,
        max: usize,
    ) -> Result<Option<&'a str>, ApiError> {
        match self.map.get(name) {
            None if required => Err(ApiError::invalid(
                format!("missing required field `{name}`"),
                self.request_id,
            )),
            None => Ok(None),
            Some(Value::String(s)) => {
                let chars = s.chars().count();
                if chars < min || chars > max {
                    let range = if min == 0 {
                        format!("at most {max}")
                    } else {
                        format!("{min} to {max}")
                    };
                    return Err(ApiError::invalid(
                        format!("`{name}` must be {range} characters, got {chars}"),
                        self.request_id,
                    ));
                }
                Ok(Some(s))
            }
            Some(other) => Err(ApiError::invalid(
                format!("`{name}` must be a string, got {}", json_type(other)),
                self.request_id,
            )),
        }
    }

    /// An optional member of the JSON type `kind` (`"a boolean"`, …), as
    /// [`json_type`] names types.
    fn typed(&self, name: &str, kind: &str) -> Result<Option<&'a Value>, ApiError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(v) if json_type(v) == kind => Ok(Some(v)),
            Some(other) => Err(ApiError::invalid(
                format!("`{name}` must be {kind}, got {}", json_type(other)),
                self.request_id,
            )),
        }
    }

    /// An optional boolean member (`false` when absent).
    fn flag(&self, name: &str) -> Result<bool, ApiError> {
        Ok(self
            .typed(name, "a boolean")?
            .and_then(Value::as_bool)
            .unwrap_or(false))
    }

    fn object(&self, name: &str) -> Result<&'a Map<String, Value>, ApiError> {
        match self.map.get(name) {
            None => Err(ApiError::invalid(
                format!("missing required field `{name}`"),
                self.request_id,
            )),
            Some(Value::Object(o)) => Ok(o),
            Some(other) => Err(ApiError::invalid(
                format!("`{name}` must be a JSON object, got {}", json_type(other)),
                self.request_id,
            )),
        }
    }
}

/// The members of a 1.4.1 evaluate body.
const LEGACY_EVALUATE: &[&str] = &["action", "agent", "context", "api_key"];
/// The members of a 1.4.1 verify body.
const LEGACY_VERIFY: &[&str] = &["decision_id", "action", "agent", "context", "api_key"];

async fn evaluate(
    State(state): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (map, ctx) = authenticated_body(&state, addr, &headers, body, None, "evaluate").await?;
    let rid = ctx.request_id.clone();
    let reply = match shape::detect(&map, shape::Endpoint::Evaluate, &rid)? {
        Shape::Current => {
            let request = shape::CurrentEvaluate::parse(&map, &rid)?;
            state
                .engine
                .evaluate_request(ctx.caller(&map), request.input())
                .await
        }
        Shape::Legacy => {
            let fields = Fields::new(&map, &rid);
            fields.refuse_unknown(LEGACY_EVALUATE)?;
            let action = fields
                .string("action", true, 1, MAX_NAME_CHARS)?
                .unwrap_or_default();
            let agent = fields
                .string("agent", true, 1, MAX_NAME_CHARS)?
                .unwrap_or_default();
            let context = fields.object("context")?;
            state
                .engine
                .evaluate(ctx.caller(&map), agent, action, context)
                .await
        }
    }
    .map_err(|e| ApiError::engine(e, &rid))?;
    Ok(ok(&ctx, reply))
}

async fn verify(
    State(state): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (map, ctx) = authenticated_body(&state, addr, &headers, body, None, "verify").await?;
    let rid = ctx.request_id.clone();
    let input = match shape::detect(&map, shape::Endpoint::Verify, &rid)? {
        Shape::Current => shape::current_verify(&map, &rid)?,
        Shape::Legacy => {
            let fields = Fields::new(&map, &rid);
            fields.refuse_unknown(LEGACY_VERIFY)?;
            let permit_id = fields
                .string("decision_id", true, 1, MAX_NAME_CHARS)?
                .unwrap_or_default();
            let action = fields
                .string("action", false, 0, MAX_NAME_CHARS)?
                .unwrap_or_default();
            let agent = fields
                .string("agent", false, 0, MAX_NAME_CHARS)?
                .unwrap_or_default();
            let context = if map.contains_key("context") {
                Some(fields.object("context")?)
            } else {
                None
            };
            VerifyInput {
                shape: Shape::Legacy,
                permit_id,
                agent,
                action,
                context,
                environment: None,
                execution_hash: None,
                require_approval: false,
            }
        }
    };
    let reply = state
        .engine
        .verify_request(ctx.caller(&map), input)
        .await
        .map_err(|e| ApiError::engine(e, &rid))?;
    Ok(ok(&ctx, reply))
}

async fn revoke(
    State(state): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (map, ctx) = authenticated_body(
        &state,
        addr,
        &headers,
        body,
        Some(&["decision_id", "reason", "api_key"]),
        "revoke",
    )
    .await?;
    let rid = ctx.request_id.clone();
    let fields = Fields::new(&map, &rid);
    let permit_id = fields
        .string("decision_id", true, 1, MAX_NAME_CHARS)?
        .unwrap_or_default();
    let reason = fields.string("reason", false, 0, MAX_REASON_CHARS)?;
    let reply = state
        .engine
        .revoke(ctx.caller(&map), permit_id, reason)
        .await
        .map_err(|e| ApiError::engine(e, &rid))?;
    Ok(ok(&ctx, reply))
}

async fn key_self(
    State(state): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx = authenticate_header(&state, addr, &headers, &[])?;
    // The key was found, so the header holds it.
    let environment = match bearer(&headers) {
        Ok(Some(key)) => crate::keys::key_environment(key),
        _ => crate::keys::key_environment(""),
    };
    // 1.4.1 reads `organization_id`, 2.x `org_id`: both are sent.
    let body = json!({
        "key_id": ctx.key.key_id,
        "org_id": ctx.key.org_id,
        "organization_id": ctx.key.org_id,
        "environment": environment,
        "scopes": ctx.key.scopes,
        "allowed_cidrs": null,
        "rate_limit_per_minute": state.limiter.per_minute,
        "client_ip": null,
        "expires_at": null,
        "request_id": ctx.request_id,
    });
    Ok(ok(&ctx, body.to_string()))
}

fn event_filter(q: &HashMap<String, String>, rid: &str) -> Result<EventFilter, ApiError> {
    let time = |name: &str| -> Result<Option<i64>, ApiError> {
        match q.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => clock::parse_rfc3339_ms(v).map(Some).ok_or_else(|| {
                ApiError::invalid(
                    format!("`{name}` must be an RFC 3339 timestamp, got {v:?}"),
                    rid,
                )
            }),
        }
    };
    Ok(EventFilter {
        types: q
            .get("types")
            .map(|t| {
                t.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        actor_id: q.get("actor_id").filter(|v| !v.is_empty()).cloned(),
        from_ms: time("from")?,
        to_ms: time("to")?,
    })
}

async fn audit_events(
    State(state): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let ctx = authenticate_header(&state, addr, &headers, &["audit.read"])?;
    let rid = ctx.request_id.clone();
    if let Some(unknown) = q
        .keys()
        .find(|k| !["types", "actor_id", "from", "to", "limit", "cursor"].contains(&k.as_str()))
    {
        return Err(ApiError::invalid(
            format!("unknown query parameter `{unknown}`"),
            &rid,
        ));
    }
    let filter = event_filter(&q, &rid)?;
    let limit = match q.get("limit") {
        None => DEFAULT_PAGE,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    format!("`limit` must be an integer from 1 to {MAX_PAGE}, got {v:?}"),
                    &rid,
                )
            })?,
    };
    let cursor = match q.get("cursor").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::invalid(
                format!("`cursor` {v:?} is not a cursor this server issued"),
                &rid,
            )
        })?),
    };
    let page = state
        .engine
        .events(&ctx.key.org_id, filter, limit, cursor)
        .await
        .map_err(|e| ApiError::engine(e, &rid))?;
    let body = json!({
        "events": page.events,
        "total": page.total,
        "next_cursor": page.next_cursor,
    });
    Ok(ok(&ctx, body.to_string()))
}

async fn audit_export(
    State(state): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let allowed = ["types", "actor_id", "from", "to", "api_key"];
    let (map, ctx) =
        authenticated_body(&state, addr, &headers, body, Some(&allowed), "audit.export").await?;
    let rid = ctx.request_id.clone();
    let fields = Fields::new(&map, &rid);
    let mut q = HashMap::new();
    for name in ["types", "actor_id", "from", "to"] {
        if let Some(v) = fields.string(name, false, 0, 4096)? {
            q.insert(name.to_owned(), v.to_owned());
        }
    }
    let filter = event_filter(&q, &rid)?;
    let bundle = state
        .engine
        .export(&ctx.key.org_id, filter)
        .await
        .map_err(|e| ApiError::engine(e, &rid))?;
    Ok(ok(&ctx, bundle))
}

async fn signing_keys(
    State(state): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx = authenticate_header(&state, addr, &headers, &[])?;
    let signer = state.engine.signer();
    let body = json!({
        "keys": [{
            "key_id": signer.key_id(),
            "algorithm": "ed25519",
            "public_key_pem": signer.public_key_pem(),
            "status": "active",
        }]
    });
    Ok(ok(&ctx, body.to_string()))
}

async fn health() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

async fn not_found(headers: HeaderMap) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "bad_request",
        "no such endpoint",
        &request_id(&headers),
    )
}
