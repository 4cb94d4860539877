//! The writer thread: group commit under the chain head locks, stored
//! replies, and the SQL of every state change ([`Tx`]).
//!
//! The thread runs its own single-threaded tokio runtime and drives the
//! driver's futures to completion one statement at a time (a job is
//! synchronous code run inside the transaction).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Statement};

use super::{describe, pg, schema, Command, STATEMENT_TIMEOUT};
use crate::clock;
use crate::store::chain::{self, Head};
use crate::store::row::{permit_row, Columns, PERMIT_COLUMNS};
use crate::store::{
    Kept, NewEvent, PermitRow, PermitState, PostgresUrl, Refusal, Request, StoreError, Tx,
    WriteError, WriteJob, PRUNE_EVERY_MS, REPLY_RETENTION_MS,
};

/// The most writes applied in one transaction.
const MAX_BATCH: usize = 512;
/// Set on the writer's connection. A writer stopped inside a transaction
/// (its process frozen, its network gone) holds its organizations' chain
/// head locks: the other nodes wait at most 10 s before PostgreSQL ends its
/// session. And every statement of the writer finds its rows by key: a plan
/// that scans a whole table, chosen while a young table's statistics are
/// stale (autovacuum analyzes it a minute later) and then kept by the plan
/// cache, would read the whole table once per batch; so would a plan of an
/// organization's index chosen while the table was empty (every estimate a
/// tie): each statement is planned with its values, when it runs (a batch
/// runs a handful, each over all its rows).
///
/// The server also ends a statement (or a wait for a lock) after 25 s, before
/// the writer's own [`STATEMENT_TIMEOUT`], so the connection stays usable;
/// it notices a writer whose network is gone within about 25 s (TCP
/// keepalives); and a commit is answered only once it is flushed
/// (`synchronous_commit`, whatever the database's or role's default).
const SESSION: &str = "SET idle_in_transaction_session_timeout = '10s'; \
     SET statement_timeout = '25s'; SET synchronous_commit = on; \
     SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; \
     SET tcp_keepalives_count = 3; SET enable_seqscan = off; \
     SET plan_cache_mode = force_custom_plan";
/// What a transaction of the writer begins with: each statement sees what
/// is committed when it starts, after the locks it waited for (see
/// [`PostgresStore`](super::PostgresStore)).
const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";
/// How a statement that got no answer in time fails.
const NO_ANSWER: &str = "no answer from PostgreSQL within";
/// The most stored replies one pruning deletes.
const PRUNE_AT_MOST: i64 = 10_000;

/// The statements the writer prepares on each connection.
struct Statements {
    insert_head: Statement,
    lock_heads: Statement,
    update_head: Statement,
    replies: Statement,
    insert_replies: Statement,
    permit: Statement,
    permits: Statement,
    insert_permits: Statement,
    transitions: Statement,
    insert_events: Statement,
}

/// A connection with its statements.
struct Connection {
    client: Client,
    statements: Statements,
}

pub(super) struct Writer {
    config: Config,
    url: PostgresUrl,
    rt: Runtime,
    conn: Option<Connection>,
    /// Organizations whose chain head row is known to exist.
    known: HashSet<String>,
    /// When stored replies were last pruned (ms since the epoch).
    pruned_ms: i64,
}

/// Drive `f` to completion on `rt`, within [`STATEMENT_TIMEOUT`].
fn block<T>(
    rt: &Runtime,
    f: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, StoreError> {
    block_store(rt, async { f.await.map_err(pg) })
}

/// [`block`] of a future that fails with a store error.
fn block_store<T>(
    rt: &Runtime,
    f: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    rt.block_on(async {
        match tokio::time::timeout(STATEMENT_TIMEOUT, f).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Postgres(format!(
                "{NO_ANSWER} {} s",
                STATEMENT_TIMEOUT.as_secs()
            ))),
        }
    })
}

/// The rows a batch's first round trip reads: heads, replies, permits.
type BeginRows = (
    Vec<tokio_postgres::Row>,
    Vec<tokio_postgres::Row>,
    Vec<tokio_postgres::Row>,
);

