//! The decision engine: policies decide, permits are issued, verified and
//! revoked, and every step is appended to one hash-chained audit log — with
//! no HTTP in sight.
//!
//! Storage is SQLite in WAL mode behind a single writer thread. The writer
//! takes every command waiting in its queue, applies them in one transaction,
//! commits (fsync), and only then answers each: a reply never reports an
//! event that is not durable, and group commit is where throughput comes
//! from. The single writer also serializes permit consumption, so of many
//! concurrent verifies of one permit exactly one wins.
//!
//! Reads (event listings and exports) of a database file run on their own
//! read-only connections (WAL readers see the last commit and never block
//! the writer), so a long export does not hold up decisions. An in-memory
//! store has one connection only, so its reads queue behind the writer.
//!
//! Every organization has its own hash chain: its events, its permits, its
//! exports. A key of one organization cannot see, verify or revoke what
//! another organization's keys created (`not_found`, as for an unknown id).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::clock;
use crate::keys::Signer;
use crate::policy::{Effect, PolicySet};

mod permits;
mod replies;

pub use permits::{PermitCursor, PermitFilter, PermitPage, PermitRecord, PermitStatus};
use replies::{Mismatch, VerifyOutcome};

/// Where the audit log and permits live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// An SQLite database file (created if absent).
    File(PathBuf),
    /// An in-memory database, gone when the server stops.
    Memory,
}

/// An engine failure: the store could not be reached or written, or the
/// request cannot be answered as asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// SQLite failed.
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

impl From<rusqlite::Error> for EngineError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Storage(e.to_string())
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

/// Filters of `GET /v1-audit/events` and `POST /v1-audit/exports`.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Event types to include (empty: all).
    pub types: Vec<String>,
    /// Only events of this actor (agent).
    pub actor_id: Option<String>,
    /// Only events at or after this time (ms since the epoch).
    pub from_ms: Option<i64>,
    /// Only events at or before this time (ms since the epoch).
    pub to_ms: Option<i64>,
}

/// One page of events.
#[derive(Debug, Clone)]
pub struct EventPage {
    /// The events, each as a JSON object text.
    pub events: Vec<Box<RawValue>>,
    /// How many events match the filter in all.
    pub total: u64,
    /// The cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
}

/// How long a stored reply is kept for retries with the same request id.
const REPLY_RETENTION_MS: i64 = 24 * 3600 * 1000;
/// The most commands applied in one transaction.
const MAX_BATCH: usize = 512;

/// Which wire a request spoke: its reply is written in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The wire of Python `atlasent` 1.4.1: `{action, agent, context}`,
    /// `{decision_id, …}`.
    Legacy,
    /// The wire of Python `atlasent` 2.x: `{action_type, actor_id, …}`,
    /// `{permit_token, …}`.
    Current,
}

impl Shape {
    /// `"legacy"` or `"current"`, as audit events record it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Legacy => "legacy",
            Self::Current => "current",
        }
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

/// A verification request, of either shape.
#[derive(Debug, Clone, Copy)]
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

/// The deny code of an allow turned into a deny by `require_approval`.
pub const INSUFFICIENT_APPROVALS: &str = "INSUFFICIENT_APPROVALS";

enum Command {
    Evaluate(EvaluateCmd, oneshot::Sender<Result<String, EngineError>>),
    Verify(VerifyCmd, oneshot::Sender<Result<String, EngineError>>),
    Revoke(RevokeCmd, oneshot::Sender<Result<String, EngineError>>),
    VerifyById(
        permits::ByIdCmd,
        oneshot::Sender<Result<String, EngineError>>,
    ),
    RevokeById(
        permits::ByIdCmd,
        oneshot::Sender<Result<String, EngineError>>,
    ),
    Read(ReadJob),
}

/// A read the writer runs for a store with a single connection.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

struct EvaluateCmd {
    caller: Caller,
    shape: Shape,
    permit_id: String,
    agent: String,
    action: String,
    context_hash: String,
    execution_hash: String,
    environment: Option<String>,
    /// The current wire's top-level members, as sent, for the event.
    top_level: Option<Map<String, Value>>,
    effect: Effect,
    /// The deny code of a non-allow (`None` for an allow).
    code: Option<String>,
    /// Set for hold and escalate.
    escalation_id: Option<String>,
    require_approval: bool,
    policy_id: Option<String>,
    rule_id: Option<String>,
    reason: String,
    now_ms: i64,
    expires_ms: i64,
    permit_hash: String,
}

struct VerifyCmd {
    caller: Caller,
    shape: Shape,
    permit_id: String,
    agent: String,
    action: String,
    /// `None` when the caller sent no context or `{}` (no cross-check).
    context_hash: Option<String>,
    environment: Option<String>,
    execution_hash: Option<String>,
    require_approval: bool,
    now_ms: i64,
}

struct RevokeCmd {
    caller: Caller,
    permit_id: String,
    reason: Option<String>,
    now_ms: i64,
}

/// The engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// Exports that may be built at once: each holds its bundle in memory (up
/// to about twice its size), so their number bounds the server's memory.
pub const MAX_CONCURRENT_EXPORTS: usize = 2;

struct Inner {
    tx: mpsc::UnboundedSender<Command>,
    exports: tokio::sync::Semaphore,
    readers: Option<Arc<ReadPool>>,
    policies: Arc<PolicySet>,
    signer: Arc<Signer>,
    config: EngineConfig,
    writer: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The sender is dropped with `self`; the writer drains what is queued
        // and exits. Joining makes "stopped" mean "flushed".
        let (dummy, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.tx, dummy));
        if let Some(handle) = self.writer.lock().ok().and_then(|mut h| h.take()) {
            let _ = handle.join();
        }
    }
}

