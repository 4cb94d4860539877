//! Storage: the organizations' hash-chained audit logs, the permits and the
//! stored replies, behind the [`Store`] trait. [`SqliteStore`] (a writer
//! thread with group commit, a pool of read-only connections) is the
//! embedded default; `PostgresStore` (the `postgres` feature) lets several
//! server processes share one database. The
//! [`Engine`](crate::engine::Engine) decides the same on either.
//!
//! A state change is a [`WriteJob`]: the engine's code, run by the store
//! inside its write transaction against a [`Tx`] (read a permit, issue,
//! consume or revoke one, append an event). The store runs it at most once
//! per request ([`Request`]): a retry gets the stored reply of the first
//! attempt, and the reply is answered only once the transaction that holds
//! its event is durable.

use std::future::Future;
use std::pin::Pin;

use serde_json::value::RawValue;

use atlasent::wire::PermitStatus;

pub mod chain;
pub mod compact;
mod filter;
#[cfg(feature = "postgres")]
mod postgres;
mod row;
mod sqlite;
mod url;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
pub use sqlite::{SqliteStore, Storage};
pub use url::PostgresUrl;

/// How long a stored reply is kept for retries with the same request id.
pub(crate) const REPLY_RETENTION_MS: i64 = 24 * 3600 * 1000;
/// How often a writer deletes the stored replies older than
/// [`REPLY_RETENTION_MS`]: after the first batch at least this long after
/// its last pruning (an idle server prunes at its next write). A reply is
/// thus kept 24 hours, and gone within about a second of a busy writer's
/// 24 hours (each pruning deletes about one interval's worth of replies,
/// from the oldest, so no pruning stalls decisions).
pub(crate) const PRUNE_EVERY_MS: i64 = 1000;

/// Wait for the next command of a writer's queue, then take those already
/// queued behind it, up to `max` in all: the next batch (group commit).
/// `false` once the queue is closed and empty.
pub(crate) fn next_batch<T>(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<T>,
    batch: &mut Vec<T>,
    max: usize,
) -> bool {
    let Some(first) = rx.blocking_recv() else {
        return false;
    };
    batch.push(first);
    while batch.len() < max {
        match rx.try_recv() {
            Ok(cmd) => batch.push(cmd),
            Err(_) => break,
        }
    }
    true
}

/// A store failure: the database could not be reached, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The database file (or its folder) could not be created.
    #[error("cannot create {path}: {source}")]
    Create {
        /// The file or folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The database was written by a schema this build does not know.
    #[error(
        "the database has schema version {found}, which this atlasent-server does not know \
         (it reads 0, 2, 3, 4 and {current})"
    )]
    UnknownSchema {
        /// The database's `user_version`.
        found: i64,
        /// The version this build writes.
        current: i64,
    },
    /// The schema could not be upgraded (nothing was changed).
    #[error("cannot migrate the database to schema {to}: {source}")]
    Migrate {
        /// The version aimed at.
        to: i64,
        /// Why.
        source: rusqlite::Error,
    },
    /// A stored value is not one this build writes.
    #[error("the database holds {0}, which this atlasent-server never writes")]
    Corrupt(String),
    /// A value could not be written as, or read from, JSON.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The store hit an I/O error that may have lost writes, and refuses
    /// every change until the server restarts.
    #[error("the store hit an I/O error ({0}) and stopped deciding; restart the server")]
    Stopped(String),
    /// Another write of the same batch failed, and the batch was rolled
    /// back: nothing of it is written.
    #[error("{0}")]
    RolledBack(String),
    /// PostgreSQL failed (or could not be reached): its message.
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
}

/// Why a write was refused. A refused write changed nothing (a job refuses
/// before it writes) and its refusal is not kept as a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request id was used before, by this key on this endpoint, for a
    /// request with a different body.
    RequestIdReused {
        /// The reused id.
        request_id: String,
    },
    /// No permit of the caller's organization has this id.
    PermitNotFound,
    /// The permit was used and cannot be revoked.
    PermitUsed,
}