/// A reply held until its transaction commits.
type Pending = (
    tokio::sync::oneshot::Sender<Result<String, WriteError>>,
    Result<String, WriteError>,
);

impl Writer {
    /// A writer with a connection and the schema created or migrated.
    pub(super) fn start(config: Config, url: PostgresUrl) -> Result<Writer, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Postgres(format!("cannot start the writer's runtime: {e}")))?;
        let mut writer = Writer {
            config,
            url,
            rt,
            conn: None,
            known: HashSet::new(),
            pruned_ms: 0,
        };
        let client = writer.connect()?;
        let mut client = client;
        writer.rt.block_on(schema::migrate(&mut client))?;
        let statements = writer.prepare(&client)?;
        writer.conn = Some(Connection { client, statements });
        Ok(writer)
    }

    /// A new connection, its driver task spawned on the writer's runtime.
    fn connect(&self) -> Result<Client, StoreError> {
        let (client, connection) = self.rt.block_on(self.config.connect(NoTls)).map_err(|e| {
            StoreError::Postgres(format!("cannot connect to {}: {}", self.url, describe(&e)))
        })?;
        self.rt.spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %describe(&e), "writer: the PostgreSQL connection closed");
            }
        });
        block(&self.rt, client.batch_execute(SESSION))?;
        Ok(client)
    }

    fn prepare(&self, client: &Client) -> Result<Statements, StoreError> {
        let p = |sql: &str| block(&self.rt, client.prepare(sql));
        Ok(Statements {
            insert_head: p(
                "INSERT INTO chain_heads (org_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING",
            )?,
            lock_heads: p(
                "SELECT org_id, seq, hash FROM chain_heads WHERE org_id = ANY($1) ORDER BY org_id FOR UPDATE",
            )?,
            update_head: p("UPDATE chain_heads SET seq = $2, hash = $3 WHERE org_id = $1")?,
            replies: p(
                // LATERAL: one primary key lookup per request, whatever the
                // table's statistics say (a join may be planned as a scan of
                // the whole table while they are stale).
                "SELECT r.org_id, r.key_id, r.endpoint, r.request_id, r.body_digest, r.body
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS a (o, k, e, q)
                 CROSS JOIN LATERAL (
                     SELECT * FROM replies
                     WHERE org_id = a.o AND key_id = a.k AND endpoint = a.e AND request_id = a.q
                 ) AS r",
            )?,
            insert_replies: p(
                "INSERT INTO replies (org_id, key_id, endpoint, request_id, body_digest, body, created_ms)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                      $6::text[], $7::bigint[])",
            )?,
            permit: p(&format!(
                "SELECT {} FROM permits WHERE id = $1 AND org_id = $2 FOR UPDATE",
                PERMIT_COLUMNS
            ))?,
            permits: p(&format!(
                "SELECT {} FROM unnest($1::text[], $2::text[]) AS a (i, o)
                 CROSS JOIN LATERAL (SELECT * FROM permits WHERE id = a.i AND org_id = a.o) AS p
                 FOR UPDATE OF p",
                PERMIT_COLUMNS
            ))?,
            insert_permits: p(
                "INSERT INTO permits (id, org_id, agent, action, context_hash, decision, status, issued_ms, expires_ms,
                                      permit_hash, key_id, environment, execution_hash, escalation_id, deny_code, shape)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                      $7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[],
                                      $13::text[], $14::text[], $15::text[], $16::text[])",
            )?,
            transitions: p(
                "UPDATE permits AS p SET status = u.status, used_via = u.used_via, used_ms = u.used_ms,
                                         revoked_ms = u.revoked_ms, revoked_by = u.revoked_by,
                                         revoke_reason = u.revoke_reason
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
                             $7::text[], $8::text[])
                      AS u (org_id, id, status, used_via, used_ms, revoked_ms, revoked_by, revoke_reason)
                 WHERE p.org_id = u.org_id AND p.id = u.id AND p.status = 'active'",
            )?,
            insert_events: p(
                "INSERT INTO events (org_id, org_seq, type, decision, actor_id, resource_id, payload, hash,
                                     previous_hash, occurred_ms)
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                                      $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[])",
            )?,
        })
    }

    /// The writer's connection, reconnecting when it broke.
    fn connection(&mut self) -> Result<&Connection, StoreError> {
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let client = self.connect()?;
            let statements = self.prepare(&client)?;
            self.conn = Some(Connection { client, statements });
        }
        self.conn.as_ref().ok_or(StoreError::Closed)
    }

    pub(super) fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while crate::store::next_batch(&mut rx, &mut batch, MAX_BATCH) {
            self.apply(&mut batch);
            self.prune();
        }
        tracing::debug!("writer: queue closed, exiting");
    }

    /// Apply a batch in one transaction; answer only after the commit.
    fn apply(&mut self, batch: &mut Vec<Command>) {
        let mut pending: Vec<Pending> = Vec::with_capacity(batch.len());
        match self.transaction(batch, &mut pending) {
            Ok(()) => {
                for (tx, body) in pending {
                    drop(tx.send(body));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "writer: transaction failed; answering every write of the batch with an error");
                let message = e.to_string();
                for (tx, _) in pending {
                    drop(tx.send(Err(StoreError::RolledBack(message.clone()).into())));
                }
                // Writes of the batch not yet taken answer the error too
                // (those a failing `transaction` dropped see `Closed`).
                for cmd in batch.drain(..) {
                    drop(
                        cmd.reply
                            .send(Err(StoreError::RolledBack(message.clone()).into())),
                    );
                }
                // Roll back what the transaction did; a connection that
                // cannot is dropped (PostgreSQL rolls back a transaction
                // whose connection closed) and made anew for the next batch.
                let unanswered = matches!(&e, StoreError::Postgres(m) if m.starts_with(NO_ANSWER));
                let rolled_back = match &self.conn {
                    // A connection that stopped answering is not asked again.
                    Some(_) if unanswered => false,
                    Some(c) => block(&self.rt, c.client.batch_execute("ROLLBACK")).is_ok(),
                    None => true,
                };
                if !rolled_back {
                    self.conn = None;
                }
                self.known.clear();
            }
        }
    }

    /// The batch's first round trip: the transaction begins, locks the
    /// heads of `orgs` (in order: see [`PostgresStore`](super::PostgresStore)),
    /// then reads the stored replies of the batch's requests and the permits
    /// they will read, under the locks (a retry answered by another node is
    /// committed by then; a permit is locked `FOR UPDATE` only with its own
    /// organization's head held). Rows: heads, replies, permits.
    fn begin(
        &mut self,
        orgs: &BTreeSet<String>,
        batch: &[Command],
    ) -> Result<BeginRows, StoreError> {
        self.connection()?;
        let (rt, known) = (&self.rt, &mut self.known);
        let conn = self.conn.as_ref().ok_or(StoreError::Closed)?;
        let (client, s) = (&conn.client, &conn.statements);
        for org in orgs {
            if !known.contains(org) {
                block(
                    rt,
                    client.execute(&s.insert_head, &[org, &atlasent::audit::GENESIS_HASH]),
                )?;
                known.insert(org.clone());
            }
        }
        let org_list: Vec<&str> = orgs.iter().map(String::as_str).collect();
        let mut columns: [Vec<&str>; 4] = Default::default();
        let mut permit_columns: [Vec<&str>; 2] = Default::default();
        for cmd in batch.iter() {
            let r = &cmd.request;
            for (column, value) in columns.iter_mut().zip([
                r.org_id.as_str(),
                r.key_id.as_str(),
                r.endpoint,
                r.request_id.as_str(),
            ]) {
                column.push(value);
            }
            if let Some(id) = &r.reads_permit {
                permit_columns[0].push(id);
                permit_columns[1].push(&r.org_id);
            }
        }
        let [c_org, c_key, c_endpoint, c_request] = &columns;
        let [p_id, p_org] = &permit_columns;
        block(rt, async {
            let head_params: [&(dyn ToSql + Sync); 1] = [&org_list];
            let reply_params: [&(dyn ToSql + Sync); 4] = [c_org, c_key, c_endpoint, c_request];
            let permit_params: [&(dyn ToSql + Sync); 2] = [p_id, p_org];
            let (begun, heads, replies, permits) = tokio::join!(
                client.batch_execute(BEGIN),
                client.query(&s.lock_heads, &head_params),
                client.query(&s.replies, &reply_params),
                async {
                    match p_id.is_empty() {
                        true => Ok(Vec::new()),
                        false => client.query(&s.permits, &permit_params).await,
                    }
                },
            );
            begun?;
            Ok((heads?, replies?, permits?))
        })
    }

    fn transaction(
        &mut self,
        batch: &mut Vec<Command>,
        pending: &mut Vec<Pending>,
    ) -> Result<(), StoreError> {
        let orgs: BTreeSet<String> = batch.iter().map(|c| c.request.org_id.clone()).collect();
        // A connection that died while idle (PostgreSQL restarted, a proxy
        // cut it) is noticed only by the batch's first round trip: nothing
        // of the batch has run then, so it is begun again on a new one.
        let (head_rows, reply_rows, permit_rows) = match self.begin(&orgs, batch) {
            Ok(rows) => rows,
            Err(e) if self.conn.as_ref().is_none_or(|c| c.client.is_closed()) => {
                tracing::warn!(error = %e, "writer: the connection to PostgreSQL closed; beginning the batch on a new one");
                self.conn = None;
                self.begin(&orgs, batch)?
            }
            Err(e) => return Err(e),
        };
        let rt = &self.rt;
        let conn = self.conn.as_ref().ok_or(StoreError::Closed)?;
        let (client, s) = (&conn.client, &conn.statements);
        let mut heads = HashMap::with_capacity(orgs.len());
        // A head whose hash is not one this build writes fails only its
        // organization's writes (below), before anything is chained to it.
        let mut unreadable_heads = HashMap::new();
        for row in head_rows {
            let org: String = row.try_get(0).map_err(pg)?;
            let head = Head {
                seq: row.try_get(1).map_err(pg)?,
                hash: row.try_get(2).map_err(pg)?,
            };
            if chain::is_sha256_hex(&head.hash) {
                heads.insert(org, head);
            } else {
                let what = format!(
                    "a chain head of {org:?} whose hash is not 64 lowercase hexadecimal digits"
                );
                unreadable_heads.insert(org, what);
            }
        }
        if heads.len() + unreadable_heads.len() != orgs.len() {
            return Err(StoreError::Corrupt(
                "an organization without its chain head row".into(),
            ));
        }
        let mut stored = HashMap::with_capacity(reply_rows.len());
        for row in reply_rows {
            let get = |i: usize| row.try_get::<_, String>(i).map_err(pg);
            let key = reply_key(&get(0)?, &get(1)?, &get(2)?, &get(3)?);
            stored.insert(key, (get(4)?, get(5)?));
        }
        let start: HashMap<String, i64> = heads.iter().map(|(o, h)| (o.clone(), h.seq)).collect();
        let mut read_ahead: HashMap<String, Option<PermitRow>> = batch
            .iter()
            .filter_map(|c| {
                let id = c.request.reads_permit.as_ref()?;
                Some((permit_key(&c.request.org_id, id), None))
            })
            .collect();
        // A row this build cannot read fails only the commands that read
        // it (below); its id and organization must read.
        let mut unreadable = HashMap::new();
        for row in &permit_rows {
            match permit_row(row) {
                Ok(permit) => {
                    read_ahead.insert(permit_key(&permit.org_id, &permit.id), Some(permit));
                }
                Err(StoreError::Corrupt(what)) => {
                    let key = permit_key(&row.text(1)?, &row.text(0)?);
                    read_ahead.remove(&key);
                    unreadable.insert(key, what);
                }
                Err(e) => return Err(e),
            }
        }
        let mut tx = PgTx {
            rt,
            client,
            s,
            heads: &mut heads,
            permits: read_ahead,
            unreadable,
            unreadable_heads,
            wrote: false,
            inflight: Vec::new(),
            new_permits: NewPermits::default(),
            transitions: Transitions::default(),
            events: EventRows::default(),
            replies: ReplyRows::default(),
        };
        for cmd in batch.drain(..) {
            tx.wrote = false;
            match once(&mut tx, &mut stored, &cmd.request, cmd.job) {
                Ok(body) => pending.push((cmd.reply, Ok(body))),
                Err(WriteError::Refused(why)) => {
                    pending.push((cmd.reply, Err(WriteError::Refused(why))))
                }
                // A stored value this build cannot read (a corrupt row, read
                // and judged here: PostgreSQL's transaction is unharmed),
                // met before the command queued any change (and with no
                // earlier write waiting to be sent, whose failure a read
                // would report as this command's): this command alone fails
                // (fail closed), the batch's others go on.
                Err(WriteError::Store(e @ (StoreError::Corrupt(_) | StoreError::Json(_))))
                    if !tx.wrote && tx.inflight.is_empty() =>
                {
                    tracing::error!(error = %e, "writer: a command met a stored value it cannot read; it alone fails");
                    pending.push((cmd.reply, Err(WriteError::Store(e))));
                }
                Err(WriteError::Store(e)) => {
                    drop(
                        cmd.reply
                            .send(Err(StoreError::RolledBack(e.to_string()).into())),
                    );
                    return Err(e);
                }
            }
        }
        let (new_permits, transitions) = (
            std::mem::take(&mut tx.new_permits),
            std::mem::take(&mut tx.transitions),
        );
        // Inserted before they can be moved.
        if !new_permits.id.is_empty() {
            let statement = &s.insert_permits;
            tx.send(async move { client.execute(statement, &new_permits.params()).await });
        }
        if !transitions.id.is_empty() {
            let statement = &s.transitions;
            let rows = transitions.id.len();
            tx.send_changing(rows, "moving the batch's permits", async move {
                client.execute(statement, &transitions.params()).await
            });
        }
        let (events, replies) = (
            std::mem::take(&mut tx.events),
            std::mem::take(&mut tx.replies),
        );
        if !events.seq.is_empty() {
            let statement = &s.insert_events;
            tx.send(async move { client.execute(statement, &events.params()).await });
        }
        if !replies.body.is_empty() {
            let statement = &s.insert_replies;
            tx.send(async move { client.execute(statement, &replies.params()).await });
        }
        let moved: Vec<(String, i64, String)> = tx
            .heads
            .iter()
            .filter(|(org, head)| start.get(*org) != Some(&head.seq))
            .map(|(org, head)| (org.clone(), head.seq, head.hash.clone()))
            .collect();
        for (org, seq, hash) in moved {
            let statement = &s.update_head;
            tx.send(async move { client.execute(statement, &[&org, &seq, &hash]).await });
        }
        // Every write's result is checked before the commit's: a write that
        // failed aborted the transaction, and PostgreSQL then answers the
        // COMMIT with a rollback, not an error.
        tx.read(client.batch_execute("COMMIT"))
    }

    /// Delete stored replies older than [`REPLY_RETENTION_MS`], at most
    /// [`PRUNE_AT_MOST`] at a time, once every [`PRUNE_EVERY_MS`].
    fn prune(&mut self) {
        let now_ms = clock::now_ms();
        if now_ms - self.pruned_ms < PRUNE_EVERY_MS && now_ms >= self.pruned_ms {
            return;
        }
        self.pruned_ms = now_ms;
        let Some(conn) = &self.conn else { return };
        let pruned = block(
            &self.rt,
            conn.client.execute(
                "DELETE FROM replies WHERE ctid = ANY(ARRAY(
                     SELECT ctid FROM replies WHERE created_ms < $1 LIMIT $2))",
                &[&(now_ms - REPLY_RETENTION_MS), &PRUNE_AT_MOST],
            ),
        );
        if let Err(e) = pruned {
            tracing::warn!(error = %e, "writer: pruning stored replies failed");
        }
    }
}

