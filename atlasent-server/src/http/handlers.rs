//! The handlers: each reads its request through the extractors and
//! [`bodies`], asks the [`Engine`](crate::engine::Engine) and
//! replies. Permits by id (`/v1/permits…`) speak the current wire only and
//! are scoped to the key's organization: another organization's permit is a
//! 404 exactly like an unknown id.

use std::sync::Arc;

use atlasent::wire::limits::{MAX_EXPORT_FILTER_CHARS, MAX_REASON_CHARS};
use atlasent::wire::{
    ApiKeySelfResponse, AuditEventsResponse, HealthResponse, SigningKey, SigningKeysResponse,
};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::bodies::{self, Evaluate};
use super::error::ApiError;
use super::extract::{
    bearer, AnyKey, AuditExportScope, AuditReadScope, Authed, AuthedJson, Ctx, EvaluateScope,
    RevokeScope, VerifyScope,
};
use super::fields::QueryPairs;
use super::AppState;
use crate::engine::Caller;

type St = State<Arc<AppState>>;
type Reply = Result<Response, ApiError>;
type PermitPath = Result<Path<String>, PathRejection>;

/// `POST /v1-evaluate`, either shape.
pub(super) async fn evaluate(State(state): St, req: AuthedJson<EvaluateScope>) -> Reply {
    let reply = match Evaluate::parse(&req.body)? {
        Evaluate::Current(body) => {
            let input = body.input();
            state.engine.evaluate_request(req.caller(), input).await?
        }
        Evaluate::Legacy {
            agent,
            action,
            context,
        } => {
            let caller = req.caller();
            state
                .engine
                .evaluate(caller, agent, action, context)
                .await?
        }
    };
    Ok(req.ctx.reply(reply))
}

/// `POST /v1-verify-permit`, either shape.
pub(super) async fn verify(State(state): St, req: AuthedJson<VerifyScope>) -> Reply {
    let input = bodies::verify(&req.body)?;
    let reply = state.engine.verify_request(req.caller(), input).await?;
    Ok(req.ctx.reply(reply))
}

/// `POST /v1-revoke-permit`.
pub(super) async fn revoke(State(state): St, req: AuthedJson<RevokeScope>) -> Reply {
    let fields = req.fields();
    fields.refuse_unknown(bodies::REVOKE_MEMBERS)?;
    let permit_id = fields.name("decision_id")?;
    let reason = fields.string("reason", false, 0, MAX_REASON_CHARS)?;
    let reply = state.engine.revoke(req.caller(), permit_id, reason).await?;
    Ok(req.ctx.reply(reply))
}

/// `GET /v1-api-key-self`.
pub(super) async fn key_self(
    State(state): St,
    headers: axum::http::HeaderMap,
    Authed { ctx, .. }: Authed<AnyKey>,
) -> Reply {
    // The key was found, so the header holds it.
    let key = bearer(&headers).ok().flatten().unwrap_or_default();
    // 1.4.1 reads `organization_id`, 2.x `org_id`: both are sent.
    ctx.reply_json(&ApiKeySelfResponse {
        allowed_cidrs: None,
        client_ip: None,
        environment: crate::keys::key_environment(key).to_owned(),
        expires_at: None,
        key_id: ctx.key.key_id.clone(),
        org_id: Some(ctx.key.org_id.clone()),
        organization_id: Some(ctx.key.org_id.clone()),
        rate_limit_per_minute: state.limiter.per_minute().into(),
        request_id: Some(ctx.request_id.clone()),
        scopes: ctx.key.scopes.clone(),
    })
}

/// `GET /v1-audit/events`.
pub(super) async fn audit_events(
    State(state): St,
    Authed { ctx, .. }: Authed<AuditReadScope>,
    query: QueryPairs,
) -> Reply {
    let query = bodies::events_page(query)?;
    let page = state.engine.events(&ctx.key.org_id, query).await?;
    ctx.reply_json(&AuditEventsResponse {
        events: page.events,
        next_cursor: page.next_cursor,
        total: page.total,
    })
}

