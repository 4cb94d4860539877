//! The writer thread: group commit, stored replies, and the SQL of every
//! state change ([`Tx`]).

use std::collections::HashMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::{reads, schema, Command};
use crate::clock;
use crate::store::chain::{self, Head};
use crate::store::{
    Kept, NewEvent, PermitRow, PermitState, Refusal, Request, StoreError, Tx, WriteError, WriteJob,
    PRUNE_EVERY_MS, REPLY_RETENTION_MS,
};

/// How far ahead of the clock a stored reply may be dated and still be
/// kept by a pruning (see [`PRUNE_EVERY_MS`]).
pub(crate) const MAX_FUTURE_MS: i64 = 60 * 1000;
/// The most commands applied in one transaction.
const MAX_BATCH: usize = 512;

pub(super) struct Writer {
    pub(super) conn: Connection,
    /// Chain heads of the organizations seen since the last failure.
    pub(super) heads: HashMap<String, Head>,
    /// When stored replies were last pruned (ms since the epoch).
    pub(super) pruned_ms: i64,
    /// Set after an I/O error other than a full disk: the writer refuses
    /// everything until the server restarts (see [`Writer::apply`]).
    pub(super) failed: Option<String>,
}

/// Whether a failed transaction may be retried by the next batch: a full
/// disk (space may come back) or a busy database. Any other I/O error — a
/// failed write or fsync — may have left the file system in a state where a
/// later successful fsync does not make earlier writes durable (the
/// "fsyncgate" lesson), so the writer stops deciding instead.
fn retryable(e: &StoreError) -> bool {
    use rusqlite::ErrorCode;
    match e {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => match f.code {
            ErrorCode::SystemIoFailure => f.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE,
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => false,
            _ => true,
        },
        _ => true,
    }
}

/// Whether `e` is a stored value this build cannot read (the database
/// answered; the row holds what it never writes), not a failure of the
/// database itself.
fn unreadable(e: &StoreError) -> bool {
    use rusqlite::Error as E;
    matches!(
        e,
        StoreError::Corrupt(_)
            | StoreError::Json(_)
            | StoreError::Sqlite(
                E::FromSqlConversionFailure(..)
                    | E::InvalidColumnType(..)
                    | E::IntegralValueOutOfRange(..)
                    | E::Utf8Error(..)
            )
    )
}

/// A reply held until its transaction commits.
type Pending = (
    oneshot::Sender<Result<String, WriteError>>,
    Result<String, WriteError>,
);