/// The key of a stored reply in a batch's map.
fn reply_key(org_id: &str, key_id: &str, endpoint: &str, request_id: &str) -> String {
    [org_id, key_id, endpoint, request_id].join("\0")
}

/// The key of a permit in a batch's map.
fn permit_key(org_id: &str, id: &str) -> String {
    [org_id, id].join("\0")
}

/// A stored reply: its request's body digest and the reply body.
type Stored = (String, String);

/// Run a write once: a retry (same organization, key, endpoint, request id
/// and body) gets the stored reply of the first attempt, from whichever
/// node answered it (`stored`: the batch's requests' replies, read under
/// the head locks, and those of the batch so far); a first attempt runs and
/// its reply is stored in the same transaction as its event. The same
/// request id with a different body is refused, never answered.
fn once(
    tx: &mut PgTx<'_>,
    stored: &mut HashMap<String, Stored>,
    request: &Request,
    job: WriteJob,
) -> Result<String, WriteError> {
    let key = reply_key(
        &request.org_id,
        &request.key_id,
        request.endpoint,
        &request.request_id,
    );
    if let Some((digest, body)) = stored.get(&key) {
        if *digest != request.body_digest {
            return Err(WriteError::Refused(Refusal::RequestIdReused {
                request_id: request.request_id.clone(),
            }));
        }
        return Ok(body.clone());
    }
    if let Some(what) = tx.unreadable_heads.get(&request.org_id) {
        return Err(StoreError::Corrupt(what.clone()).into());
    }
    let body = job(tx)?;
    tx.wrote = true;
    tx.replies.push(request, &body);
    stored.insert(key, (request.body_digest.clone(), body.clone()));
    Ok(body)
}

