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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::clock;
use crate::keys::Signer;
use crate::policy::{Effect, PolicySet};

/// Where the audit log and permits live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// An SQLite database file (created if absent).
    File(PathBuf),
    /// An in-memory database, gone when the server stops.
    Memory,
}

/// An engine failure: the store could not be reached or written.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// SQLite failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// The writer thread is gone (the server is shutting down).
    #[error("the engine is shutting down")]
    Closed,
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
    /// The organization id in events and exports.
    pub org_id: String,
}

/// Who asked, for the audit trail and idempotency.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The API key's public id.
    pub key_id: String,
    /// The request's `X-Request-ID`.
    pub request_id: String,
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

enum Command {
    Evaluate(EvaluateCmd, oneshot::Sender<Result<String, EngineError>>),
    Verify(VerifyCmd, oneshot::Sender<Result<String, EngineError>>),
    Revoke(RevokeCmd, oneshot::Sender<Result<String, EngineError>>),
    Events(
        EventFilter,
        u32,
        Option<i64>,
        oneshot::Sender<Result<EventPage, EngineError>>,
    ),
    Export(EventFilter, oneshot::Sender<Result<String, EngineError>>),
}

struct EvaluateCmd {
    caller: Caller,
    permit_id: String,
    agent: String,
    action: String,
    context_hash: String,
    effect: Effect,
    policy_id: Option<String>,
    rule_id: Option<String>,
    reason: String,
    now_ms: i64,
    expires_ms: i64,
    permit_hash: String,
}