impl Engine {
    /// Open the store, recover the chain head and start the writer.
    pub fn open(
        config: EngineConfig,
        policies: Arc<PolicySet>,
        signer: Arc<Signer>,
    ) -> Result<Engine, EngineError> {
        let conn = match &config.storage {
            Storage::File(path) => {
                create_private(path)?;
                Connection::open(path)?
            }
            Storage::Memory => Connection::open_in_memory()?,
        };
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        migrate(&conn, &config.org_id)?;
        let readers = match &config.storage {
            Storage::File(path) => Some(Arc::new(ReadPool::new(path.clone()))),
            Storage::Memory => None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = Writer {
            conn,
            heads: HashMap::new(),
            batches: 0,
            failed: None,
        };
        let handle = std::thread::Builder::new()
            .name("atlasent-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|_| EngineError::Closed)?;
        Ok(Engine {
            inner: Arc::new(Inner {
                tx,
                exports: tokio::sync::Semaphore::new(MAX_CONCURRENT_EXPORTS),
                readers,
                policies,
                signer,
                config,
                writer: std::sync::Mutex::new(Some(handle)),
            }),
        })
    }

    /// The loaded policies.
    pub fn policies(&self) -> &PolicySet {
        &self.inner.policies
    }

    /// The signing key.
    pub fn signer(&self) -> &Signer {
        &self.inner.signer
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, EngineError>>) -> Command,
    ) -> Result<T, EngineError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.inner
            .tx
            .send(make(reply_tx))
            .map_err(|_| EngineError::Closed)?;
        reply_rx.await.map_err(|_| EngineError::Closed)?
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
        let input = EvaluateInput {
            shape: Shape::Legacy,
            agent,
            action,
            context,
            top_level: None,
            environment: context.get("environment").and_then(Value::as_str),
            require_approval: false,
        };
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
        let mut decision = self
            .inner
            .policies
            .evaluate(input.agent, input.action, input.context);
        if input.require_approval && decision.effect.issues_permit() {
            // Fail closed: nobody here can give the approval asked for.
            decision.effect = Effect::Deny;
            decision.code = Some(INSUFFICIENT_APPROVALS.to_owned());
            decision.reason = "approval required, and this server has no approval workflow".into();
        }
        let now_ms = self.inner.config.clock.now_ms();
        let expires_ms = now_ms.saturating_add(self.inner.config.permit_ttl.as_millis() as i64);
        let permit_id = random_id("dec_")?;
        let escalation_id = match decision.effect {
            Effect::Hold | Effect::Escalate => Some(random_id("esc_")?),
            _ => None,
        };
        let context_hash = context_hash(input.context);
        let execution_hash =
            atlasent::wire::execution_hash(input.action, input.agent, input.context);
        let permit_hash = if decision.effect.issues_permit() {
            let claims = json!({
                "permit_id": permit_id, "org_id": caller.org_id, "agent": input.agent,
                "action": input.action, "context_hash": context_hash,
                "execution_hash": execution_hash, "environment": input.environment,
                "expires_at": clock::rfc3339_ms(expires_ms),
            });
            let canonical = atlasent::audit::canonical_json_of(&claims).unwrap_or_default();
            self.inner.signer.sign_b64url(canonical.as_bytes())
        } else {
            String::new()
        };
        if let Some(escalation_id) = &escalation_id {
            tracing::info!(
                escalation_id,
                decision = decision.effect.as_str(),
                permit_id,
                "a human must decide"
            );
        }
        let cmd = EvaluateCmd {
            caller,
            shape: input.shape,
            permit_id,
            agent: input.agent.to_owned(),
            action: input.action.to_owned(),
            context_hash,
            execution_hash,
            environment: input.environment.map(str::to_owned),
            top_level: input.top_level.cloned(),
            effect: decision.effect,
            code: if decision.effect.issues_permit() {
                None
            } else {
                decision.code
            },
            escalation_id,
            require_approval: input.require_approval,
            policy_id: decision.policy_id,
            rule_id: decision.rule_id,
            reason: decision.reason,
            now_ms,
            expires_ms,
            permit_hash,
        };
        self.call(|tx| Command::Evaluate(cmd, tx)).await
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
        let input = VerifyInput {
            shape: Shape::Legacy,
            permit_id,
            agent,
            action,
            context: Some(context),
            environment: None,
            execution_hash: None,
            require_approval: false,
        };
        self.verify_request(caller, input).await
    }

    /// Verify (and consume) a permit; returns the `/v1-verify-permit` reply
    /// in the request's shape.
    pub async fn verify_request(
        &self,
        caller: Caller,
        input: VerifyInput<'_>,
    ) -> Result<String, EngineError> {
        let cmd = VerifyCmd {
            caller,
            shape: input.shape,
            permit_id: input.permit_id.to_owned(),
            agent: input.agent.to_owned(),
            action: input.action.to_owned(),
            context_hash: input.context.filter(|c| !c.is_empty()).map(context_hash),
            environment: input.environment.map(str::to_owned),
            execution_hash: input.execution_hash.map(str::to_owned),
            require_approval: input.require_approval,
            now_ms: self.inner.config.clock.now_ms(),
        };
        self.call(|tx| Command::Verify(cmd, tx)).await
    }

    /// Revoke a permit; returns the `/v1-revoke-permit` reply.
    pub async fn revoke(
        &self,
        caller: Caller,
        permit_id: &str,
        reason: Option<&str>,
    ) -> Result<String, EngineError> {
        let cmd = RevokeCmd {
            caller,
            permit_id: permit_id.to_owned(),
            reason: reason.map(str::to_owned),
            now_ms: self.inner.config.clock.now_ms(),
        };
        self.call(|tx| Command::Revoke(cmd, tx)).await
    }

    /// One page of `org_id`'s events in sequence order, after `cursor`.
    pub async fn events(
        &self,
        org_id: &str,
        filter: EventFilter,
        limit: u32,
        cursor: Option<i64>,
    ) -> Result<EventPage, EngineError> {
        let org = org_id.to_owned();
        self.read(move |conn| events(conn, &org, &filter, limit, cursor))
            .await
    }