impl Writer {
    pub(super) fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while crate::store::next_batch(&mut rx, &mut batch, MAX_BATCH) {
            self.apply(&mut batch);
        }
        tracing::debug!("writer: queue closed, exiting");
    }

    /// Apply a batch in one transaction; answer only after the commit.
    fn apply(&mut self, batch: &mut Vec<Command>) {
        if let Some(why) = &self.failed {
            for cmd in batch.drain(..) {
                match cmd {
                    Command::Write { reply, .. } => {
                        drop(reply.send(Err(StoreError::Stopped(why.clone()).into())))
                    }
                    Command::Read(job) => job(&self.conn),
                }
            }
            return;
        }
        let mut pending: Vec<Pending> = Vec::with_capacity(batch.len());
        let mut reads = Vec::new();
        let result = (|| -> Result<(), StoreError> {
            // IMMEDIATE: the write lock is taken at BEGIN, where SQLite
            // waits for it (busy timeout). A deferred transaction would read
            // first and then, wanting to write while another connection
            // holds the lock, get SQLITE_BUSY at once, with no wait.
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            for cmd in batch.drain(..) {
                let (request, job, reply) = match cmd {
                    Command::Write {
                        request,
                        job,
                        reply,
                    } => (request, job, reply),
                    Command::Read(job) => {
                        reads.push(job);
                        continue;
                    }
                };
                let mut state = SqliteTx {
                    tx: &tx,
                    heads: &mut self.heads,
                    wrote: false,
                };
                match once(&mut state, &request, job) {
                    Ok(body) => pending.push((reply, Ok(body))),
                    Err(WriteError::Refused(why)) => {
                        pending.push((reply, Err(WriteError::Refused(why))))
                    }
                    // A stored value this build cannot read (a corrupt row),
                    // met before the command changed anything, with the
                    // transaction still open: this command alone fails (fail
                    // closed), the batch's others go on — one damaged row
                    // must not deny every caller whose write shares its batch.
                    Err(WriteError::Store(e))
                        if !state.wrote && unreadable(&e) && !tx.is_autocommit() =>
                    {
                        tracing::error!(error = %e, "writer: a command met a stored value it cannot read; it alone fails");
                        pending.push((reply, Err(WriteError::Store(e))));
                    }
                    Err(WriteError::Store(e)) => {
                        drop(reply);
                        return Err(e);
                    }
                }
            }
            Ok(tx.commit()?)
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
                    let failed = StoreError::RolledBack(message.clone());
                    drop(tx.send(Err(failed.into())));
                }
                // Commands not yet applied were dropped with their senders:
                // their callers see `Closed`, never a false success. The heads
                // moved with the rolled-back events: reload them on next use.
                batch.clear();
                self.heads.clear();
                if !retryable(&e) {
                    tracing::error!(error = %e, "writer: an I/O error other than a full disk; refusing every decision until the server restarts");
                    self.failed = Some(e.to_string());
                }
            }
        }
        for job in reads {
            job(&self.conn);
        }
        let now_ms = clock::now_ms();
        // `<` too: after the clock stepped back, prune again at once rather
        // than when it is back where it was.
        if now_ms - self.pruned_ms >= PRUNE_EVERY_MS || now_ms < self.pruned_ms {
            self.pruned_ms = now_ms;
            let pruned = self
                .conn
                // Replies are stored in arrival order: delete those before
                // the first one still kept (never one younger than the
                // retention; one a few ms older may wait a second more). A
                // reply dated more than a minute ahead of the clock (written
                // while the clock was ahead) does not count as kept: it
                // would stop every pruning behind it for as long as the
                // clock was ahead. Losing it costs only that a retry of its
                // request id is decided afresh.
                .prepare_cached(
                    "DELETE FROM replies WHERE id < COALESCE(
                         (SELECT id FROM replies WHERE created_ms >= ?1 AND created_ms <= ?2 ORDER BY id LIMIT 1),
                         (SELECT COALESCE(MAX(id), 0) + 1 FROM replies))",
                )
                .and_then(|mut stmt| {
                    stmt.execute([now_ms - REPLY_RETENTION_MS, now_ms + MAX_FUTURE_MS])
                });
            if let Err(e) = pruned {
                tracing::warn!(error = %e, "writer: pruning stored replies failed");
            }
        }
    }
}

/// Run a write once: a retry (same key, endpoint, request id and body)
/// gets the stored reply of the first attempt; a first attempt runs and its
/// reply is stored in the same transaction as its event. The same key,
/// endpoint and request id with a different body is refused, never
/// answered.
fn once(state: &mut SqliteTx<'_>, request: &Request, job: WriteJob) -> Result<String, WriteError> {
    let lookup = schema::reply_lookup(&request.key_id, request.endpoint, &request.request_id);
    let digest = schema::stored_digest(&request.body_digest);
    let mut stored: Option<(SqlValue, String)> = None;
    {
        let mut select = state.tx.prepare_cached(
            "SELECT key_id, endpoint, request_id, body_digest, body FROM replies WHERE lookup = ?1",
        )?;
        let mut rows = select.query([lookup])?;
        while let Some(r) = rows.next()? {
            let text = |i: usize| r.get_ref(i).map(|v| v.as_str().ok());
            let same = text(0)? == Some(request.key_id.as_str())
                && text(1)? == Some(request.endpoint)
                && text(2)? == Some(request.request_id.as_str());
            if same {
                stored = Some((r.get(3)?, r.get(4)?));
                break;
            }
        }
    }
    match stored {
        Some((stored_digest, body)) if stored_digest == digest => return Ok(body),
        Some(_) => {
            return Err(WriteError::Refused(Refusal::RequestIdReused {
                request_id: request.request_id.clone(),
            }))
        }
        None => {}
    }
    // The organization's chain head, read before the job changes anything:
    // an unreadable head then fails this command alone (a job's first
    // change may come before its event).
    if !state.heads.contains_key(&request.org_id) {
        let head = load_head(state.tx, &request.org_id)?;
        state.heads.insert(request.org_id.clone(), head);
    }
    let body = job(state)?;
    state.wrote = true;
    state.tx.prepare_cached(
        "INSERT INTO replies (lookup, key_id, endpoint, request_id, body_digest, body, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?.execute(
        params![lookup, request.key_id, request.endpoint, request.request_id, digest, body, request.now_ms],
    )?;
    Ok(body)
}