/// Why a write produced no reply.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The request is refused; the other writes of its batch go on.
    #[error("refused: {0:?}")]
    Refused(Refusal),
    /// The store failed; nothing of the batch is written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for WriteError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

impl From<serde_json::Error> for WriteError {
    fn from(e: serde_json::Error) -> Self {
        Self::Store(e.into())
    }
}

/// A future of a store operation.
pub type StoreFuture<'a, T, E = StoreError> =
    Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'a>>;

/// A state change, run inside the store's write transaction; returns the
/// reply body (kept for retries of the same request).
pub type WriteJob = Box<dyn FnOnce(&mut dyn Tx) -> Result<String, WriteError> + Send>;

/// What a store keeps: hash chains of events, permits, stored replies.
pub trait Store: Send + Sync {
    /// Run `job` once for `request`, in a transaction with other writes
    /// (group commit), and answer only after that transaction is durable.
    /// A retry of `request` (same key, endpoint, request id and body
    /// digest) gets the first reply and runs nothing; the same request id
    /// with another body is [`Refusal::RequestIdReused`].
    ///
    /// A job that fails on a stored value this build cannot read (a
    /// damaged row, [`StoreError::Corrupt`]) before it changed anything
    /// fails alone; any other failure fails every write of the transaction
    /// (none of them is acknowledged).
    fn write(&self, request: Request, job: WriteJob) -> StoreFuture<'_, String, WriteError>;

    /// One page of `org_id`'s events in sequence order.
    fn events(&self, org_id: String, query: EventQuery) -> StoreFuture<'_, EventPage>;

    /// Every event of `org_id` matching `filter`, with the hash of the last
    /// one, unless more than `max` match.
    fn export_events(
        &self,
        org_id: String,
        filter: EventFilter,
        max: usize,
    ) -> StoreFuture<'_, ExportSelection>;

    /// The permit (or decision that issued none) `id` of `org_id`.
    fn permit(&self, org_id: String, id: String) -> StoreFuture<'_, Option<PermitRow>>;

    /// One page of `org_id`'s permits (allow decisions) matching the
    /// query, newest first; `now_ms` tells `issued` from `expired`.
    fn permits(
        &self,
        org_id: String,
        query: PermitQuery,
        now_ms: i64,
    ) -> StoreFuture<'_, PermitRows>;
}

/// The store's side of one write transaction.
pub trait Tx {
    /// The permit (or decision that issued none) `id` of `org_id`.
    fn permit(&mut self, org_id: &str, id: &str) -> Result<Option<PermitRow>, StoreError>;

    /// Record a decision (its row's state is `Active` for an allow, else
    /// `Denied`), with what only the store keeps of it.
    fn insert_permit(&mut self, permit: &PermitRow, kept: &Kept<'_>) -> Result<(), StoreError>;

    /// Move the active permit `id` of `org_id` to state `to` (used or
    /// revoked); a permit no longer active stays as it is.
    fn transition(&mut self, org_id: &str, id: &str, to: &PermitState) -> Result<(), StoreError>;

    /// Append an event to its organization's chain; returns its hash.
    fn append(&mut self, event: NewEvent<'_>) -> Result<String, StoreError>;
}

/// A request as idempotency knows it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The key's organization.
    pub org_id: String,
    /// The API key's public id.
    pub key_id: String,
    /// The endpoint (`evaluate`, `verify`, `revoke`, `permits.verify`,
    /// `permits.revoke`).
    pub endpoint: &'static str,
    /// The request's `X-Request-ID`.
    pub request_id: String,
    /// SHA-256 hex of the request body's canonical JSON.
    pub body_digest: String,
    /// When it arrived (ms since the epoch); its reply is kept from then.
    pub now_ms: i64,
    /// The permit the write reads, when known before it runs (a verify's,
    /// a revoke's): a store may read it ahead, with the other reads of
    /// its batch. The job still reads it through [`Tx::permit`].
    pub reads_permit: Option<String>,
}

/// Where a permit is, as stored, with when and how it got there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermitState {
    /// Issued, not used or revoked (it may have expired by the clock).
    Active,
    /// A decision that issued no permit.
    Denied,
    /// Used (the door and time are unknown for a permit used before schema
    /// 3).
    Consumed {
        /// The door it was used through.
        via: Option<UsedVia>,
        /// When.
        at_ms: Option<i64>,
    },
    /// Revoked (the time and revoker are unknown before schema 3).
    Revoked {
        /// When.
        at_ms: Option<i64>,
        /// The id of the key that revoked it.
        by: Option<String>,
        /// Why, as the revoker said.
        reason: Option<String>,
    },
}