/// A write sent in the pipeline, its result read before the next read.
type Inflight<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + 'a>>;

/// The writer's transaction, as a job sees it. Writes are pipelined: each
/// is queued, and the queue is sent, in order, with the next read (or the
/// commit), whose answer is taken only once every queued write succeeded.
struct PgTx<'a> {
    rt: &'a Runtime,
    client: &'a Client,
    s: &'a Statements,
    /// The locked heads of the batch's organizations.
    heads: &'a mut HashMap<String, Head>,
    /// The permits read in this transaction (`None`: there is none), as
    /// this transaction changed them.
    permits: HashMap<String, Option<PermitRow>>,
    /// Permits read ahead whose rows this build cannot read: what is wrong.
    unreadable: HashMap<String, String>,
    /// Organizations whose chain head this build cannot read: what is wrong.
    unreadable_heads: HashMap<String, String>,
    /// Set before the command's first change is queued (a failure after it
    /// fails the whole batch).
    wrote: bool,
    /// Writes queued.
    inflight: Vec<Inflight<'a>>,
    /// The permits issued, inserted in one statement before the commit.
    new_permits: NewPermits,
    /// The permits moved, updated in one statement after the inserts.
    transitions: Transitions,
    /// The events appended, inserted in one statement before the commit.
    events: EventRows,
    /// The replies to store, inserted in one statement before the commit.
    replies: ReplyRows,
}