    /// A signed export bundle of `org_id`'s events matching `filter` (JSON
    /// text); refused when more than the configured maximum match.
    pub async fn export(&self, org_id: &str, filter: EventFilter) -> Result<String, EngineError> {
        let _slot = self
            .inner
            .exports
            .try_acquire()
            .map_err(|_| EngineError::ExportsBusy(MAX_CONCURRENT_EXPORTS))?;
        let org = org_id.to_owned();
        let signer = Arc::clone(&self.inner.signer);
        let max = self.inner.config.max_export_events;
        let signed_at = clock::rfc3339_ms(self.inner.config.clock.now_ms());
        self.read(move |conn| export(conn, &org, &signer, &filter, max, &signed_at))
            .await
    }

    /// Run a read on a reader connection (file store) or on the writer's
    /// connection (in-memory store).
    async fn read<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Connection) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        match &self.inner.readers {
            Some(pool) => {
                let pool = Arc::clone(pool);
                tokio::task::spawn_blocking(move || pool.with(job))
                    .await
                    .map_err(|_| EngineError::Closed)?
            }
            None => {
                let (reply_tx, reply_rx) = oneshot::channel();
                let job: ReadJob = Box::new(move |conn| drop(reply_tx.send(job(conn))));
                self.inner
                    .tx
                    .send(Command::Read(job))
                    .map_err(|_| EngineError::Closed)?;
                reply_rx.await.map_err(|_| EngineError::Closed)?
            }
        }
    }
}

/// Read-only connections to a database file, reused between reads.
struct ReadPool {
    path: PathBuf,
    idle: std::sync::Mutex<Vec<Connection>>,
}

/// Idle reader connections kept open.
const MAX_IDLE_READERS: usize = 4;

impl ReadPool {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn with<T>(
        &self,
        job: impl FnOnce(&Connection) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(Duration::from_secs(5))?;
                c
            }
        };
        let result = job(&conn);
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

/// Create the database file readable by its owner only (SQLite gives the
/// `-wal` and `-shm` files the database file's permissions).
fn create_private(path: &std::path::Path) -> Result<(), EngineError> {
    if path.exists() {
        if let Ok(Some(mode)) = crate::keys::loose_mode(path) {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:o}"),
                "the database is readable by group or others; `chmod 600` it and its -wal and -shm files"
            );
        }
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| EngineError::Storage(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(EngineError::Storage(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// `prefix` and 128 random bits as hex: permit and export ids, unguessable.
/// The OS generator failing is an error (503), never a panic.
fn random_id(prefix: &str) -> Result<String, EngineError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| EngineError::Storage(format!("the OS random generator failed: {e}")))?;
    Ok(format!("{prefix}{}", atlasent::audit::hex(&bytes)))
}

/// SHA-256 hex of the context's canonical JSON.
pub fn context_hash(context: &Map<String, Value>) -> String {
    let canonical = atlasent::audit::canonical_json_of(context).unwrap_or_default();
    atlasent::audit::hex(&Sha256::digest(canonical.as_bytes()))
}

/// The second schema (`PRAGMA user_version` 2); [`MIGRATE_2_TO_3`] completes it.
const SCHEMA: &str = "
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY,
    org_id        TEXT NOT NULL,
    org_seq       INTEGER NOT NULL,
    id            TEXT NOT NULL,
    type          TEXT NOT NULL,
    decision      TEXT,
    actor_id      TEXT,
    resource_type TEXT,
    resource_id   TEXT,
    payload       TEXT NOT NULL,
    hash          TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    occurred_ms   INTEGER NOT NULL,
    UNIQUE (org_id, org_seq)
);
CREATE INDEX events_by_type ON events(org_id, type, org_seq);
CREATE INDEX events_by_actor ON events(org_id, actor_id, org_seq);
CREATE INDEX events_by_time ON events(org_id, occurred_ms);
CREATE TABLE permits (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    agent        TEXT NOT NULL,
    action       TEXT NOT NULL,
    context_hash TEXT NOT NULL,
    decision     TEXT NOT NULL,
    status       TEXT NOT NULL,
    issued_ms    INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    permit_hash  TEXT NOT NULL,
    key_id       TEXT NOT NULL
);
CREATE TABLE replies (
    key_id      TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    body_digest TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (key_id, endpoint, request_id)
);
CREATE INDEX replies_by_age ON replies(created_ms);
";

/// From the first schema (one chain, no organizations, stored replies not
/// bound to their request body) to the second: existing events and permits
/// go to the configured organization; stored replies are dropped (they only
/// answer retries, and an unbound one must not answer anything).
const MIGRATE_1_TO_2: &str = "
ALTER TABLE events RENAME TO events_v1;
DROP INDEX IF EXISTS events_by_type;
DROP INDEX IF EXISTS events_by_actor;
DROP INDEX IF EXISTS events_by_time;
ALTER TABLE permits RENAME TO permits_v1;
DROP TABLE replies;
";

/// From the second schema to the third (the current wire): permits record
/// the environment and execution hash they were issued for, hold and
/// escalate decisions their escalation id, non-allows their deny code, and
/// a permit how it was used (`verify`: `/v1-verify-permit`, `by_id`:
/// `/v1/permits/{id}/verify`), when, and who revoked it why. Permits issued
/// before have no execution hash: a current-wire verify that sends one does
/// not match them (fail closed); they still verify through the 1.4.1 wire.
/// A fresh database is made by the second schema and this step, so that it
/// and a migrated one are the same.
const MIGRATE_2_TO_3: &str = "
ALTER TABLE permits ADD COLUMN environment TEXT;
ALTER TABLE permits ADD COLUMN execution_hash TEXT;
ALTER TABLE permits ADD COLUMN escalation_id TEXT;
ALTER TABLE permits ADD COLUMN deny_code TEXT;
ALTER TABLE permits ADD COLUMN used_via TEXT;
ALTER TABLE permits ADD COLUMN used_ms INTEGER;
ALTER TABLE permits ADD COLUMN revoked_ms INTEGER;
ALTER TABLE permits ADD COLUMN revoked_by TEXT;
ALTER TABLE permits ADD COLUMN revoke_reason TEXT;
ALTER TABLE permits ADD COLUMN shape TEXT;
CREATE INDEX permits_by_issue ON permits(org_id, issued_ms, id);
";

