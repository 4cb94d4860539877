//! `atlasent-server`: a local, AtlaSent-compatible decision server.
//!
//! It is a server, not a mock: policies decide, permits are signed, bound to
//! agent, action and context, expiring, single-use and revocable, and every
//! decision lands durably in a hash-chained audit log (SQLite, WAL, group
//! commit) before its reply is sent. The published Python SDK and the
//! `atlasent` crate both work against it unchanged.
//!
//! Start one in-process, on an ephemeral port, instead of mocking:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = atlasent_server::Server::builder()
//!     .policy_file("policies/finance.json")
//!     .api_key("ask_local_demo")
//!     .start()
//!     .await?;
//! let client = atlasent::Client::builder()
//!     .api_key("ask_local_demo")
//!     .base_url(server.base_url())
//!     .build()?;
//! // ... use client ...
//! server.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! Endpoints: `POST /v1-evaluate`, `POST /v1-verify-permit`,
//! `POST /v1-revoke-permit`, `GET /v1-api-key-self`, `GET /v1-audit/events`,
//! `POST /v1-audit/exports`, `GET /v1-signing-keys`, `GET /health`.
//! See [`policy`] for how policies combine, and [`engine`] for storage.
//!
//! Choices the contract leaves open, made here:
//! - Verify outcomes: `verified` (the permit is now consumed), `expired`,
//!   `consumed`, `revoked`, `not_found`, `mismatch` (agent, action or context
//!   differ from what was evaluated; empty values and `{}` skip the check, and
//!   the permit stays usable), `denied` (the id of a denied decision).
//! - A request retried with the same `X-Request-ID` (per API key and
//!   endpoint) gets the first reply again and appends no second event;
//!   replies are kept 24 hours.
//! - Audit payloads carry a SHA-256 of the context's canonical JSON, never
//!   the context itself: the log proves what was decided without copying
//!   patient records or account numbers into it.
//! - Exports cover the events matching the filter. Only an unfiltered export
//!   (or one whose filter selects a prefix of the chain) starts at the
//!   genesis hash and verifies as a whole chain.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod clock;
pub mod engine;
mod http;
pub mod keys;
pub mod policy;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use engine::Storage;
pub use keys::Signer;
pub use policy::{Policy, PolicySet};

/// A server that could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A policy could not be loaded.
    #[error(transparent)]
    Policy(#[from] policy::PolicyError),
    /// The signing key could not be loaded or created.
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    /// The store could not be opened.
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    /// The listener could not be bound or served.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
}

enum SigningKeySource {
    Generate,
    File(PathBuf),
    Given(Arc<Signer>),
}

/// Builds a [`Server`]. Defaults: listen on `127.0.0.1:0`, in-memory store,
/// a fresh signing key, permits valid for one hour, 600 requests per minute
/// per key, 64 KiB request bodies.
#[must_use = "a builder does nothing until .start() is called"]
pub struct ServerBuilder {
    listen: String,
    policies: Vec<Policy>,
    policy_paths: Vec<PathBuf>,
    api_keys: Vec<String>,
    audit_keys: Vec<String>,
    storage: Storage,
    signing_key: SigningKeySource,
    permit_ttl: Duration,
    rate_limit_per_minute: u32,
    org_id: String,
    max_body_bytes: usize,
}

/// The server: see [`Server::builder`].
pub struct Server;

impl Server {
    /// A builder with the defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            listen: "127.0.0.1:0".into(),
            policies: Vec::new(),
            policy_paths: Vec::new(),
            api_keys: Vec::new(),
            audit_keys: Vec::new(),
            storage: Storage::Memory,
            signing_key: SigningKeySource::Generate,
            permit_ttl: Duration::from_secs(3600),
            rate_limit_per_minute: 600,
            org_id: "local".into(),
            max_body_bytes: 64 * 1024,
        }
    }
}

