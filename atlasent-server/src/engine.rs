//! The decision engine: policies decide, permits are issued, verified and
//! revoked, and every step is appended to one hash-chained audit log — with
//! no HTTP and no SQL in sight.
//!
//! What is decided is decided by pure functions: the evaluation (policies,
//! the approval a caller requires, the permit's claims) and the permit's
//! state machine ([`verify::check`]: what a verification finds, given the
//! request, the permit as stored and the time; [`status`]: a record's
//! status at a time). The [`Store`] keeps the result: each state change
//! runs as one job in its write transaction (read the permit, change it,
//! append the event, build the reply), once per request id, answered only
//! when durable. The engine reads time from the
//! [`Clock`](crate::clock::Clock) it is given, so a test moves a manual
//! clock instead of sleeping ([`Clock::manual`](crate::clock::Clock::manual)).
//!
//! Every organization has its own hash chain: its events, its permits, its
//! exports. A key of one organization cannot see, verify or revoke what
//! another organization's keys created (`not_found`, as for an unknown id).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::clock;
use crate::keys::Signer;
use crate::policy::PolicySet;
use crate::store::{
    ExportSelection, Refusal, Request, SqliteStore, Store, StoreError, Tx, WriteError,
};

mod evaluate;
mod export;
mod ids;
mod permits;
mod replies;
pub mod verify;

pub use crate::store::{
    EventFilter, EventPage, EventQuery, Page, PermitCursor, PermitFilter, PermitQuery, Storage,
    TimeRange,
};
pub use atlasent::wire::{Mismatch, PermitRecord, PermitStatus, VerifyOutcome};
pub use permits::{record, status, PermitPage};

/// A `json!` object as a map (anything else under `data`).
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => Map::from_iter([("data".to_owned(), other)]),
    }
}

/// An engine failure: the store could not be reached or written, or the
/// request cannot be answered as asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed (or the OS random generator did).
    #[error("storage error: {0}")]
    Storage(String),
    /// The writer thread is gone (the server is shutting down).
    #[error("the engine is shutting down")]
    Closed,
    /// The request id was used before, by this key on this endpoint, for a
    /// request with a different body. Nothing was decided.
    #[error(
        "X-Request-ID {request_id:?} was already used for a different request on this endpoint; \
         a retry must repeat the same body, a new request needs a new request id"
    )]
    RequestIdReused {
        /// The reused id.
        request_id: String,
    },
    /// As many exports as may run at once are running.
    #[error("{0} exports are running already; retry in a few seconds")]
    ExportsBusy(usize),
    /// An export would hold more events than the configured maximum.
    #[error(
        "the export would hold {matching} events; at most {max} fit in one export \
         (narrow it with `from`/`to`, `types` or `actor_id`)"
    )]
    ExportTooLarge {
        /// Events matching the filter.
        matching: u64,
        /// The configured maximum.
        max: usize,
    },
    /// No permit of the caller's organization has this id (an unknown id,
    /// another organization's permit and a decision that issued no permit
    /// alike).
    #[error("permit not found")]
    PermitNotFound,
    /// The permit was used (verified once through either door) and can no
    /// longer be revoked.
    #[error("the permit was already used; a used permit cannot be revoked")]
    PermitUsed,
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Closed => Self::Closed,
            other => Self::Storage(other.to_string()),
        }
    }
}

impl From<WriteError> for EngineError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Store(e) => e.into(),
            WriteError::Refused(Refusal::RequestIdReused { request_id }) => {
                Self::RequestIdReused { request_id }
            }
            WriteError::Refused(Refusal::PermitNotFound) => Self::PermitNotFound,
            WriteError::Refused(Refusal::PermitUsed) => Self::PermitUsed,
        }
    }
}

/// Settings of an engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where to store.
    pub storage: Storage,
    /// How long a permit stays verifiable.
    pub permit_ttl: Duration,
    /// The organization that events of a database written before
    /// organizations existed are migrated to.
    pub org_id: String,
    /// The most events one export may hold.
    pub max_export_events: usize,
    /// The clock decisions, expiry and exports read.
    pub clock: clock::Clock,
}

/// The default of [`EngineConfig::max_export_events`].
pub const DEFAULT_MAX_EXPORT_EVENTS: usize = 100_000;