/// The schema version this build writes.
const SCHEMA_VERSION: i64 = 3;

/// Create or upgrade the schema, in one transaction: a fresh database gets
/// schema 2 and then every step after it; an old one every step after its
/// version (1 → 2 → 3).
fn migrate(conn: &Connection, org_id: &str) -> Result<(), EngineError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let has_events: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events')",
        [],
        |r| r.get(0),
    )?;
    let from = match (version, has_events) {
        (SCHEMA_VERSION, _) => return Ok(()),
        (0, false) => None,
        (0, true) => Some(1),
        (2, _) => Some(2),
        (other, _) => {
            return Err(EngineError::Storage(format!(
                "the database has schema version {other}, which this atlasent-server does not know (it reads 0, 2 and {SCHEMA_VERSION})"
            )))
        }
    };
    conn.execute_batch("BEGIN")?;
    let migrated = (|| -> rusqlite::Result<()> {
        match from {
            None => conn.execute_batch(SCHEMA)?,
            Some(1) => migrate_1_to_2(conn, org_id)?,
            _ => {}
        }
        conn.execute_batch(MIGRATE_2_TO_3)?;
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};"))
    })();
    match migrated {
        Ok(()) => {
            conn.execute_batch("COMMIT")?;
            if let Some(from) = from {
                tracing::warn!(
                    org_id,
                    from,
                    to = SCHEMA_VERSION,
                    "migrated the database (2: organizations; 3: the current wire's permits)"
                );
            }
            Ok(())
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(EngineError::Storage(format!(
                "cannot migrate the database to schema {SCHEMA_VERSION}: {e}"
            )))
        }
    }
}

/// Schema 1 to 2 inside the caller's transaction.
fn migrate_1_to_2(conn: &Connection, org_id: &str) -> rusqlite::Result<()> {
    conn.execute_batch(MIGRATE_1_TO_2)?;
    conn.execute_batch(SCHEMA)?;
    conn.execute(
        "INSERT INTO events (seq, org_id, org_seq, id, type, decision, actor_id, resource_type, resource_id, payload, hash, previous_hash, occurred_ms)
         SELECT seq, ?1, seq, id, type, decision, actor_id, resource_type, resource_id, payload, hash, previous_hash, occurred_ms FROM events_v1",
        [org_id],
    )?;
    conn.execute(
        "INSERT INTO permits (id, org_id, agent, action, context_hash, decision, status, issued_ms, expires_ms, permit_hash, key_id)
         SELECT id, ?1, agent, action, context_hash, decision, status, issued_ms, expires_ms, permit_hash, key_id FROM permits_v1",
        [org_id],
    )?;
    conn.execute_batch("DROP TABLE events_v1; DROP TABLE permits_v1;")
}

/// The head an organization's next event links to.
#[derive(Debug, Clone)]
struct Head {
    seq: i64,
    hash: String,
}

impl Head {
    fn load(conn: &Connection, org_id: &str) -> rusqlite::Result<Head> {
        Ok(conn
            .query_row(
                "SELECT org_seq, hash FROM events WHERE org_id = ?1 ORDER BY org_seq DESC LIMIT 1",
                [org_id],
                |r| {
                    Ok(Head {
                        seq: r.get(0)?,
                        hash: r.get(1)?,
                    })
                },
            )
            .optional()?
            .unwrap_or(Head {
                seq: 0,
                hash: atlasent::audit::GENESIS_HASH.to_owned(),
            }))
    }
}

/// An event to append. Everything an auditor reads of it goes into the
/// hashed payload, so that no column outside the chain can be changed
/// unnoticed.
struct NewEvent<'a> {
    org_id: &'a str,
    kind: &'a str,
    decision: Option<&'a str>,
    actor_id: Option<&'a str>,
    resource_id: Option<&'a str>,
    payload: Value,
    now_ms: i64,
}

/// An event as it appears in listings and exports (key order is the wire's).
/// Each field but the hashes repeats the payload's member of the same name.
#[derive(Serialize)]
struct EventOut<'a> {
    id: &'a str,
    org_id: &'a str,
    sequence: i64,
    #[serde(rename = "type")]
    kind: &'a str,
    decision: Option<&'a str>,
    actor_id: Option<&'a str>,
    resource_type: Option<&'a str>,
    resource_id: Option<&'a str>,
    payload: &'a RawValue,
    hash: &'a str,
    previous_hash: &'a str,
    occurred_at: &'a str,
    created_at: &'a str,
}

/// What a signed export covers, in the contract's key order.
#[derive(Serialize)]
struct Envelope<'a> {
    export_id: &'a str,
    org_id: &'a str,
    chain_head_hash: &'a str,
    event_count: usize,
    signed_at: &'a str,
    events: &'a [Box<RawValue>],
}

#[derive(Serialize)]
struct Bundle<'a> {
    #[serde(flatten)]
    envelope: Envelope<'a>,
    signature: String,
    signing_key_id: &'a str,
}

struct Writer {
    conn: Connection,
    /// Chain heads of the organizations seen since the last failure.
    heads: HashMap<String, Head>,
    batches: u64,
    /// Set after an I/O error other than a full disk: the writer refuses
    /// everything until the server restarts (see [`Writer::apply`]).
    failed: Option<String>,
}