/// The columns a transition to a state writes besides the status:
/// `used_via`, `used_ms`, `revoked_ms`, `revoked_by`, `revoke_reason`.
pub(crate) type TransitionColumns<'a> = (
    Option<&'static str>,
    Option<i64>,
    Option<i64>,
    Option<&'a str>,
    Option<&'a str>,
);

impl PermitState {
    /// What a transition to this state writes besides the status.
    pub(crate) fn columns(&self) -> TransitionColumns<'_> {
        match self {
            Self::Consumed { via, at_ms } => (via.map(|v| v.as_str()), *at_ms, None, None, None),
            Self::Revoked { at_ms, by, reason } => {
                (None, None, *at_ms, by.as_deref(), reason.as_deref())
            }
            Self::Active | Self::Denied => (None, None, None, None, None),
        }
    }

    /// The stored spelling of the state's kind.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Denied => "denied",
            Self::Consumed { .. } => "consumed",
            Self::Revoked { .. } => "revoked",
        }
    }
}

/// The door a permit was used through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsedVia {
    /// `POST /v1-verify-permit`.
    Verify,
    /// `POST /v1/permits/{id}/verify`.
    ById,
}

impl UsedVia {
    /// The stored (and logged) spelling: `verify`, `by_id`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::ById => "by_id",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        [Self::Verify, Self::ById]
            .into_iter()
            .find(|v| v.as_str() == text)
            .ok_or_else(|| StoreError::Corrupt(format!("a permit used via {text:?}")))
    }
}

/// A permit (or a decision that issued none) as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitRow {
    /// The decision id.
    pub id: String,
    /// Its organization.
    pub org_id: String,
    /// The actor it was decided for.
    pub agent: String,
    /// The action.
    pub action: String,
    /// The environment it was issued for.
    pub environment: Option<String>,
    /// SHA-256 hex of the context's canonical JSON.
    pub context_hash: String,
    /// The execution hash (`None` before schema 3).
    pub execution_hash: Option<String>,
    /// `allow`, `deny`, `hold` or `escalate`.
    pub decision: String,
    /// Where it is.
    pub state: PermitState,
    /// When it was decided (ms since the epoch).
    pub issued_ms: i64,
    /// When it expires.
    pub expires_ms: i64,
    /// The signature over its claims (empty for a non-permit).
    pub permit_hash: String,
}

/// What the store keeps of a decision besides its [`PermitRow`]: the key
/// that asked, the escalation id of a hold or escalate, the deny code of a
/// non-allow, and the request's wire (`legacy`, `current`).
#[derive(Debug, Clone, Copy)]
pub struct Kept<'a> {
    /// The key that asked.
    pub key_id: &'a str,
    /// The escalation id of a hold or escalate.
    pub escalation_id: Option<&'a str>,
    /// The deny code of a non-allow.
    pub deny_code: Option<&'a str>,
    /// The request's wire.
    pub shape: &'a str,
}

