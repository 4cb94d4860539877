//! axum integration (feature `axum`): errors as responses, a tower layer that
//! guards routes, and the [`Authorized`] extractor.
//!
//! ```no_run
//! use atlasent::integrations::axum::{Authorized, ProtectLayer};
//! use axum::{routing::post, Router};
//!
//! async fn deploy(permit: Authorized) -> String {
//!     format!("deploying under {}", permit.permit_id())
//! }
//!
//! # fn app(client: atlasent::Client) -> Router {
//! Router::new().route(
//!     "/deploy",
//!     post(deploy).layer(
//!         ProtectLayer::new("deploy_to_production")
//!             .client(client)
//!             .agent_from_header("x-agent-id")
//!             .context(|parts| serde_json::json!({ "path": parts.uri.path() })),
//!     ),
//! )
//! # }
//! ```
//!
//! Handlers can also be guarded with `#[atlasent::protect]` directly and
//! return `Result<_, atlasent::Error>`: the error converts into the response
//! of the table in [`integrations`](crate::integrations).

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::client::Client;
use crate::error::Error;
use crate::permit::Permit;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let reply = self.http_reply();
        let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            reply.body.to_string(),
        )
            .into_response();
        if let Some(secs) = reply.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The verified permit of the current request, put there by
/// [`ProtectLayer`]. Extracting it where the layer did not run is refused
/// with 503 (fail-closed), not an empty value.
#[derive(Debug, Clone)]
pub struct Authorized(Arc<Permit>);

impl Authorized {
    /// The permit.
    pub fn permit(&self) -> &Permit {
        &self.0
    }
}

impl Deref for Authorized {
    type Target = Permit;
    fn deref(&self) -> &Permit {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Authorized>().cloned().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "Authorized extracted on a route without ProtectLayer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"error":"authorization_unavailable","code":"route_not_guarded"}"#,
            )
                .into_response()
        })
    }
}

type AgentFn = dyn Fn(&Parts) -> Option<String> + Send + Sync;
type ContextFn = dyn Fn(&Parts) -> serde_json::Value + Send + Sync;

struct LayerConfig {
    action: String,
    client: Option<Client>,
    agent: Arc<AgentFn>,
    context: Arc<ContextFn>,
}

/// A tower layer that obtains a [`Permit`] (evaluate + verify) before the
/// inner service runs, and puts it into the request extensions as
/// [`Authorized`]. Any failure answers the request itself (403, 429 or 503)
/// and the inner service is not called.
#[derive(Clone)]
pub struct ProtectLayer {
    config: Arc<LayerConfig>,
}

impl ProtectLayer {
    /// Guard with `action`. The agent defaults to the `x-agent-id` header;
    /// the context to `{}`; the client to the global one.
    pub fn new(action: impl Into<String>) -> Self {
        Self {
            config: Arc::new(LayerConfig {
                action: action.into(),
                client: None,
                agent: Arc::new(|parts: &Parts| header_value(parts, "x-agent-id")),
                context: Arc::new(|_: &Parts| serde_json::json!({})),
            }),
        }
    }

    fn map(self, f: impl FnOnce(&mut LayerConfig)) -> Self {
        let mut config = match Arc::try_unwrap(self.config) {
            Ok(config) => config,
            Err(shared) => LayerConfig {
                action: shared.action.clone(),
                client: shared.client.clone(),
                agent: Arc::clone(&shared.agent),
                context: Arc::clone(&shared.context),
            },
        };
        f(&mut config);
        Self {
            config: Arc::new(config),
        }
    }

    /// Use this client instead of the global one.
    pub fn client(self, client: Client) -> Self {
        self.map(|c| c.client = Some(client))
    }

    /// Take the agent from a request header; a request without it gets 401.
    pub fn agent_from_header(self, name: &'static str) -> Self {
        self.agent(move |parts| header_value(parts, name))
    }

    /// Derive the agent from the request (`None` answers 401).
    pub fn agent(self, f: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static) -> Self {
        self.map(|c| c.agent = Arc::new(f))
    }

    /// Derive the policy context from the request (a JSON object).
    pub fn context(self, f: impl Fn(&Parts) -> serde_json::Value + Send + Sync + 'static) -> Self {
        self.map(|c| c.context = Arc::new(f))
    }
}

fn header_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl<S> tower_layer::Layer<S> for ProtectLayer {
    type Service = ProtectService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ProtectService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service of [`ProtectLayer`].
#[derive(Clone)]
pub struct ProtectService<S> {
    inner: S,
    config: Arc<LayerConfig>,
}

impl<S, B> tower_service::Service<Request<B>> for ProtectService<S>
where
    S: tower_service::Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was polled ready is the one that serves (tower's
        // usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let Some(agent) = (config.agent)(&parts) else {
                return Ok((
                    StatusCode::UNAUTHORIZED,
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"error":"missing_agent"}"#,
                )
                    .into_response());
            };
            let context = (config.context)(&parts);
            let outcome = match &config.client {
                Some(client) => client.protect(&agent, &config.action, &context).await,
                None => crate::global::protect(&agent, &config.action, &context).await,
            };
            match outcome {
                Ok(permit) => {
                    parts.extensions.insert(Authorized(Arc::new(permit)));
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(error) => Ok(error.into_response()),
            }
        })
    }
}