/// Whether a failed transaction may be retried by the next batch: a full
/// disk (space may come back) or a busy database. Any other I/O error — a
/// failed write or fsync — may have left the file system in a state where a
/// later successful fsync does not make earlier writes durable (the
/// "fsyncgate" lesson), so the writer stops deciding instead.
fn retryable(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode;
    match e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::SystemIoFailure => f.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE,
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => false,
            _ => true,
        },
        _ => true,
    }
}

/// A reply held until its transaction commits.
type Pending = (
    oneshot::Sender<Result<String, EngineError>>,
    Result<String, EngineError>,
);

/// Why a command produced no reply body: storage failed (the batch is rolled
/// back) or the request is refused (the batch goes on).
enum Refusal {
    Sql(rusqlite::Error),
    Refused(EngineError),
}

impl From<rusqlite::Error> for Refusal {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

impl Writer {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(_) => break,
                }
            }
            self.apply(&mut batch);
        }
        tracing::debug!("writer: queue closed, exiting");
    }

    /// Apply a batch in one transaction; answer only after the commit.
    fn apply(&mut self, batch: &mut Vec<Command>) {
        if let Some(why) = &self.failed {
            for cmd in batch.drain(..) {
                let err = || EngineError::Storage(why.clone());
                match cmd {
                    Command::Evaluate(_, reply) => drop(reply.send(Err(err()))),
                    Command::Verify(_, reply) => drop(reply.send(Err(err()))),
                    Command::Revoke(_, reply)
                    | Command::VerifyById(_, reply)
                    | Command::RevokeById(_, reply) => drop(reply.send(Err(err()))),
                    Command::Read(job) => job(&self.conn),
                }
            }
            return;
        }
        let mut pending: Vec<Pending> = Vec::with_capacity(batch.len());
        let mut reads = Vec::new();
        let result = (|| -> rusqlite::Result<()> {
            let tx = self.conn.transaction()?;
            for cmd in batch.drain(..) {
                let (reply, outcome) = match cmd {
                    Command::Evaluate(c, reply) => (
                        reply,
                        once(&tx, &c.caller, "evaluate", c.now_ms, || {
                            evaluate(&tx, &mut self.heads, &c)
                        }),
                    ),
                    Command::Verify(c, reply) => (
                        reply,
                        once(&tx, &c.caller, "verify", c.now_ms, || {
                            verify(&tx, &mut self.heads, &c)
                        }),
                    ),
                    Command::Revoke(c, reply) => (
                        reply,
                        once(&tx, &c.caller, "revoke", c.now_ms, || {
                            revoke(&tx, &mut self.heads, &c)
                        }),
                    ),
                    Command::VerifyById(c, reply) => (
                        reply,
                        once(&tx, &c.caller, "permits.verify", c.now_ms, || {
                            permits::verify_by_id(&tx, &mut self.heads, &c)
                        }),
                    ),
                    Command::RevokeById(c, reply) => (
                        reply,
                        once(&tx, &c.caller, "permits.revoke", c.now_ms, || {
                            permits::revoke_by_id(&tx, &mut self.heads, &c)
                        }),
                    ),
                    Command::Read(job) => {
                        reads.push(job);
                        continue;
                    }
                };
                match outcome {
                    Ok(body) => pending.push((reply, Ok(body))),
                    Err(Refusal::Refused(e)) => pending.push((reply, Err(e))),
                    Err(Refusal::Sql(e)) => {
                        drop(reply);
                        return Err(e);
                    }
                }
            }
            tx.commit()
        })();
        match result {
            Ok(()) => {
                for (tx, body) in pending {
                    drop(tx.send(body));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "writer: transaction failed; answering every command of the batch with an error");
                let message = e.to_string();
                for (tx, _) in pending {
                    drop(tx.send(Err(EngineError::Storage(message.clone()))));
                }
                // Commands not yet applied were dropped with their senders:
                // their callers see `Closed`, never a false success. The heads
                // moved with the rolled-back events: reload them on next use.
                batch.clear();
                self.heads.clear();
                if !retryable(&e) {
                    tracing::error!(error = %e, "writer: an I/O error other than a full disk; refusing every decision until the server restarts");
                    self.failed = Some(format!(
                        "the store hit an I/O error ({e}) and stopped deciding; restart the server"
                    ));
                }
            }
        }
        for job in reads {
            job(&self.conn);
        }
        self.batches += 1;
        if self.batches % 1024 == 0 {
            let cutoff = clock::now_ms() - REPLY_RETENTION_MS;
            if let Err(e) = self
                .conn
                .execute("DELETE FROM replies WHERE created_ms < ?1", [cutoff])
            {
                tracing::warn!(error = %e, "writer: pruning stored replies failed");
            }
        }
    }
}