/// Permits to insert, column by column (`unnest` makes them rows).
#[derive(Default)]
struct NewPermits {
    id: Vec<String>,
    org_id: Vec<String>,
    agent: Vec<String>,
    action: Vec<String>,
    context_hash: Vec<String>,
    decision: Vec<String>,
    status: Vec<&'static str>,
    issued_ms: Vec<i64>,
    expires_ms: Vec<i64>,
    permit_hash: Vec<String>,
    key_id: Vec<String>,
    environment: Vec<Option<String>>,
    execution_hash: Vec<Option<String>>,
    escalation_id: Vec<Option<String>>,
    deny_code: Vec<Option<String>>,
    shape: Vec<String>,
}

impl NewPermits {
    fn push(&mut self, p: &PermitRow, kept: &Kept<'_>) {
        let text = |v: Option<&str>| v.map(str::to_owned);
        self.id.push(p.id.clone());
        self.org_id.push(p.org_id.clone());
        self.agent.push(p.agent.clone());
        self.action.push(p.action.clone());
        self.context_hash.push(p.context_hash.clone());
        self.decision.push(p.decision.clone());
        self.status.push(p.state.as_str());
        self.issued_ms.push(p.issued_ms);
        self.expires_ms.push(p.expires_ms);
        self.permit_hash.push(p.permit_hash.clone());
        self.key_id.push(kept.key_id.to_owned());
        self.environment.push(p.environment.clone());
        self.execution_hash.push(p.execution_hash.clone());
        self.escalation_id.push(text(kept.escalation_id));
        self.deny_code.push(text(kept.deny_code));
        self.shape.push(kept.shape.to_owned());
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 16] {
        [
            &self.id,
            &self.org_id,
            &self.agent,
            &self.action,
            &self.context_hash,
            &self.decision,
            &self.status,
            &self.issued_ms,
            &self.expires_ms,
            &self.permit_hash,
            &self.key_id,
            &self.environment,
            &self.execution_hash,
            &self.escalation_id,
            &self.deny_code,
            &self.shape,
        ]
    }
}

