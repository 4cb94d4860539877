//! axum integration (feature `axum`): errors as responses, a tower layer that
//! guards routes, and the [`Authorized`] extractor.
//!
//! The layer has no default agent: a header such as `x-agent-id` is whatever
//! the client wants it to be, so [`ProtectLayer`]'s constructors make you say
//! where the agent comes from — your own authentication layer
//! ([`ProtectLayer::agent_from_extension`], below), a closure, or a header
//! only a trusted proxy sets.
//!
//! ```no_run
//! use atlasent::integrations::axum::{Authorized, ProtectLayer};
//! use axum::{routing::post, Router};
//!
//! async fn deploy(permit: Authorized) -> String {
//!     format!("deploying under {}", permit.permit_id())
//! }
//!
//! # #[derive(Clone)] struct AgentId(String);
//! # impl AsRef<str> for AgentId { fn as_ref(&self) -> &str { &self.0 } }
//! # fn app(client: atlasent::Client) -> Router {
//! Router::new().route(
//!     "/deploy",
//!     post(deploy).layer(
//!         // `AgentId` is what the app's own authentication layer inserted.
//!         ProtectLayer::agent_from_extension::<AgentId>("deploy_to_production")
//!             .client(client)
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
use axum::http::{header, HeaderName, HeaderValue, Request, StatusCode};
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

impl LayerConfig {
    /// The agent of this request, or `None` (the request is refused). An
    /// empty or blank agent is no agent.
    fn agent(&self, parts: &Parts) -> Option<String> {
        (self.agent)(parts).filter(|agent| !agent.trim().is_empty())
    }
}

/// A tower layer that obtains a [`Permit`] (evaluate + verify) before the
/// inner service runs, and puts it into the request extensions as
/// [`Authorized`]. Any failure answers the request itself (401, 403, 429 or
/// 503) and the inner service is not called.
///
/// Who the agent is decides what the policy allows, so the layer never
/// guesses: each constructor names where the agent comes from.
///
/// | constructor | the agent is | use when |
/// |---|---|---|
/// | [`agent_from_extension`](Self::agent_from_extension) | a value your own authentication layer put into the request extensions | your service authenticates its callers (the usual case) |
/// | [`agent_from_fn`](Self::agent_from_fn) | what your closure derives from the request | the agent follows from something already trusted (the route, a verified client certificate, a fixed service identity) |
/// | [`agent_from_trusted_header`](Self::agent_from_trusted_header) | a header set by a proxy in front of the service | a trusted proxy authenticates callers, and strips the header from their requests |
///
/// When the source yields nothing (no extension, `None`, no header, a blank
/// value) the request is refused with 401 `{"error":"missing_agent"}`
/// before any decision is asked for: fail-closed.
///
/// There is no constructor without an agent source:
///
/// ```compile_fail
/// let guard = atlasent::integrations::axum::ProtectLayer::new("deploy");
/// ```
#[derive(Clone)]
pub struct ProtectLayer {
    config: Arc<LayerConfig>,
}