/// Exports that may be built at once: each holds its bundle in memory (up
/// to about twice its size), so their number bounds the server's memory.
pub const MAX_CONCURRENT_EXPORTS: usize = 2;

/// Who asked, for the audit trail, scoping and idempotency.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The API key's public id.
    pub key_id: String,
    /// The key's organization: the chain its events go to and the only
    /// organization whose permits and events it can reach.
    pub org_id: String,
    /// The request's `X-Request-ID`.
    pub request_id: String,
    /// SHA-256 hex of the canonical JSON of the request body: a stored reply
    /// is replayed only for a request with the same digest.
    pub body_digest: String,
}

impl Caller {
    /// The request to `endpoint` at `now_ms` as the store's idempotency
    /// knows it.
    fn request(&self, endpoint: &'static str, now_ms: i64) -> Request {
        Request {
            org_id: self.org_id.clone(),
            key_id: self.key_id.clone(),
            endpoint,
            request_id: self.request_id.clone(),
            body_digest: self.body_digest.clone(),
            now_ms,
            reads_permit: None,
        }
    }
}

/// Which wire a request spoke: its reply is written in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// The wire of Python `atlasent` 1.4.1: `{action, agent, context}`,
    /// `{decision_id, …}`. The default: the first wire.
    #[default]
    Legacy,
    /// The wire of Python `atlasent` 2.x: `{action_type, actor_id, …}`,
    /// `{permit_token, …}`.
    Current,
}

impl Shape {
    /// The SDK's name of this wire.
    pub fn wire(self) -> atlasent::Wire {
        match self {
            Self::Legacy => atlasent::Wire::Legacy,
            Self::Current => atlasent::Wire::Current,
        }
    }

    /// `"legacy"` or `"current"`, as audit events record it.
    pub fn as_str(self) -> &'static str {
        self.wire().as_str()
    }
}

/// An evaluation request, of either shape, as the engine reads it.
#[derive(Debug, Clone, Copy)]
pub struct EvaluateInput<'a> {
    /// The request's shape; the reply has the same.
    pub shape: Shape,
    /// The actor (`agent` / `actor_id`).
    pub agent: &'a str,
    /// The action (`action` / `action_type`).
    pub action: &'a str,
    /// What the policies read and the permit is bound to (its
    /// `context_hash` and `execution_hash` cover it): the context as sent,
    /// plus, on the current wire, the top-level `environment`, `resource_id`
    /// and `amount` it lacked. A verifier binds with this merged context.
    pub context: &'a Map<String, Value>,
    /// The members the current wire sent at the top level and merged into
    /// `context` (`environment`, `resource_id`, `amount`), as sent; recorded
    /// in the evaluate event as `top_level`. `None` when there are none.
    pub top_level: Option<&'a Map<String, Value>>,
    /// The permit's environment, recorded and checked at verify.
    pub environment: Option<&'a str>,
    /// The caller requires a human approval: an allow becomes a deny, as
    /// this server has no approval workflow.
    pub require_approval: bool,
}

/// A verification request, of either shape. The default checks nothing
/// (no permit id: it finds no permit).
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyInput<'a> {
    /// The request's shape; the reply has the same.
    pub shape: Shape,
    /// The permit (`decision_id` / `permit_token`).
    pub permit_id: &'a str,
    /// The actor the caller expects (`""`: not checked).
    pub agent: &'a str,
    /// The action the caller expects (`""`: not checked).
    pub action: &'a str,
    /// The context the caller expects (legacy wire; `None` or `{}`: not
    /// checked).
    pub context: Option<&'a Map<String, Value>>,
    /// The environment the caller expects (`None`: not checked).
    pub environment: Option<&'a str>,
    /// The execution hash the caller expects (`None`: not checked).
    pub execution_hash: Option<&'a str>,
    /// The caller requires an approval binding, which this server's permits
    /// never have: the permit is burned and the answer is not valid.
    pub require_approval: bool,
}

impl<'a> EvaluateInput<'a> {
    /// A 1.4.1-shape request: the policies read the context as it is (its
    /// `environment` member is the permit's environment).
    pub fn legacy(agent: &'a str, action: &'a str, context: &'a Map<String, Value>) -> Self {
        EvaluateInput {
            shape: Shape::Legacy,
            agent,
            action,
            context,
            top_level: None,
            environment: context.get("environment").and_then(Value::as_str),
            require_approval: false,
        }
    }
}