/// Permit transitions, column by column.
#[derive(Default)]
struct Transitions {
    org_id: Vec<String>,
    id: Vec<String>,
    status: Vec<&'static str>,
    used_via: Vec<Option<&'static str>>,
    used_ms: Vec<Option<i64>>,
    revoked_ms: Vec<Option<i64>>,
    revoked_by: Vec<Option<String>>,
    revoke_reason: Vec<Option<String>>,
}

impl Transitions {
    fn push(&mut self, org_id: &str, id: &str, to: &PermitState) {
        let (used_via, used_ms, revoked_ms, revoked_by, revoke_reason) = to.columns();
        self.org_id.push(org_id.to_owned());
        self.id.push(id.to_owned());
        self.status.push(to.as_str());
        self.used_via.push(used_via);
        self.used_ms.push(used_ms);
        self.revoked_ms.push(revoked_ms);
        self.revoked_by.push(revoked_by.map(str::to_owned));
        self.revoke_reason.push(revoke_reason.map(str::to_owned));
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.org_id,
            &self.id,
            &self.status,
            &self.used_via,
            &self.used_ms,
            &self.revoked_ms,
            &self.revoked_by,
            &self.revoke_reason,
        ]
    }
}

/// Events to insert, column by column (`unnest` makes them rows).
#[derive(Default)]
struct EventRows {
    org_id: Vec<String>,
    seq: Vec<i64>,
    kind: Vec<String>,
    decision: Vec<Option<String>>,
    actor_id: Vec<Option<String>>,
    resource_id: Vec<Option<String>>,
    payload: Vec<String>,
    hash: Vec<String>,
    previous_hash: Vec<String>,
    occurred_ms: Vec<i64>,
}