impl ProtectLayer {
    fn with_agent(
        action: impl Into<String>,
        agent: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            config: Arc::new(LayerConfig {
                action: action.into(),
                client: None,
                agent: Arc::new(agent),
                context: Arc::new(|_: &Parts| serde_json::json!({})),
            }),
        }
    }

    /// Guard with `action`; the agent is the `T` that the application's own
    /// authentication layer inserted into the request extensions (for
    /// example by mapping a verified bearer token or session to an agent
    /// id). A request without a `T` — the authentication layer did not run,
    /// or let it through unauthenticated — is refused with 401 and the
    /// inner service does not run.
    ///
    /// The context defaults to `{}`, the client to the global one.
    ///
    /// ```no_run
    /// use atlasent::integrations::axum::{Authorized, ProtectLayer};
    /// use axum::{extract::Request, middleware::{self, Next}, response::Response, routing::post, Router};
    ///
    /// /// Put there by `authenticate`, never read from a client-settable header.
    /// #[derive(Clone)]
    /// struct AgentId(String);
    ///
    /// impl AsRef<str> for AgentId {
    ///     fn as_ref(&self) -> &str {
    ///         &self.0
    ///     }
    /// }
    ///
    /// async fn authenticate(mut request: Request, next: Next) -> Response {
    ///     // Verify the caller's credentials here (token, session, mTLS …).
    ///     let agent = verified_agent(&request);
    ///     if let Some(agent) = agent {
    ///         request.extensions_mut().insert(AgentId(agent));
    ///     }
    ///     next.run(request).await
    /// }
    /// # fn verified_agent(_: &Request) -> Option<String> { None }
    ///
    /// async fn deploy(permit: Authorized) -> String {
    ///     format!("deploying under {}", permit.permit_id())
    /// }
    ///
    /// let app: Router = Router::new()
    ///     .route(
    ///         "/deploy",
    ///         post(deploy).layer(ProtectLayer::agent_from_extension::<AgentId>("deploy")),
    ///     )
    ///     // Outermost: authentication runs before the guard.
    ///     .layer(middleware::from_fn(authenticate));
    /// ```
    pub fn agent_from_extension<T>(action: impl Into<String>) -> Self
    where
        T: AsRef<str> + Send + Sync + 'static,
    {
        Self::with_agent(action, |parts: &Parts| {
            parts
                .extensions
                .get::<T>()
                .map(|agent| agent.as_ref().to_owned())
        })
    }

    /// Guard with `action`; the agent is what `agent` returns for the
    /// request, and `None` refuses it with 401 (the inner service does not
    /// run). The closure decides what to trust: read nothing from the
    /// request that its client can set, unless something in front of the
    /// service has verified it.
    ///
    /// ```
    /// use atlasent::integrations::axum::ProtectLayer;
    ///
    /// // One service identity for every request of this route.
    /// let guard = ProtectLayer::agent_from_fn("rotate_keys", |_parts| Some("key-rotator".into()));
    /// # let _ = guard;
    /// ```
    pub fn agent_from_fn(
        action: impl Into<String>,
        agent: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self::with_agent(action, agent)
    }

    /// Guard with `action`; the agent is the value of the header `name`.
    ///
    /// **Any HTTP client can send any header.** Use this only behind a
    /// trusted proxy (an API gateway, an authenticating ingress) that
    /// authenticates the caller, removes `name` from every incoming request
    /// and sets it itself; and make sure the service cannot be reached
    /// except through that proxy. Otherwise a client picks its own agent.
    ///
    /// A request without the header, with a value that is not visible
    /// ASCII, or with the header more than once (a proxy that appends
    /// instead of replacing) is refused with 401 and the inner service does
    /// not run.
    ///
    /// ```
    /// use atlasent::integrations::axum::ProtectLayer;
    ///
    /// // The gateway in front of this service sets x-agent-id and strips it
    /// // from clients' requests.
    /// let guard = ProtectLayer::agent_from_trusted_header("deploy", "x-agent-id");
    /// # let _ = guard;
    /// ```
    ///
    /// # Panics
    ///
    /// If `name` is not a valid header name (as
    /// [`HeaderName::from_static`] does): a programming error, found the
    /// first time the layer is built.
    pub fn agent_from_trusted_header(action: impl Into<String>, name: &'static str) -> Self {
        let name = match HeaderName::from_bytes(name.as_bytes()) {
            Ok(name) => name,
            Err(_) => panic!(
                "ProtectLayer::agent_from_trusted_header: {name:?} is not a valid header name"
            ),
        };
        Self::with_agent(action, move |parts: &Parts| {
            let mut values = parts.headers.get_all(&name).iter();
            let (Some(value), None) = (values.next(), values.next()) else {
                return None;
            };
            value.to_str().ok().map(|v| v.trim().to_owned())
        })
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

    /// Derive the policy context from the request (a JSON object).
    pub fn context(self, f: impl Fn(&Parts) -> serde_json::Value + Send + Sync + 'static) -> Self {
        self.map(|c| c.context = Arc::new(f))
    }
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
            let Some(agent) = config.agent(&parts) else {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use tower_layer::Layer;
    use tower_service::Service;

    use super::*;
    use crate::error::DenialStage;

    #[derive(Clone)]
    struct AgentId(String);

    impl AsRef<str> for AgentId {
        fn as_ref(&self) -> &str {
            &self.0
        }
    }

    /// The inner service: counts the calls that reached it.
    #[derive(Clone)]
    struct Body_(Arc<AtomicUsize>);

    impl Service<Request<Body>> for Body_ {
        type Response = Response;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Response, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<Body>) -> Self::Future {
            self.0.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(StatusCode::OK.into_response()))
        }
    }

    fn parts(request: Request<()>) -> Parts {
        request.into_parts().0
    }

    fn forged() -> Request<()> {
        Request::builder()
            .header("x-agent-id", "deploy-bot")
            .body(())
            .expect("request")
    }

    /// A client whose every call fails with `network`: a request that gets
    /// past the agent check is answered 503, never by the inner service.
    fn unreachable_client() -> Client {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        drop(listener);
        Client::builder()
            .api_key("ask_test_axum")
            .base_url(url)
            .max_retries(0)
            .build()
            .expect("client")
    }

    async fn status_and_runs(layer: ProtectLayer, request: Request<Body>) -> (StatusCode, usize) {
        let runs = Arc::new(AtomicUsize::new(0));
        let mut service = layer
            .client(unreachable_client())
            .layer(Body_(Arc::clone(&runs)));
        let response = service.call(request).await.expect("infallible");
        (response.status(), runs.load(Ordering::SeqCst))
    }

    #[test]
    fn agent_from_extension_reads_only_the_extension() {
        let layer = ProtectLayer::agent_from_extension::<AgentId>("deploy");
        assert_eq!(
            layer.config.agent(&parts(forged())),
            None,
            "the header is ignored"
        );
        let mut authenticated = forged();
        authenticated
            .extensions_mut()
            .insert(AgentId("billing-bot".into()));
        assert_eq!(
            layer.config.agent(&parts(authenticated)).as_deref(),
            Some("billing-bot")
        );
        let mut blank = Request::new(());
        blank.extensions_mut().insert(AgentId("  ".into()));
        assert_eq!(layer.config.agent(&parts(blank)), None, "blank is no agent");
    }

    #[test]
    fn agent_from_fn_is_what_the_closure_says() {
        let layer = ProtectLayer::agent_from_fn("deploy", |parts: &Parts| {
            (parts.uri.path() == "/ops").then(|| "ops-bot".to_owned())
        });
        let ops = Request::builder().uri("/ops").body(()).expect("request");
        assert_eq!(layer.config.agent(&parts(ops)).as_deref(), Some("ops-bot"));
        assert_eq!(layer.config.agent(&parts(forged())), None);
        let empty = ProtectLayer::agent_from_fn("deploy", |_: &Parts| Some(String::new()));
        assert_eq!(
            empty.config.agent(&parts(forged())),
            None,
            "empty is no agent"
        );
    }

    #[test]
    fn agent_from_trusted_header_reads_exactly_one_value() {
        let layer = ProtectLayer::agent_from_trusted_header("deploy", "X-Agent-Id");
        assert_eq!(
            layer.config.agent(&parts(forged())).as_deref(),
            Some("deploy-bot")
        );
        assert_eq!(layer.config.agent(&parts(Request::new(()))), None);
        // A proxy that appends its value to the client's is not trusted.
        let twice = Request::builder()
            .header("x-agent-id", "forged-bot")
            .header("x-agent-id", "deploy-bot")
            .body(())
            .expect("request");
        assert_eq!(layer.config.agent(&parts(twice)), None);
        let opaque = Request::builder()
            .header(
                "x-agent-id",
                HeaderValue::from_bytes(b"bot\xff").expect("value"),
            )
            .body(())
            .expect("request");
        assert_eq!(layer.config.agent(&parts(opaque)), None);
    }

    #[test]
    #[should_panic(expected = "not a valid header name")]
    fn agent_from_trusted_header_refuses_an_invalid_name() {
        let _ = ProtectLayer::agent_from_trusted_header("deploy", "x agent");
    }

    #[tokio::test]
    async fn a_request_without_its_agent_is_refused_before_the_body() {
        let layer = ProtectLayer::agent_from_extension::<AgentId>("deploy");
        let forged = forged().map(|()| Body::empty());
        assert_eq!(
            status_and_runs(layer.clone(), forged).await,
            (StatusCode::UNAUTHORIZED, 0)
        );
        // With the extension the layer asks for a decision: the decision
        // service is down, so 503 — and still no body.
        let mut authenticated = Request::new(Body::empty());
        authenticated
            .extensions_mut()
            .insert(AgentId("deploy-bot".into()));
        assert_eq!(
            status_and_runs(layer, authenticated).await,
            (StatusCode::SERVICE_UNAVAILABLE, 0)
        );
    }

    fn denial(stage: DenialStage) -> Error {
        Error::from(crate::error::Denial {
            stage,
            decision: crate::error::Decision::Deny,
            reason: "deny_large_wires".into(),
            evaluation_id: "dec_secret_permit".into(),
            audit_hash: "ab12".into(),
            outcome: None,
            request_id: Some("req_1".into()),
            deny_code: Some(crate::DenyCode::DenyPolicy),
            verify_error_code: None,
        })
    }

    #[tokio::test]
    async fn a_hold_is_a_403_naming_the_decision_not_the_escalation() {
        for decision in [crate::Decision::Hold, crate::Decision::Escalate] {
            let held = Error::from(crate::error::Held {
                decision,
                reason: "two-person rule".into(),
                deny_code: Some(crate::DenyCode::ActorHeld),
                escalation_id: Some("esc_secret".into()),
                evaluation_id: "dec_1".into(),
                audit_hash: "ab12".into(),
                request_id: Some("req_2".into()),
            });
            let response = held.into_response();
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            let bytes = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .expect("body");
            let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            let name = if decision == crate::Decision::Hold {
                "hold"
            } else {
                "escalate"
            };
            assert_eq!(
                body,
                serde_json::json!({
                    "error": "held",
                    "decision": name,
                    "reason": "two-person rule",
                    "request_id": "req_2",
                })
            );
        }
    }

    #[tokio::test]
    async fn the_403_body_names_the_reason_and_request_not_the_decision() {
        for stage in [DenialStage::Policy, DenialStage::Verification] {
            let response = denial(stage).into_response();
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            let bytes = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .expect("body");
            let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            assert_eq!(
                body,
                serde_json::json!({
                    "error": "denied",
                    "reason": "deny_large_wires",
                    "request_id": "req_1",
                })
            );
        }
    }
}