/// The stored reply to a retried request, if any: the same key, endpoint and
/// request id with a different body is refused, never answered.
fn stored_reply(
    tx: &Transaction<'_>,
    caller: &Caller,
    endpoint: &str,
) -> Result<Option<String>, Refusal> {
    let stored: Option<(String, String)> = tx
        .query_row(
            "SELECT body_digest, body FROM replies WHERE key_id = ?1 AND endpoint = ?2 AND request_id = ?3",
            params![caller.key_id, endpoint, caller.request_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match stored {
        None => Ok(None),
        Some((digest, body)) if digest == caller.body_digest => Ok(Some(body)),
        Some(_) => Err(Refusal::Refused(EngineError::RequestIdReused {
            request_id: caller.request_id.clone(),
        })),
    }
}

/// Decide a request once: a retry (same key, endpoint, request id and body)
/// gets the stored reply of the first attempt, a first attempt is decided
/// and its reply stored in the same transaction as its event.
fn once(
    tx: &Transaction<'_>,
    caller: &Caller,
    endpoint: &str,
    now_ms: i64,
    decide: impl FnOnce() -> Result<String, Refusal>,
) -> Result<String, Refusal> {
    if let Some(body) = stored_reply(tx, caller, endpoint)? {
        return Ok(body);
    }
    let body = decide()?;
    store_reply(tx, caller, endpoint, &body, now_ms)?;
    Ok(body)
}

fn store_reply(
    tx: &Transaction<'_>,
    caller: &Caller,
    endpoint: &str,
    body: &str,
    now_ms: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO replies (key_id, endpoint, request_id, body_digest, body, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![caller.key_id, endpoint, caller.request_id, caller.body_digest, body, now_ms],
    )?;
    Ok(())
}

/// Append an event to its organization's chain; returns its hash.
fn append(
    tx: &Transaction<'_>,
    heads: &mut HashMap<String, Head>,
    event: NewEvent<'_>,
) -> rusqlite::Result<String> {
    if !heads.contains_key(event.org_id) {
        heads.insert(event.org_id.to_owned(), Head::load(tx, event.org_id)?);
    }
    let Some(head) = heads.get_mut(event.org_id) else {
        return Err(rusqlite::Error::InvalidQuery);
    };
    let seq = head.seq + 1;
    let id = format!("evt_{seq:012}");
    let occurred_at = clock::rfc3339_ms(event.now_ms);
    let resource_type = event.resource_id.map(|_| "action");
    let mut payload = match event.payload {
        Value::Object(map) => map,
        other => Map::from_iter([("data".to_owned(), other)]),
    };
    for (name, value) in [
        ("id", Some(id.as_str())),
        ("org_id", Some(event.org_id)),
        ("type", Some(event.kind)),
        ("decision", event.decision),
        ("actor_id", event.actor_id),
        ("resource_type", resource_type),
        ("resource_id", event.resource_id),
        ("occurred_at", Some(occurred_at.as_str())),
    ] {
        payload.insert(name.to_owned(), value.map_or(Value::Null, Value::from));
    }
    payload.insert("sequence".to_owned(), Value::from(seq));
    let payload = Value::Object(payload);
    // Serialized once: the stored text is what the canonical form is made of.
    let text = payload.to_string();
    let canonical = atlasent::audit::canonical_json(&text)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let hash = atlasent::audit::chain_hash(&head.hash, &canonical);
    tx.execute(
        "INSERT INTO events (org_id, org_seq, id, type, decision, actor_id, resource_type, resource_id, payload, hash, previous_hash, occurred_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            event.org_id,
            seq,
            id,
            event.kind,
            event.decision,
            event.actor_id,
            resource_type,
            event.resource_id,
            text,
            hash,
            head.hash,
            event.now_ms,
        ],
    )?;
    head.seq = seq;
    head.hash.clone_from(&hash);
    Ok(hash)
}

fn evaluate(
    tx: &Transaction<'_>,
    heads: &mut HashMap<String, Head>,
    c: &EvaluateCmd,
) -> Result<String, Refusal> {
    let decision = c.effect.as_str();
    let permit = c.effect.issues_permit();
    tx.execute(
        "INSERT INTO permits (id, org_id, agent, action, context_hash, decision, status, issued_ms, expires_ms, permit_hash, key_id,
                              environment, execution_hash, escalation_id, deny_code, shape)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        params![
            c.permit_id,
            c.caller.org_id,
            c.agent,
            c.action,
            c.context_hash,
            decision,
            if permit { "active" } else { "denied" },
            c.now_ms,
            c.expires_ms,
            c.permit_hash,
            c.caller.key_id,
            c.environment,
            c.execution_hash,
            c.escalation_id,
            c.code,
            c.shape.as_str(),
        ],
    )?;
    let kind = format!("evaluate.{decision}");
    let audit_hash = append(
        tx,
        heads,
        NewEvent {
            org_id: &c.caller.org_id,
            kind: &kind,
            decision: Some(decision),
            actor_id: Some(&c.agent),
            resource_id: Some(&c.action),
            payload: evaluate_payload(c),
            now_ms: c.now_ms,
        },
    )?;
    replies::evaluate(c, &audit_hash)
}

/// The payload of an evaluate event. The hashes cover the context the
/// permit is bound to (with the current wire's top-level members merged
/// in); those members, when sent, are recorded as sent under `top_level`
/// (not beside the others: `resource_id` is the event's own member).
fn evaluate_payload(c: &EvaluateCmd) -> Value {
    let mut payload = json!({
        "decision_id": c.permit_id,
        "agent": c.agent,
        "action": c.action,
        "context_hash": c.context_hash,
        "execution_hash": c.execution_hash,
        "environment": c.environment,
        "policy_id": c.policy_id,
        "rule_id": c.rule_id,
        "reason": c.reason,
        "code": c.code,
        "escalation_id": c.escalation_id,
        "require_approval": c.require_approval,
        "expires_at": clock::rfc3339_ms(c.expires_ms),
        "shape": c.shape.as_str(),
        "key_id": c.caller.key_id,
        "request_id": c.caller.request_id,
    });
    if let (Some(map), Some(top_level)) = (payload.as_object_mut(), &c.top_level) {
        map.insert("top_level".to_owned(), Value::Object(top_level.clone()));
    }
    payload
}

/// A permit (or a decision that issued none) as stored.
struct PermitRow {
    agent: String,
    action: String,
    context_hash: String,
    decision: String,
    status: String,
    expires_ms: i64,
    permit_hash: String,
    environment: Option<String>,
    execution_hash: Option<String>,
}

