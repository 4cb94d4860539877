//! Permits by id: `GET /v1/permits`, `GET /v1/permits/{id}`,
//! `POST /v1/permits/{id}/verify`, `POST /v1/permits/{id}/revoke` — the
//! current wire only, scoped to the key's organization (another
//! organization's permit is a 404 exactly like an unknown id).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value};

use super::{
    authenticate_header, authenticated_body, ok, ApiError, AppState, ClientAddr, Ctx, Fields,
    MAX_NAME_CHARS, MAX_REASON_CHARS,
};
use crate::clock;
use crate::engine::{PermitCursor, PermitFilter, PermitStatus};

/// The largest page of `GET /v1/permits`.
pub(crate) const MAX_PERMIT_PAGE: u32 = 200;
/// The default page size of `GET /v1/permits`.
pub(crate) const DEFAULT_PERMIT_PAGE: u32 = 50;

/// Who may read and list permit records: only a key that may verify
/// permits. A permit id is a bearer token for `POST /v1/permits/{id}/verify`
/// within its organization, so a key that may not verify (an auditor's,
/// `audit.read`) must not learn live ids either.
const READ_SCOPES: &[&str] = &["verify"];

/// The query parameters of `GET /v1/permits`.
const LIST_PARAMS: &[&str] = &[
    "status",
    "actor_id",
    "action_type",
    "from",
    "to",
    "limit",
    "cursor",
];

/// The permit id of a path, or the 404 of a permit that cannot exist (a
/// path that does not decode, an id longer than any this server issues).
fn permit_id(path: Result<Path<String>, PathRejection>, rid: &str) -> Result<String, ApiError> {
    match path {
        Ok(Path(id)) if !id.is_empty() && id.chars().count() <= MAX_NAME_CHARS => Ok(id),
        _ => Err(ApiError::permit_not_found(rid)),
    }
}

/// The query parameters, each at most once.
fn query(
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
    rid: &str,
) -> Result<Map<String, Value>, ApiError> {
    let Query(pairs) =
        q.map_err(|e| ApiError::invalid(format!("the query string cannot be read: {e}"), rid))?;
    let mut out = Map::new();
    for (name, value) in pairs {
        if !LIST_PARAMS.contains(&name.as_str()) {
            return Err(ApiError::invalid(
                format!(
                    "unknown query parameter `{name}`; expected {}",
                    LIST_PARAMS.join(", ")
                ),
                rid,
            ));
        }
        if out.insert(name.clone(), Value::String(value)).is_some() {
            return Err(ApiError::invalid(
                format!("query parameter `{name}` is given twice"),
                rid,
            ));
        }
    }
    Ok(out)
}

/// The filter, page size and cursor of a listing.
fn list_request(
    q: &Map<String, Value>,
    rid: &str,
) -> Result<(PermitFilter, u32, Option<PermitCursor>), ApiError> {
    let param = |name: &str| {
        q.get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let time = |name: &str| -> Result<Option<i64>, ApiError> {
        match param(name) {
            None => Ok(None),
            Some(v) => clock::parse_rfc3339_ms(v).map(Some).ok_or_else(|| {
                ApiError::invalid(
                    format!("`{name}` must be an RFC 3339 timestamp, got {v:?}"),
                    rid,
                )
            }),
        }
    };
    let status = match param("status") {
        None => None,
        Some(v) => Some(PermitStatus::parse(v).ok_or_else(|| {
            let all: Vec<&str> = PermitStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::invalid(
                format!("`status` must be one of {}, got {v:?}", all.join(", ")),
                rid,
            )
        })?),
    };
    let limit = match q.get("limit").and_then(Value::as_str) {
        None => DEFAULT_PERMIT_PAGE,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PERMIT_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    format!("`limit` must be an integer from 1 to {MAX_PERMIT_PAGE}, got {v:?}"),
                    rid,
                )
            })?,
    };
    let cursor = match param("cursor") {
        None => None,
        Some(v) => Some(PermitCursor::parse(v).ok_or_else(|| {
            ApiError::invalid(
                format!("`cursor` {v:?} is not a cursor this server issued"),
                rid,
            )
        })?),
    };
    let filter = PermitFilter {
        status,
        actor_id: param("actor_id").map(str::to_owned),
        action: param("action_type").map(str::to_owned),
        from_ms: time("from")?,
        to_ms: time("to")?,
    };
    Ok((filter, limit, cursor))
}

/// `GET /v1/permits`: the organization's permits, newest first.
pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let ctx = authenticate_header(&state, addr, &headers, READ_SCOPES)?;
    let rid = ctx.request_id.clone();
    let (filter, limit, cursor) = list_request(&query(q, &rid)?, &rid)?;
    let page = state
        .engine
        .permits(&ctx.key.org_id, filter, limit, cursor)
        .await
        .map_err(|e| ApiError::engine(e, &rid))?;
    Ok(ok(&ctx, to_text(&page, &rid)?))
}

/// `GET /v1/permits/{id}`: one permit record.
pub(super) async fn get_one(
    State(state): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let ctx = authenticate_header(&state, addr, &headers, READ_SCOPES)?;
    let rid = ctx.request_id.clone();
    let id = permit_id(path, &rid)?;
    let record = state
        .engine
        .permit(&ctx.key.org_id, &id)
        .await
        .map_err(|e| ApiError::engine(e, &rid))?
        .ok_or_else(|| ApiError::permit_not_found(&rid))?;
    Ok(ok(&ctx, to_text(&record, &rid)?))
}

/// `POST /v1/permits/{id}/verify` (body `{}` or empty).
pub(super) async fn verify(
    State(state): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let (map, ctx) =
        authenticated_body(&state, addr, &headers, body, Some(&["api_key"]), "verify").await?;
    let rid = ctx.request_id.clone();
    let id = permit_id(path, &rid)?;
    let reply = state
        .engine
        .verify_by_id(bound_caller(&ctx, &map, &id), &id)
        .await
        .map_err(|e| ApiError::engine(e, &rid))?;
    Ok(ok(&ctx, reply))
}

/// `POST /v1/permits/{id}/revoke` (body `{"reason"?}`).
pub(super) async fn revoke(
    State(state): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let allowed: &[&str] = &["reason", "api_key"];
    let (map, ctx) =
        authenticated_body(&state, addr, &headers, body, Some(allowed), "revoke").await?;
    let rid = ctx.request_id.clone();
    let id = permit_id(path, &rid)?;
    let reason = Fields::new(&map, &rid).string("reason", false, 0, MAX_REASON_CHARS)?;
    let reply = state
        .engine
        .revoke_by_id(bound_caller(&ctx, &map, &id), &id, reason)
        .await
        .map_err(|e| ApiError::engine(e, &rid))?;
    Ok(ok(&ctx, reply))
}

/// The caller, with the permit id of the path bound into the request's
/// digest: a request id reused for another permit is another request (409),
/// never the first permit's stored reply. (`permit_id` cannot be a body
/// member: unknown members are refused.)
fn bound_caller(ctx: &Ctx, body: &Map<String, Value>, id: &str) -> crate::engine::Caller {
    let mut bound = body.clone();
    bound.insert("permit_id".to_owned(), Value::from(id));
    ctx.caller(&bound)
}

fn to_text(value: &impl serde::Serialize, rid: &str) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| {
        ApiError::engine(
            crate::engine::EngineError::Storage(format!("cannot serialize the reply: {e}")),
            rid,
        )
    })
}