impl EventRows {
    fn push(&mut self, event: &NewEvent<'_>, sealed: chain::Sealed) {
        let text = |v: Option<&str>| v.map(str::to_owned);
        self.org_id.push(event.org_id.to_owned());
        self.seq.push(sealed.seq);
        self.kind.push(event.kind.to_owned());
        self.decision.push(text(event.decision));
        self.actor_id.push(text(event.actor_id));
        self.resource_id.push(text(event.resource_id));
        self.payload.push(sealed.payload);
        self.hash.push(sealed.hash);
        self.previous_hash.push(sealed.previous_hash);
        self.occurred_ms.push(event.now_ms);
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 10] {
        [
            &self.org_id,
            &self.seq,
            &self.kind,
            &self.decision,
            &self.actor_id,
            &self.resource_id,
            &self.payload,
            &self.hash,
            &self.previous_hash,
            &self.occurred_ms,
        ]
    }
}

/// Replies to store, column by column.
#[derive(Default)]
struct ReplyRows {
    org_id: Vec<String>,
    key_id: Vec<String>,
    endpoint: Vec<&'static str>,
    request_id: Vec<String>,
    body_digest: Vec<String>,
    body: Vec<String>,
    created_ms: Vec<i64>,
}

impl ReplyRows {
    fn push(&mut self, request: &Request, body: &str) {
        self.org_id.push(request.org_id.clone());
        self.key_id.push(request.key_id.clone());
        self.endpoint.push(request.endpoint);
        self.request_id.push(request.request_id.clone());
        self.body_digest.push(request.body_digest.clone());
        self.body.push(body.to_owned());
        self.created_ms.push(request.now_ms);
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.org_id,
            &self.key_id,
            &self.endpoint,
            &self.request_id,
            &self.body_digest,
            &self.body,
            &self.created_ms,
        ]
    }
}