/// The permit `id` of the caller's organization; another organization's
/// permit is not found, exactly like an unknown id.
fn find_permit(
    tx: &Transaction<'_>,
    caller: &Caller,
    id: &str,
) -> rusqlite::Result<Option<PermitRow>> {
    tx.query_row(
        "SELECT agent, action, context_hash, decision, status, expires_ms, permit_hash, environment, execution_hash
         FROM permits WHERE id = ?1 AND org_id = ?2",
        params![id, caller.org_id],
        |r| {
            Ok(PermitRow {
                agent: r.get(0)?,
                action: r.get(1)?,
                context_hash: r.get(2)?,
                decision: r.get(3)?,
                status: r.get(4)?,
                expires_ms: r.get(5)?,
                permit_hash: r.get(6)?,
                environment: r.get(7)?,
                execution_hash: r.get(8)?,
            })
        },
    )
    .optional()
}

/// What a verification finds, in the order the checks run.
fn check_permit(c: &VerifyCmd, permit: Option<&PermitRow>) -> VerifyOutcome {
    let Some(p) = permit else {
        return VerifyOutcome::NotFound;
    };
    if p.decision != "allow" {
        return VerifyOutcome::NotAPermit;
    }
    match p.status.as_str() {
        "revoked" => return VerifyOutcome::Revoked,
        "consumed" => return VerifyOutcome::Used,
        _ => {}
    }
    if c.now_ms > p.expires_ms {
        return VerifyOutcome::Expired;
    }
    let differs = |asked: &str, held: &str| !asked.is_empty() && asked != held;
    let mismatch = if differs(&c.agent, &p.agent) {
        Some(Mismatch::Actor)
    } else if differs(&c.action, &p.action) {
        Some(Mismatch::Action)
    } else if c
        .environment
        .as_ref()
        .is_some_and(|e| Some(e) != p.environment.as_ref())
    {
        Some(Mismatch::Environment)
    } else if c
        .execution_hash
        .as_ref()
        .is_some_and(|h| Some(h) != p.execution_hash.as_ref())
    {
        Some(Mismatch::ExecutionHash)
    } else if c
        .context_hash
        .as_ref()
        .is_some_and(|h| *h != p.context_hash)
    {
        Some(Mismatch::Context)
    } else {
        None
    };
    match mismatch {
        Some(m) => VerifyOutcome::Mismatch(m),
        None if c.require_approval => VerifyOutcome::ApprovalMissing,
        None => VerifyOutcome::Verified,
    }
}

fn verify(
    tx: &Transaction<'_>,
    heads: &mut HashMap<String, Head>,
    c: &VerifyCmd,
) -> Result<String, Refusal> {
    let permit = find_permit(tx, &c.caller, &c.permit_id)?;
    let outcome = check_permit(c, permit.as_ref());
    let verified = outcome == VerifyOutcome::Verified;
    let consumed = outcome.consumes();
    if consumed {
        tx.execute(
            "UPDATE permits SET status = 'consumed', used_via = 'verify', used_ms = ?3
             WHERE id = ?1 AND org_id = ?2 AND status = 'active'",
            params![c.permit_id, c.caller.org_id, c.now_ms],
        )?;
    }
    let owner = permit.as_ref().map(|p| p.agent.as_str());
    let audit_hash = append(
        tx,
        heads,
        NewEvent {
            org_id: &c.caller.org_id,
            kind: if verified {
                "permit.verified"
            } else {
                "permit.rejected"
            },
            decision: None,
            actor_id: owner.or(Some(c.agent.as_str()).filter(|a| !a.is_empty())),
            resource_id: permit.as_ref().map(|p| p.action.as_str()),
            payload: json!({
                "decision_id": c.permit_id,
                "outcome": outcome.as_str(c.shape),
                "verify_error_code": outcome.code(),
                "verified": verified,
                "consumed": consumed,
                "agent": c.agent,
                "action": c.action,
                "context_hash": c.context_hash,
                "environment": c.environment,
                "execution_hash": c.execution_hash,
                "require_approval": c.require_approval,
                "shape": c.shape.as_str(),
                "via": "verify",
                "key_id": c.caller.key_id,
                "request_id": c.caller.request_id,
            }),
            now_ms: c.now_ms,
        },
    )?;
    replies::verify(c, permit.as_ref(), outcome, &audit_hash)
}

fn revoke(
    tx: &Transaction<'_>,
    heads: &mut HashMap<String, Head>,
    c: &RevokeCmd,
) -> Result<String, Refusal> {
    let permit = find_permit(tx, &c.caller, &c.permit_id)?;
    let revoked = match permit.as_ref().map(|p| p.status.as_str()) {
        Some("active") => {
            tx.execute(
                "UPDATE permits SET status = 'revoked', revoked_ms = ?3, revoked_by = ?4, revoke_reason = ?5
                 WHERE id = ?1 AND org_id = ?2",
                params![
                    c.permit_id,
                    c.caller.org_id,
                    c.now_ms,
                    c.caller.key_id,
                    c.reason
                ],
            )?;
            true
        }
        Some("revoked") => true,
        _ => false,
    };
    let audit_hash = append(
        tx,
        heads,
        NewEvent {
            org_id: &c.caller.org_id,
            kind: "permit.revoked",
            decision: None,
            actor_id: permit.as_ref().map(|p| p.agent.as_str()),
            resource_id: permit.as_ref().map(|p| p.action.as_str()),
            payload: json!({
                "decision_id": c.permit_id,
                "revoked": revoked,
                "reason": c.reason,
                "key_id": c.caller.key_id,
                "request_id": c.caller.request_id,
            }),
            now_ms: c.now_ms,
        },
    )?;
    let body = json!({
        "revoked": revoked,
        "decision_id": c.permit_id,
        "revoked_at": clock::rfc3339_ms(c.now_ms),
        "audit_hash": audit_hash,
    })
    .to_string();
    Ok(body)
}

/// Append `value` to `params`: its placeholder (`?N`) in the SQL text.
fn bind(params: &mut Vec<rusqlite::types::Value>, value: rusqlite::types::Value) -> String {
    params.push(value);
    format!("?{}", params.len())
}