impl ServerBuilder {
    /// The address to listen on (`127.0.0.1:0` picks a free port).
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = addr.into();
        self
    }

    /// Load a policy file, or every `*.json` file of a folder.
    pub fn policy_file(mut self, path: impl AsRef<Path>) -> Self {
        self.policy_paths.push(path.as_ref().to_owned());
        self
    }

    /// Add a compiled policy.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policies.push(policy);
        self
    }

    /// Accept an API key (call once per key; at least one is required).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_keys.push(key.into());
        self
    }

    /// Accept an auditor's key: it may list and export the audit log
    /// (`audit.read`, `audit.export`) and nothing else; decisions answer 403.
    pub fn audit_key(mut self, key: impl Into<String>) -> Self {
        self.audit_keys.push(key.into());
        self
    }

    /// Where to keep the audit log and permits (default in memory).
    pub fn storage(mut self, storage: Storage) -> Self {
        self.storage = storage;
        self
    }

    /// Load the Ed25519 signing key from a PKCS#8 PEM file, creating it if absent.
    pub fn signing_key_file(mut self, path: impl AsRef<Path>) -> Self {
        self.signing_key = SigningKeySource::File(path.as_ref().to_owned());
        self
    }

    /// Use this signing key.
    pub fn signer(mut self, signer: Arc<Signer>) -> Self {
        self.signing_key = SigningKeySource::Given(signer);
        self
    }

    /// How long a permit stays verifiable (default 1 hour).
    pub fn permit_ttl(mut self, ttl: Duration) -> Self {
        self.permit_ttl = ttl;
        self
    }

    /// Requests per minute per API key before 429 (default 600).
    pub fn rate_limit_per_minute(mut self, n: u32) -> Self {
        self.rate_limit_per_minute = n;
        self
    }

    /// The organization id in events, exports and key introspection.
    pub fn org_id(mut self, org_id: impl Into<String>) -> Self {
        self.org_id = org_id.into();
        self
    }

    /// The largest request body accepted (default 64 KiB); larger is 413.
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Load everything, bind, and serve in the background on the current
    /// tokio runtime.
    pub async fn start(self) -> Result<RunningServer, ServerError> {
        if self.api_keys.is_empty() {
            return Err(ServerError::Config(
                "at least one API key is required".into(),
            ));
        }
        if self.rate_limit_per_minute == 0 {
            return Err(ServerError::Config(
                "the rate limit must be at least 1 per minute".into(),
            ));
        }
        if self.permit_ttl.is_zero() {
            return Err(ServerError::Config(
                "the permit TTL must be greater than zero".into(),
            ));
        }
        let mut policies = self.policies;
        for path in &self.policy_paths {
            policies.extend(Policy::load(path)?);
        }
        let policies = Arc::new(PolicySet::new(policies)?);
        let signer = match self.signing_key {
            SigningKeySource::Generate => Arc::new(Signer::generate()?),
            SigningKeySource::File(path) => Arc::new(Signer::load_or_create(&path)?),
            SigningKeySource::Given(s) => s,
        };
        let mut keys = keys::ApiKeys::default();
        for key in &self.api_keys {
            keys.insert(key);
        }
        for key in &self.audit_keys {
            keys.insert_with_scopes(key, keys::AUDIT_SCOPES);
        }
        let engine = engine::Engine::open(
            engine::EngineConfig {
                storage: self.storage,
                permit_ttl: self.permit_ttl,
                org_id: self.org_id,
            },
            policies,
            Arc::clone(&signer),
        )?;
        let listener = tokio::net::TcpListener::bind(&self.listen)
            .await
            .map_err(|source| ServerError::Io {
                context: format!("cannot listen on {}", self.listen),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Io {
            context: "cannot read the listening address".into(),
            source,
        })?;
        let state = Arc::new(http::AppState {
            engine,
            keys,
            limiter: http::RateLimiter::new(self.rate_limit_per_minute),
            max_body_bytes: self.max_body_bytes,
        });
        let app = http::router(state);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
        });
        Ok(RunningServer {
            addr,
            signer,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// A server serving in the background. Dropping it stops it; call
/// [`shutdown`](RunningServer::shutdown) to wait until the log is flushed.
pub struct RunningServer {
    addr: SocketAddr,
    signer: Arc<Signer>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// `http://HOST:PORT`, to give to a client as its base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The public key exports are signed with, as SPKI PEM.
    pub fn public_key_pem(&self) -> &str {
        self.signer.public_key_pem()
    }

    /// The id of the signing key (`signing_key_id` in exports).
    pub fn signing_key_id(&self) -> &str {
        self.signer.key_id()
    }

    /// Stop accepting, finish in-flight requests, flush the log and return.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let served = task.await.map_err(|e| ServerError::Io {
                context: "the server task failed".into(),
                source: std::io::Error::other(e.to_string()),
            })?;
            served.map_err(|source| ServerError::Io {
                context: "serving failed".into(),
                source,
            })?;
        }
        Ok(())
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