impl<'a> VerifyInput<'a> {
    /// A 1.4.1-shape request: `""` and `None`/`{}` skip their check; no
    /// environment, execution hash or approval is asked for.
    pub fn legacy(
        permit_id: &'a str,
        agent: &'a str,
        action: &'a str,
        context: Option<&'a Map<String, Value>>,
    ) -> Self {
        VerifyInput {
            permit_id,
            agent,
            action,
            context,
            ..VerifyInput::default()
        }
    }
}

/// A revocation: who revokes which permit, why and when.
struct Revocation {
    caller: Caller,
    id: String,
    reason: Option<String>,
    now_ms: i64,
}

impl Revocation {
    fn new(caller: Caller, id: &str, reason: Option<&str>, now_ms: i64) -> Self {
        let (id, reason) = (id.to_owned(), reason.map(str::to_owned));
        Revocation {
            caller,
            id,
            reason,
            now_ms,
        }
    }

    /// The state of the permit it revokes.
    fn state(&self) -> crate::store::PermitState {
        crate::store::PermitState::Revoked {
            at_ms: Some(self.now_ms),
            by: Some(self.caller.key_id.clone()),
            reason: self.reason.clone(),
        }
    }
}

/// The deny code of an allow turned into a deny by `require_approval`.
pub const INSUFFICIENT_APPROVALS: &str = "INSUFFICIENT_APPROVALS";

/// The engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Box<dyn Store>,
    exports: tokio::sync::Semaphore,
    policies: Arc<PolicySet>,
    signer: Arc<Signer>,
    config: EngineConfig,
}

impl Engine {
    /// Open the store of `config.storage` (creating or migrating it) and
    /// start its writer: SQLite for a file or memory, PostgreSQL for a
    /// [`Storage::Postgres`] URL (the `postgres` feature).
    pub fn open(
        config: EngineConfig,
        policies: Arc<PolicySet>,
        signer: Arc<Signer>,
    ) -> Result<Engine, EngineError> {
        let store: Box<dyn Store> = match &config.storage {
            #[cfg(feature = "postgres")]
            Storage::Postgres(url) => Box::new(crate::store::PostgresStore::open(url)?),
            #[cfg(not(feature = "postgres"))]
            Storage::Postgres(url) => {
                return Err(EngineError::Storage(format!(
                    "{url}: this atlasent-server was built without its `postgres` feature \
                     (cargo install atlasent-server --features postgres)"
                )))
            }
            other => Box::new(SqliteStore::open(other, &config.org_id)?),
        };
        Ok(Engine::with_store(config, store, policies, signer))
    }

    /// An engine deciding on `store` (`config.storage` is not read).
    pub fn with_store(
        config: EngineConfig,
        store: Box<dyn Store>,
        policies: Arc<PolicySet>,
        signer: Arc<Signer>,
    ) -> Engine {
        Engine {
            inner: Arc::new(Inner {
                store,
                exports: tokio::sync::Semaphore::new(MAX_CONCURRENT_EXPORTS),
                policies,
                signer,
                config,
            }),
        }
    }

    /// The loaded policies.
    pub fn policies(&self) -> &PolicySet {
        &self.inner.policies
    }

    /// The signing key.
    pub fn signer(&self) -> &Signer {
        &self.inner.signer
    }

    fn now_ms(&self) -> i64 {
        self.inner.config.clock.now_ms()
    }

    /// Run a state change once for `request`.
    async fn write(
        &self,
        request: Request,
        job: impl FnOnce(&mut dyn Tx) -> Result<String, WriteError> + Send + 'static,
    ) -> Result<String, EngineError> {
        Ok(self.inner.store.write(request, Box::new(job)).await?)
    }

    /// [`evaluate_request`](Self::evaluate_request) of a 1.4.1-shape
    /// request: the policies read the context as it is.
    pub async fn evaluate(
        &self,
        caller: Caller,
        agent: &str,
        action: &str,
        context: &Map<String, Value>,
    ) -> Result<String, EngineError> {
        let input = EvaluateInput::legacy(agent, action, context);
        self.evaluate_request(caller, input).await
    }