/// The writer's transaction, as a job sees it.
struct SqliteTx<'a> {
    tx: &'a Transaction<'a>,
    heads: &'a mut HashMap<String, Head>,
    /// Set before the command's first change (a failure after it rolls the
    /// whole batch back).
    wrote: bool,
}

impl Tx for SqliteTx<'_> {
    fn permit(&mut self, org_id: &str, id: &str) -> Result<Option<PermitRow>, StoreError> {
        reads::permit(self.tx, org_id, id)
    }

    fn insert_permit(&mut self, p: &PermitRow, kept: &Kept<'_>) -> Result<(), StoreError> {
        self.wrote = true;
        self.tx.prepare_cached(
            "INSERT INTO permits (id, org_id, agent, action, context_hash, decision, status, issued_ms, expires_ms, permit_hash, key_id,
                                  environment, execution_hash, escalation_id, deny_code, shape)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?.execute(
            params![
                p.id,
                p.org_id,
                p.agent,
                p.action,
                schema::stored_hash(&p.context_hash),
                p.decision,
                p.state.as_str(),
                p.issued_ms,
                p.expires_ms,
                schema::stored_signature(&p.permit_hash),
                kept.key_id,
                p.environment,
                p.execution_hash.as_deref().map(schema::stored_hash),
                kept.escalation_id,
                kept.deny_code,
                kept.shape,
            ],
        )?;
        Ok(())
    }

    fn transition(&mut self, org_id: &str, id: &str, to: &PermitState) -> Result<(), StoreError> {
        let (used_via, used_ms, revoked_ms, revoked_by, revoke_reason) = to.columns();
        self.wrote = true;
        self.tx.prepare_cached(
            "UPDATE permits SET status = ?3, used_via = ?4, used_ms = ?5, revoked_ms = ?6, revoked_by = ?7, revoke_reason = ?8
             WHERE id = ?1 AND org_id = ?2 AND status = 'active'",
        )?.execute(
            params![id, org_id, to.as_str(), used_via, used_ms, revoked_ms, revoked_by, revoke_reason],
        )?;
        Ok(())
    }

    fn append(&mut self, event: NewEvent<'_>) -> Result<String, StoreError> {
        let head = match self.heads.entry(event.org_id.to_owned()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(load_head(self.tx, event.org_id)?)
            }
        };
        // `seal` moves the head only once nothing more can fail.
        let sealed = chain::seal(head, &event)?;
        self.wrote = true;
        let inserted = self.tx.prepare_cached(
            "INSERT INTO events (org_id, org_seq, type, decision, actor_id, resource_id, payload, hash, occurred_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        ).and_then(|mut stmt| stmt.execute(
            params![
                event.org_id,
                sealed.seq,
                event.kind,
                event.decision,
                event.actor_id,
                event.resource_id,
                schema::stored_payload(&sealed.payload),
                schema::stored_hash(&sealed.hash),
                event.now_ms,
            ],
        ));
        if let Err(e) = inserted {
            // The head moved with an event that is not there.
            self.heads.remove(event.org_id);
            return Err(e.into());
        }
        Ok(sealed.hash)
    }
}

/// The head of `org_id`'s chain as stored.
fn load_head(conn: &Connection, org_id: &str) -> Result<Head, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT org_seq, hash FROM events WHERE org_id = ?1 ORDER BY org_seq DESC LIMIT 1",
    )?;
    let mut rows = stmt.query([org_id])?;
    Ok(match rows.next()? {
        Some(r) => Head {
            seq: r.get(0)?,
            hash: schema::read_hash(r.get_ref(1)?)?,
        },
        None => Head::genesis(),
    })
}