struct VerifyCmd {
    caller: Caller,
    permit_id: String,
    agent: String,
    action: String,
    /// `None` when the caller sent `{}` (no cross-check).
    context_hash: Option<String>,
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

struct Inner {
    tx: mpsc::UnboundedSender<Command>,
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
            Storage::File(path) => Connection::open(path)?,
            Storage::Memory => Connection::open_in_memory()?,
        };
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let head = Head::load(&conn)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = Writer {
            conn,
            head,
            signer: Arc::clone(&signer),
            org_id: config.org_id.clone(),
            batches: 0,
        };
        let handle = std::thread::Builder::new()
            .name("atlasent-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|_| EngineError::Closed)?;
        Ok(Engine {
            inner: Arc::new(Inner {
                tx,
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

    /// The organization id.
    pub fn org_id(&self) -> &str {
        &self.inner.config.org_id
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

    /// Decide, issue a permit (for an allow) and log the decision. Returns
    /// the `/v1-evaluate` reply body; a retry with the same request id gets
    /// the first reply.
    pub async fn evaluate(
        &self,
        caller: Caller,
        agent: &str,
        action: &str,
        context: &Map<String, Value>,
    ) -> Result<String, EngineError> {
        let decision = self.inner.policies.evaluate(agent, action, context);
        let now_ms = clock::now_ms();
        let expires_ms = now_ms.saturating_add(self.inner.config.permit_ttl.as_millis() as i64);
        let permit_id = random_id("dec_")?;
        let context_hash = context_hash(context);
        let permit_hash = if decision.effect == Effect::Allow {
            let claims = json!({
                "permit_id": permit_id, "agent": agent, "action": action,
                "context_hash": context_hash, "expires_at": clock::rfc3339_ms(expires_ms),
            });
            let canonical = atlasent::audit::canonical_json_of(&claims).unwrap_or_default();
            self.inner.signer.sign_b64url(canonical.as_bytes())
        } else {
            String::new()
        };
        let cmd = EvaluateCmd {
            caller,
            permit_id,
            agent: agent.to_owned(),
            action: action.to_owned(),
            context_hash,
            effect: decision.effect,
            policy_id: decision.policy_id,
            rule_id: decision.rule_id,
            reason: decision.reason,
            now_ms,
            expires_ms,
            permit_hash,
        };
        self.call(|tx| Command::Evaluate(cmd, tx)).await
    }

    /// Verify (and consume) a permit; returns the `/v1-verify-permit` reply.
    pub async fn verify(
        &self,
        caller: Caller,
        permit_id: &str,
        agent: &str,
        action: &str,
        context: &Map<String, Value>,
    ) -> Result<String, EngineError> {
        let cmd = VerifyCmd {
            caller,
            permit_id: permit_id.to_owned(),
            agent: agent.to_owned(),
            action: action.to_owned(),
            context_hash: (!context.is_empty()).then(|| context_hash(context)),
            now_ms: clock::now_ms(),
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
            now_ms: clock::now_ms(),
        };
        self.call(|tx| Command::Revoke(cmd, tx)).await
    }

    /// One page of events in sequence order, after `cursor`.
    pub async fn events(
        &self,
        filter: EventFilter,
        limit: u32,
        cursor: Option<i64>,
    ) -> Result<EventPage, EngineError> {
        self.call(|tx| Command::Events(filter, limit, cursor, tx))
            .await
    }

    /// A signed export bundle of the events matching `filter` (JSON text).
    pub async fn export(&self, filter: EventFilter) -> Result<String, EngineError> {
        self.call(|tx| Command::Export(filter, tx)).await
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

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    type          TEXT NOT NULL,
    decision      TEXT,
    actor_id      TEXT,
    resource_type TEXT,
    resource_id   TEXT,
    payload       TEXT NOT NULL,
    hash          TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    occurred_ms   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_type ON events(type, seq);
CREATE INDEX IF NOT EXISTS events_by_actor ON events(actor_id, seq);
CREATE INDEX IF NOT EXISTS events_by_time ON events(occurred_ms);
CREATE TABLE IF NOT EXISTS permits (
    id           TEXT PRIMARY KEY,
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
CREATE TABLE IF NOT EXISTS replies (
    key_id     TEXT NOT NULL,
    endpoint   TEXT NOT NULL,
    request_id TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (key_id, endpoint, request_id)
);
CREATE INDEX IF NOT EXISTS replies_by_age ON replies(created_ms);
";

/// The chain head the next event links to.
#[derive(Debug, Clone)]
struct Head {
    seq: i64,
    hash: String,
}

impl Head {
    fn load(conn: &Connection) -> rusqlite::Result<Head> {
        Ok(conn
            .query_row(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
                [],
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

struct NewEvent<'a> {
    kind: &'a str,
    decision: Option<&'a str>,
    actor_id: Option<&'a str>,
    resource_id: Option<&'a str>,
    payload: Value,
    now_ms: i64,
}

/// An event as it appears in listings and exports (key order is the wire's).
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
    occurred_at: String,
    created_at: String,
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
    head: Head,
    signer: Arc<Signer>,
    org_id: String,
    batches: u64,
}

/// A reply held until its transaction commits.
enum Pending {
    Text(oneshot::Sender<Result<String, EngineError>>, String),
    Page(oneshot::Sender<Result<EventPage, EngineError>>, EventPage),
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
        let head_before = self.head.clone();
        let mut pending = Vec::with_capacity(batch.len());
        let result = (|| -> rusqlite::Result<()> {
            let tx = self.conn.transaction()?;
            for cmd in batch.drain(..) {
                pending.push(Self::apply_one(
                    &tx,
                    &mut self.head,
                    &self.org_id,
                    &self.signer,
                    cmd,
                )?);
            }
            tx.commit()
        })();
        match result {
            Ok(()) => {
                for p in pending {
                    match p {
                        Pending::Text(tx, body) => drop(tx.send(Ok(body))),
                        Pending::Page(tx, page) => drop(tx.send(Ok(page))),
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "writer: transaction failed; answering every command of the batch with an error");
                self.head = head_before;
                let message = e.to_string();
                for p in pending {
                    let err = || EngineError::Storage(message.clone());
                    match p {
                        Pending::Text(tx, _) => drop(tx.send(Err(err()))),
                        Pending::Page(tx, _) => drop(tx.send(Err(err()))),
                    }
                }
                // Commands not yet applied were dropped with their senders:
                // their callers see `Closed`, never a false success.
                batch.clear();
                if let Ok(head) = Head::load(&self.conn) {
                    self.head = head;
                }
            }
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

    fn apply_one(
        tx: &Transaction<'_>,
        head: &mut Head,
        org_id: &str,
        signer: &Signer,
        cmd: Command,
    ) -> rusqlite::Result<Pending> {
        Ok(match cmd {
            Command::Evaluate(c, reply) => Pending::Text(reply, Self::evaluate(tx, head, c)?),
            Command::Verify(c, reply) => Pending::Text(reply, Self::verify(tx, head, c)?),
            Command::Revoke(c, reply) => Pending::Text(reply, Self::revoke(tx, head, c)?),
            Command::Events(filter, limit, cursor, reply) => {
                Pending::Page(reply, Self::events(tx, org_id, &filter, limit, cursor)?)
            }
            Command::Export(filter, reply) => {
                Pending::Text(reply, Self::export(tx, org_id, signer, &filter)?)
            }
        })
    }

    fn stored_reply(
        tx: &Transaction<'_>,
        caller: &Caller,
        endpoint: &str,
    ) -> rusqlite::Result<Option<String>> {
        tx.query_row(
            "SELECT body FROM replies WHERE key_id = ?1 AND endpoint = ?2 AND request_id = ?3",
            params![caller.key_id, endpoint, caller.request_id],
            |r| r.get(0),
        )
        .optional()
    }

    fn store_reply(
        tx: &Transaction<'_>,
        caller: &Caller,
        endpoint: &str,
        body: &str,
        now_ms: i64,
    ) -> rusqlite::Result<()> {
        tx.execute(
            "INSERT INTO replies (key_id, endpoint, request_id, body, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![caller.key_id, endpoint, caller.request_id, body, now_ms],
        )?;
        Ok(())
    }

    /// Append an event to the chain; returns its hash.
    fn append(
        tx: &Transaction<'_>,
        head: &mut Head,
        event: NewEvent<'_>,
    ) -> rusqlite::Result<String> {
        let seq = head.seq + 1;
        let payload = serde_json::to_string(&event.payload).unwrap_or_else(|_| "{}".into());
        let canonical = atlasent::audit::canonical_json(&payload).unwrap_or_default();
        let hash = atlasent::audit::chain_hash(&head.hash, &canonical);
        tx.execute(
            "INSERT INTO events (seq, id, type, decision, actor_id, resource_type, resource_id, payload, hash, previous_hash, occurred_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                seq,
                format!("evt_{seq:012}"),
                event.kind,
                event.decision,
                event.actor_id,
                event.resource_id.map(|_| "action"),
                event.resource_id,
                payload,
                hash,
                head.hash,
                event.now_ms,
            ],
        )?;
        head.seq = seq;
        head.hash.clone_from(&hash);
        Ok(hash)
    }

    fn evaluate(tx: &Transaction<'_>, head: &mut Head, c: EvaluateCmd) -> rusqlite::Result<String> {
        const ENDPOINT: &str = "evaluate";
        if let Some(body) = Self::stored_reply(tx, &c.caller, ENDPOINT)? {
            return Ok(body);
        }
        let decision = c.effect.as_str();
        tx.execute(
            "INSERT INTO permits (id, agent, action, context_hash, decision, status, issued_ms, expires_ms, permit_hash, key_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                c.permit_id,
                c.agent,
                c.action,
                c.context_hash,
                decision,
                if c.effect == Effect::Allow { "active" } else { "denied" },
                c.now_ms,
                c.expires_ms,
                c.permit_hash,
                c.caller.key_id,
            ],
        )?;
        let audit_hash = Self::append(
            tx,
            head,
            NewEvent {
                kind: if c.effect == Effect::Allow {
                    "evaluate.allow"
                } else {
                    "evaluate.deny"
                },
                decision: Some(decision),
                actor_id: Some(&c.agent),
                resource_id: Some(&c.action),
                payload: json!({
                    "decision_id": c.permit_id,
                    "decision": decision,
                    "agent": c.agent,
                    "action": c.action,
                    "context_hash": c.context_hash,
                    "policy_id": c.policy_id,
                    "rule_id": c.rule_id,
                    "reason": c.reason,
                    "expires_at": clock::rfc3339_ms(c.expires_ms),
                    "key_id": c.caller.key_id,
                    "request_id": c.caller.request_id,
                }),
                now_ms: c.now_ms,
            },
        )?;
        let body = json!({
            "permitted": c.effect == Effect::Allow,
            "decision_id": c.permit_id,
            "reason": c.reason,
            "audit_hash": audit_hash,
            "timestamp": clock::rfc3339_ms(c.now_ms),
        })
        .to_string();
        Self::store_reply(tx, &c.caller, ENDPOINT, &body, c.now_ms)?;
        Ok(body)
    }

    fn verify(tx: &Transaction<'_>, head: &mut Head, c: VerifyCmd) -> rusqlite::Result<String> {
        const ENDPOINT: &str = "verify";
        if let Some(body) = Self::stored_reply(tx, &c.caller, ENDPOINT)? {
            return Ok(body);
        }
        let permit = tx
            .query_row(
                "SELECT agent, action, context_hash, decision, status, expires_ms, permit_hash FROM permits WHERE id = ?1",
                [&c.permit_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                },
            )
            .optional()?;
        let (outcome, permit_hash, owner) = match &permit {
            None => ("not_found", "", None),
            Some((agent, action, ctx, decision, status, expires_ms, hash)) => {
                let outcome = if decision != "allow" {
                    "denied"
                } else if status == "revoked" {
                    "revoked"
                } else if status == "consumed" {
                    "consumed"
                } else if c.now_ms > *expires_ms {
                    "expired"
                } else if (!c.agent.is_empty() && &c.agent != agent)
                    || (!c.action.is_empty() && &c.action != action)
                    || c.context_hash.as_ref().is_some_and(|h| h != ctx)
                {
                    "mismatch"
                } else {
                    "verified"
                };
                (outcome, hash.as_str(), Some(agent.as_str()))
            }
        };
        let verified = outcome == "verified";
        if verified {
            tx.execute(
                "UPDATE permits SET status = 'consumed' WHERE id = ?1",
                [&c.permit_id],
            )?;
        }
        let audit_hash = Self::append(
            tx,
            head,
            NewEvent {
                kind: if verified {
                    "permit.verified"
                } else {
                    "permit.rejected"
                },
                decision: None,
                actor_id: owner.or(Some(c.agent.as_str()).filter(|a| !a.is_empty())),
                resource_id: permit.as_ref().map(|p| p.1.as_str()),
                payload: json!({
                    "decision_id": c.permit_id,
                    "outcome": outcome,
                    "verified": verified,
                    "agent": c.agent,
                    "action": c.action,
                    "context_hash": c.context_hash,
                    "key_id": c.caller.key_id,
                    "request_id": c.caller.request_id,
                }),
                now_ms: c.now_ms,
            },
        )?;
        let body = json!({
            "verified": verified,
            "outcome": outcome,
            "permit_hash": if verified { permit_hash } else { "" },
            "timestamp": clock::rfc3339_ms(c.now_ms),
            "audit_hash": audit_hash,
        })
        .to_string();
        Self::store_reply(tx, &c.caller, ENDPOINT, &body, c.now_ms)?;
        Ok(body)
    }

    fn revoke(tx: &Transaction<'_>, head: &mut Head, c: RevokeCmd) -> rusqlite::Result<String> {
        const ENDPOINT: &str = "revoke";
        if let Some(body) = Self::stored_reply(tx, &c.caller, ENDPOINT)? {
            return Ok(body);
        }
        let permit: Option<(String, String, String)> = tx
            .query_row(
                "SELECT status, agent, action FROM permits WHERE id = ?1",
                [&c.permit_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let revoked = match permit.as_ref().map(|p| p.0.as_str()) {
            Some("active") => {
                tx.execute(
                    "UPDATE permits SET status = 'revoked' WHERE id = ?1",
                    [&c.permit_id],
                )?;
                true
            }
            Some("revoked") => true,
            _ => false,
        };
        let audit_hash = Self::append(
            tx,
            head,
            NewEvent {
                kind: "permit.revoked",
                decision: None,
                actor_id: permit.as_ref().map(|p| p.1.as_str()),
                resource_id: permit.as_ref().map(|p| p.2.as_str()),
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
        Self::store_reply(tx, &c.caller, ENDPOINT, &body, c.now_ms)?;
        Ok(body)
    }

    /// `WHERE` clause and parameters for a filter.
    fn filter_sql(filter: &EventFilter) -> (String, Vec<rusqlite::types::Value>) {
        use rusqlite::types::Value as Sql;
        let mut clauses = vec!["1 = 1".to_owned()];
        let mut params: Vec<Sql> = Vec::new();
        if !filter.types.is_empty() {
            let marks: Vec<String> = filter
                .types
                .iter()
                .map(|t| {
                    params.push(Sql::Text(t.clone()));
                    format!("?{}", params.len())
                })
                .collect();
            clauses.push(format!("type IN ({})", marks.join(", ")));
        }
        if let Some(actor) = &filter.actor_id {
            params.push(Sql::Text(actor.clone()));
            clauses.push(format!("actor_id = ?{}", params.len()));
        }
        if let Some(from) = filter.from_ms {
            params.push(Sql::Integer(from));
            clauses.push(format!("occurred_ms >= ?{}", params.len()));
        }
        if let Some(to) = filter.to_ms {
            params.push(Sql::Integer(to));
            clauses.push(format!("occurred_ms <= ?{}", params.len()));
        }
        (clauses.join(" AND "), params)
    }

    fn select_events(
        tx: &Transaction<'_>,
        org_id: &str,
        filter: &EventFilter,
        after: Option<i64>,
        limit: Option<u32>,
    ) -> rusqlite::Result<Vec<Box<RawValue>>> {
        let (mut where_sql, mut params) = Self::filter_sql(filter);
        if let Some(after) = after {
            params.push(rusqlite::types::Value::Integer(after));
            where_sql.push_str(&format!(" AND seq > ?{}", params.len()));
        }
        let limit_sql = limit.map(|l| format!(" LIMIT {l}")).unwrap_or_default();
        let sql = format!(
            "SELECT seq, id, type, decision, actor_id, resource_type, resource_id, payload, hash, previous_hash, occurred_ms
             FROM events WHERE {where_sql} ORDER BY seq{limit_sql}"
        );
        let mut stmt = tx.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let payload: String = r.get(7)?;
            let payload = RawValue::from_string(payload)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            let at = clock::rfc3339_ms(r.get(10)?);
            let opt = |i: usize| r.get::<_, Option<String>>(i);
            let (decision, actor_id, resource_type, resource_id) =
                (opt(3)?, opt(4)?, opt(5)?, opt(6)?);
            let event = EventOut {
                id: &r.get::<_, String>(1)?,
                org_id,
                sequence: r.get(0)?,
                kind: &r.get::<_, String>(2)?,
                decision: decision.as_deref(),
                actor_id: actor_id.as_deref(),
                resource_type: resource_type.as_deref(),
                resource_id: resource_id.as_deref(),
                payload: &payload,
                hash: &r.get::<_, String>(8)?,
                previous_hash: &r.get::<_, String>(9)?,
                occurred_at: at.clone(),
                created_at: at,
            };
            let text = serde_json::to_string(&event)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            out.push(
                RawValue::from_string(text)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
            );
        }
        Ok(out)
    }

    fn events(
        tx: &Transaction<'_>,
        org_id: &str,
        filter: &EventFilter,
        limit: u32,
        cursor: Option<i64>,
    ) -> rusqlite::Result<EventPage> {
        let (where_sql, params) = Self::filter_sql(filter);
        let total: i64 = tx.query_row(
            &format!("SELECT COUNT(*) FROM events WHERE {where_sql}"),
            rusqlite::params_from_iter(params),
            |r| r.get(0),
        )?;
        // One extra row tells whether another page follows.
        let mut events = Self::select_events(tx, org_id, filter, cursor, Some(limit + 1))?;
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
            total: total as u64,
            next_cursor,
        })
    }

    fn export(
        tx: &Transaction<'_>,
        org_id: &str,
        signer: &Signer,
        filter: &EventFilter,
    ) -> rusqlite::Result<String> {
        let events = Self::select_events(tx, org_id, filter, None, None)?;
        let head = events
            .last()
            .and_then(|e| serde_json::from_str::<Value>(e.get()).ok())
            .and_then(|v| v["hash"].as_str().map(str::to_owned))
            .unwrap_or_else(|| atlasent::audit::GENESIS_HASH.to_owned());
        let export_id = random_id("exp_").map_err(|e| {
            rusqlite::Error::ToSqlConversionFailure(Box::new(std::io::Error::other(e.to_string())))
        })?;
        let signed_at = clock::rfc3339_ms(clock::now_ms());
        let envelope = Envelope {
            export_id: &export_id,
            org_id,
            chain_head_hash: &head,
            event_count: events.len(),
            signed_at: &signed_at,
            events: &events,
        };
        let signed = serde_json::to_vec(&envelope)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let bundle = Bundle {
            envelope,
            signature: signer.sign_b64url(&signed),
            signing_key_id: signer.key_id(),
        };
        serde_json::to_string(&bundle)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
    }
}