    /// Decide, issue a permit (for an allow) and log the decision. Returns
    /// the `/v1-evaluate` reply body in the request's shape; a retry with the
    /// same request id gets the first reply.
    pub async fn evaluate_request(
        &self,
        caller: Caller,
        input: EvaluateInput<'_>,
    ) -> Result<String, EngineError> {
        let now_ms = self.now_ms();
        let request = caller.request("evaluate", now_ms);
        let decided = evaluate::decide(
            &self.inner.policies,
            &self.inner.signer,
            caller,
            &input,
            now_ms,
            self.inner.config.permit_ttl,
        )?;
        let payload = decided.prepare()?;
        self.write(request, move |tx| decided.record(tx, payload))
            .await
    }

    /// [`verify_request`](Self::verify_request) of a 1.4.1-shape request
    /// (`""` and `{}` skip their check).
    pub async fn verify(
        &self,
        caller: Caller,
        permit_id: &str,
        agent: &str,
        action: &str,
        context: &Map<String, Value>,
    ) -> Result<String, EngineError> {
        let input = VerifyInput::legacy(permit_id, agent, action, Some(context));
        self.verify_request(caller, input).await
    }

    /// Verify (and consume) a permit; returns the `/v1-verify-permit` reply
    /// in the request's shape.
    pub async fn verify_request(
        &self,
        caller: Caller,
        input: VerifyInput<'_>,
    ) -> Result<String, EngineError> {
        let now_ms = self.now_ms();
        let mut request = caller.request("verify", now_ms);
        let verification = verify::Request::new(&input);
        request.reads_permit = Some(verification.permit_id.clone());
        let clock = self.inner.config.clock.clone();
        self.write(request, move |tx| {
            verify::verify(tx, &caller, &verification, clock.job_ms(now_ms))
        })
        .await
    }

    /// Revoke a permit; returns the `/v1-revoke-permit` reply.
    pub async fn revoke(
        &self,
        caller: Caller,
        permit_id: &str,
        reason: Option<&str>,
    ) -> Result<String, EngineError> {
        let revocation = Revocation::new(caller, permit_id, reason, self.now_ms());
        self.revoke_with("revoke", revocation, verify::revoke).await
    }

    /// Run `revoke` (an endpoint's revocation) in a write as `endpoint`.
    async fn revoke_with(
        &self,
        endpoint: &'static str,
        revocation: Revocation,
        revoke: fn(&mut dyn Tx, &Revocation) -> Result<String, WriteError>,
    ) -> Result<String, EngineError> {
        let mut request = revocation.caller.request(endpoint, revocation.now_ms);
        request.reads_permit = Some(revocation.id.clone());
        self.write(request, move |tx| revoke(tx, &revocation)).await
    }

    /// One page of `org_id`'s events in sequence order.
    pub async fn events(&self, org_id: &str, query: EventQuery) -> Result<EventPage, EngineError> {
        Ok(self.inner.store.events(org_id.to_owned(), query).await?)
    }

    /// A signed export bundle of `org_id`'s events matching `filter` (JSON
    /// text); refused when more than the configured maximum match.
    pub async fn export(&self, org_id: &str, filter: EventFilter) -> Result<String, EngineError> {
        let _slot = self
            .inner
            .exports
            .try_acquire()
            .map_err(|_| EngineError::ExportsBusy(MAX_CONCURRENT_EXPORTS))?;
        let max = self.inner.config.max_export_events;
        let signed_at = clock::rfc3339_ms(self.now_ms());
        let selected = self
            .inner
            .store
            .export_events(org_id.to_owned(), filter, max)
            .await?;
        match selected {
            ExportSelection::TooLarge { matching } => {
                Err(EngineError::ExportTooLarge { matching, max })
            }
            ExportSelection::Events { events, last_hash } => {
                // Signing and writing a large bundle takes a while: off the
                // runtime's threads.
                let org_id = org_id.to_owned();
                let signer = Arc::clone(&self.inner.signer);
                tokio::task::spawn_blocking(move || {
                    export::bundle(&org_id, &signer, &events, last_hash, &signed_at)
                })
                .await
                .map_err(|_| EngineError::Closed)?
            }
        }
    }
}

/// SHA-256 hex of the context's canonical JSON.
pub fn context_hash(context: &Map<String, Value>) -> String {
    let canonical = atlasent::audit::canonical_json_of(context).unwrap_or_default();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}