/// `WHERE` clause and parameters for an organization's events.
fn filter_sql(org_id: &str, filter: &EventFilter) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as Sql;
    let mut params: Vec<Sql> = vec![Sql::Text(org_id.to_owned())];
    let mut clauses = vec!["org_id = ?1".to_owned()];
    if !filter.types.is_empty() {
        let marks: Vec<String> = filter
            .types
            .iter()
            .map(|t| bind(&mut params, Sql::Text(t.clone())))
            .collect();
        clauses.push(format!("type IN ({})", marks.join(", ")));
    }
    if let Some(actor) = &filter.actor_id {
        clauses.push(format!(
            "actor_id = {}",
            bind(&mut params, Sql::Text(actor.clone()))
        ));
    }
    if let Some(from) = filter.from_ms {
        clauses.push(format!(
            "occurred_ms >= {}",
            bind(&mut params, Sql::Integer(from))
        ));
    }
    if let Some(to) = filter.to_ms {
        clauses.push(format!(
            "occurred_ms <= {}",
            bind(&mut params, Sql::Integer(to))
        ));
    }
    (clauses.join(" AND "), params)
}

fn to_raw(text: String) -> rusqlite::Result<Box<RawValue>> {
    RawValue::from_string(text).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Events of `org_id` matching `filter` after `after`, as wire JSON, with
/// the hash of the last one.
fn select_events(
    conn: &Connection,
    org_id: &str,
    filter: &EventFilter,
    after: Option<i64>,
    limit: Option<u32>,
) -> rusqlite::Result<(Vec<Box<RawValue>>, Option<String>)> {
    let (mut where_sql, mut params) = filter_sql(org_id, filter);
    if let Some(after) = after {
        let after = bind(&mut params, rusqlite::types::Value::Integer(after));
        where_sql.push_str(&format!(" AND org_seq > {after}"));
    }
    let limit_sql = limit.map(|l| format!(" LIMIT {l}")).unwrap_or_default();
    let sql = format!(
        "SELECT org_seq, id, type, decision, actor_id, resource_type, resource_id, payload, hash, previous_hash, occurred_ms
         FROM events WHERE {where_sql} ORDER BY org_seq{limit_sql}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    let mut last = None;
    while let Some(r) = rows.next()? {
        let payload = to_raw(r.get(7)?)?;
        let at = clock::rfc3339_ms(r.get(10)?);
        let opt = |i: usize| r.get::<_, Option<String>>(i);
        let (decision, actor_id, resource_type, resource_id) = (opt(3)?, opt(4)?, opt(5)?, opt(6)?);
        let sequence: i64 = r.get(0)?;
        let hash: String = r.get(8)?;
        let event = EventOut {
            id: &r.get::<_, String>(1)?,
            org_id,
            sequence,
            kind: &r.get::<_, String>(2)?,
            decision: decision.as_deref(),
            actor_id: actor_id.as_deref(),
            resource_type: resource_type.as_deref(),
            resource_id: resource_id.as_deref(),
            payload: &payload,
            hash: &hash,
            previous_hash: &r.get::<_, String>(9)?,
            occurred_at: &at,
            created_at: &at,
        };
        let text = serde_json::to_string(&event)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        out.push(to_raw(text)?);
        last = Some(hash);
    }
    Ok((out, last))
}

fn count_events(conn: &Connection, org_id: &str, filter: &EventFilter) -> rusqlite::Result<u64> {
    let (where_sql, params) = filter_sql(org_id, filter);
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM events WHERE {where_sql}"),
        rusqlite::params_from_iter(params),
        |r| r.get(0),
    )?;
    Ok(u64::try_from(total).unwrap_or(0))
}

fn events(
    conn: &Connection,
    org_id: &str,
    filter: &EventFilter,
    limit: u32,
    cursor: Option<i64>,
) -> Result<EventPage, EngineError> {
    // One read transaction: the count and the page see the same commit.
    let tx = conn.unchecked_transaction()?;
    let total = count_events(&tx, org_id, filter)?;
    // One extra row tells whether another page follows.
    let (mut events, _) = select_events(&tx, org_id, filter, cursor, Some(limit + 1))?;
    let next_cursor = if events.len() > limit as usize {
        events.truncate(limit as usize);
        events
            .last()
            .and_then(|e| serde_json::from_str::<Value>(e.get()).ok())
            .and_then(|v| v["sequence"].as_i64())
            .map(|seq| seq.to_string())
    } else {
        None
    };
    Ok(EventPage {
        events,
        total,
        next_cursor,
    })
}

fn export(
    conn: &Connection,
    org_id: &str,
    signer: &Signer,
    filter: &EventFilter,
    max: usize,
    signed_at: &str,
) -> Result<String, EngineError> {
    let tx = conn.unchecked_transaction()?;
    let matching = count_events(&tx, org_id, filter)?;
    if matching > max as u64 {
        return Err(EngineError::ExportTooLarge { matching, max });
    }
    let (events, last) = select_events(&tx, org_id, filter, None, None)?;
    drop(tx);
    let head = last.unwrap_or_else(|| atlasent::audit::GENESIS_HASH.to_owned());
    let export_id = random_id("exp_")?;
    let envelope = Envelope {
        export_id: &export_id,
        org_id,
        chain_head_hash: &head,
        event_count: events.len(),
        signed_at,
        events: &events,
    };
    let signed = serde_json::to_vec(&envelope)
        .map_err(|e| EngineError::Storage(format!("cannot serialize the export: {e}")))?;
    let bundle = Bundle {
        envelope,
        signature: signer.sign_b64url(&signed),
        signing_key_id: signer.key_id(),
    };
    serde_json::to_string(&bundle)
        .map_err(|e| EngineError::Storage(format!("cannot serialize the export: {e}")))
}