impl<'a> PgTx<'a> {
    /// Queue a write.
    fn send(&mut self, write: impl Future<Output = Result<u64, tokio_postgres::Error>> + 'a) {
        self.inflight
            .push(Box::pin(async move { write.await.map(drop).map_err(pg) }));
    }

    /// Queue a write that must change exactly `rows` rows: one that
    /// changes fewer (the batch's view of the permits and the table
    /// disagree) fails the batch rather than acknowledge what did not
    /// happen.
    fn send_changing(
        &mut self,
        rows: usize,
        what: &'static str,
        write: impl Future<Output = Result<u64, tokio_postgres::Error>> + 'a,
    ) {
        self.inflight.push(Box::pin(async move {
            match write.await.map_err(pg)? {
                n if n == rows as u64 => Ok(()),
                n => Err(StoreError::Corrupt(format!(
                    "{what}: {n} rows changed where {rows} should have"
                ))),
            }
        }));
    }

    /// Send the queued writes and then `read`; the read's answer once every
    /// write succeeded.
    fn read<T>(
        &mut self,
        read: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StoreError> {
        let writes = futures_util::future::join_all(std::mem::take(&mut self.inflight));
        block_store(self.rt, async {
            let (written, answer) = tokio::join!(writes, read);
            for w in written {
                w?;
            }
            answer.map_err(pg)
        })
    }
}

impl Tx for PgTx<'_> {
    fn permit(&mut self, org_id: &str, id: &str) -> Result<Option<PermitRow>, StoreError> {
        let key = permit_key(org_id, id);
        if let Some(what) = self.unreadable.get(&key) {
            return Err(StoreError::Corrupt(what.clone()));
        }
        if let Some(known) = self.permits.get(&key) {
            return Ok(known.clone());
        }
        let (client, statement) = (self.client, &self.s.permit);
        let row = self
            .read(client.query_opt(statement, &[&id, &org_id]))?
            .as_ref()
            .map(permit_row)
            .transpose()?;
        self.permits.insert(key, row.clone());
        Ok(row)
    }

    fn insert_permit(&mut self, p: &PermitRow, kept: &Kept<'_>) -> Result<(), StoreError> {
        self.wrote = true;
        self.permits
            .insert(permit_key(&p.org_id, &p.id), Some(p.clone()));
        self.new_permits.push(p, kept);
        Ok(())
    }

    fn transition(&mut self, org_id: &str, id: &str, to: &PermitState) -> Result<(), StoreError> {
        // The batch's view of the permit moves now (a later read in the
        // batch sees it); the row moves with the others before the commit.
        // As the statement does: only an active permit moves, so a second
        // transition of one permit in a batch changes nothing.
        let key = permit_key(org_id, id);
        if !self.permits.contains_key(&key) {
            self.permit(org_id, id)?;
        }
        self.wrote = true;
        if let Some(Some(row)) = self.permits.get_mut(&key) {
            if row.state == PermitState::Active {
                row.state = to.clone();
                self.transitions.push(org_id, id, to);
            }
        }
        Ok(())
    }

    fn append(&mut self, event: NewEvent<'_>) -> Result<String, StoreError> {
        let head = self.heads.get_mut(event.org_id).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "an event of {:?} in a transaction that did not lock its chain",
                event.org_id
            ))
        })?;
        // `seal` moves the head only once nothing more can fail.
        let sealed = chain::seal(head, &event)?;
        self.wrote = true;
        let hash = sealed.hash.clone();
        self.events.push(&event, sealed);
        Ok(hash)
    }
}