/// An event to append. Everything an auditor reads of it goes into the
/// hashed payload (see [`chain::seal`]), so that no column outside the
/// chain can be changed unnoticed.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// The chain it goes to.
    pub org_id: &'a str,
    /// Its type (`evaluate.allow`, `permit.verified`, …).
    pub kind: &'a str,
    /// The decision, for an evaluation.
    pub decision: Option<&'a str>,
    /// The actor.
    pub actor_id: Option<&'a str>,
    /// The action (its `resource_type` is then `action`).
    pub resource_id: Option<&'a str>,
    /// What else it records.
    pub payload: chain::EventPayload,
    /// When it happened.
    pub now_ms: i64,
}

/// Filters of `GET /v1-audit/events` and `POST /v1-audit/exports`.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Event types to include (empty: all).
    pub types: Vec<String>,
    /// Only events of this actor (agent).
    pub actor_id: Option<String>,
    /// Only events that occurred in this range.
    pub occurred: TimeRange,
}

/// A closed range of times (ms since the epoch): the `from` and `to`
/// parameters of the listings. An open end is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// At or after this time.
    pub from_ms: Option<i64>,
    /// At or before this time.
    pub to_ms: Option<i64>,
}

/// A page of a listing to read: the rows matching `filter`, after the
/// cursor `after` (`C`: an event's sequence number, a [`PermitCursor`]), at
/// most `limit`.
#[derive(Debug, Clone, Default)]
pub struct Page<F, C> {
    /// What to select.
    pub filter: F,
    /// The most rows on the page.
    pub limit: u32,
    /// Where the page starts (`None`: at the first row).
    pub after: Option<C>,
}

/// A page of events: after a sequence number.
pub type EventQuery = Page<EventFilter, i64>;

/// A page of permits, newest first.
pub type PermitQuery = Page<PermitFilter, PermitCursor>;

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

/// The events of an export, or why there are none.
#[derive(Debug, Clone)]
pub enum ExportSelection {
    /// More events match than one export may hold.
    TooLarge {
        /// How many match.
        matching: u64,
    },
    /// The events, in chain order.
    Events {
        /// Each as a JSON object text.
        events: Vec<Box<RawValue>>,
        /// The hash of the last (`None`: no event matched).
        last_hash: Option<String>,
    },
}

/// Filters of `GET /v1/permits`.
#[derive(Debug, Clone, Default)]
pub struct PermitFilter {
    /// Only permits of this status.
    pub status: Option<PermitStatus>,
    /// Only permits of this actor.
    pub actor_id: Option<String>,
    /// Only permits of this action.
    pub action: Option<String>,
    /// Only permits issued in this range.
    pub issued: TimeRange,
}

/// Where a page of `GET /v1/permits` starts: after the permit issued at
/// `issued_ms` with id `id` (pages run newest first). A cursor positions a
/// listing within the caller's organization only, so a forged one reads
/// nothing another organization owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitCursor {
    pub(crate) issued_ms: i64,
    pub(crate) id: String,
}

/// One page of permits, newest first.
#[derive(Debug, Clone)]
pub struct PermitRows {
    /// The permits.
    pub rows: Vec<PermitRow>,
    /// How many match in all.
    pub total: u64,
    /// Where the next page starts, if there is one.
    pub next: Option<PermitCursor>,
}

/// Rows for unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{PermitRow, PermitState};

    /// An active permit `dec_1` of `o` for `bot` to `deploy` in `prod`,
    /// issued at 0, expiring at 1,000.
    pub(crate) fn permit_row() -> PermitRow {
        PermitRow {
            id: "dec_1".into(),
            org_id: "o".into(),
            agent: "bot".into(),
            action: "deploy".into(),
            context_hash: "c".into(),
            decision: "allow".into(),
            state: PermitState::Active,
            issued_ms: 0,
            expires_ms: 1_000,
            permit_hash: "sig".into(),
            environment: Some("prod".into()),
            execution_hash: Some("e".into()),
        }
    }
}