/// `POST /v1-audit/exports`.
pub(super) async fn audit_export(State(state): St, req: AuthedJson<AuditExportScope>) -> Reply {
    let fields = req.fields();
    fields.refuse_unknown(bodies::EXPORT_MEMBERS)?;
    for name in ["types", "actor_id", "from", "to"] {
        fields.string(name, false, 0, MAX_EXPORT_FILTER_CHARS)?;
    }
    let filter = bodies::event_filter(fields)?;
    let bundle = state.engine.export(&req.ctx.key.org_id, filter).await?;
    Ok(req.ctx.reply(bundle))
}

/// `GET /v1-signing-keys`.
pub(super) async fn signing_keys(State(state): St, Authed { ctx, .. }: Authed<AnyKey>) -> Reply {
    let signer = state.engine.signer();
    ctx.reply_json(&SigningKeysResponse {
        keys: vec![SigningKey {
            algorithm: Some("ed25519".to_owned()),
            key_id: signer.key_id().to_owned(),
            public_key_pem: signer.public_key_pem().to_owned(),
            status: Some("active".to_owned()),
        }],
    })
}

/// `GET /health` (no key).
pub(super) async fn health() -> Response {
    let body = HealthResponse {
        status: "ok".to_owned(),
    };
    let text = serde_json::to_string(&body).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// Any other path.
pub(super) async fn not_found() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "bad_request",
        "no such endpoint",
    )
}

/// `GET /v1/permits`: the organization's permits, newest first.
pub(super) async fn permits(
    State(state): St,
    Authed { ctx, .. }: Authed<VerifyScope>,
    query: QueryPairs,
) -> Reply {
    let query = bodies::permits_page(query)?;
    ctx.reply_json(&state.engine.permits(&ctx.key.org_id, query).await?)
}

/// `GET /v1/permits/{id}`: one permit record.
pub(super) async fn permit(
    State(state): St,
    Authed { ctx, .. }: Authed<VerifyScope>,
    path: PermitPath,
) -> Reply {
    let id = bodies::permit_id(path)?;
    let record = state.engine.permit(&ctx.key.org_id, &id).await?;
    ctx.reply_json(&record.ok_or_else(ApiError::permit_not_found)?)
}

/// `POST /v1/permits/{id}/verify` (body `{}` or empty).
pub(super) async fn permit_verify(
    State(state): St,
    path: PermitPath,
    req: AuthedJson<VerifyScope>,
) -> Reply {
    req.fields().refuse_unknown(bodies::VERIFY_BY_ID_MEMBERS)?;
    let id = bodies::permit_id(path)?;
    let caller = bound_caller(&req.ctx, &req.body, &id);
    let reply = state.engine.verify_by_id(caller, &id).await?;
    Ok(req.ctx.reply(reply))
}

/// `POST /v1/permits/{id}/revoke` (body `{"reason"?}`).
pub(super) async fn permit_revoke(
    State(state): St,
    path: PermitPath,
    req: AuthedJson<RevokeScope>,
) -> Reply {
    let fields = req.fields();
    fields.refuse_unknown(bodies::REVOKE_BY_ID_MEMBERS)?;
    let id = bodies::permit_id(path)?;
    let reason = fields.string("reason", false, 0, MAX_REASON_CHARS)?;
    let caller = bound_caller(&req.ctx, &req.body, &id);
    let reply = state.engine.revoke_by_id(caller, &id, reason).await?;
    Ok(req.ctx.reply(reply))
}

/// The caller, with the permit id of the path bound into the request's
/// digest: a request id reused for another permit is another request (409),
/// never the first permit's stored reply. (`permit_id` cannot be a body
/// member: unknown members are refused.)
fn bound_caller(ctx: &Ctx, body: &Map<String, Value>, id: &str) -> Caller {
    let mut bound = body.clone();
    bound.insert("permit_id".to_owned(), Value::from(id));
    ctx.caller(&bound)
}
