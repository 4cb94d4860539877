//! The PostgreSQL store: several server processes on one database behave
//! as one server. How, and what it locks: [`PostgresStore`].

use std::str::FromStr;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{
    EventFilter, EventPage, EventQuery, ExportSelection, PermitQuery, PermitRow, PermitRows,
    PostgresUrl, Request, Store, StoreError, StoreFuture, WriteError, WriteJob,
};

mod reads;
mod schema;
mod writer;

/// How long one statement (or the wait for a lock) may take before the
/// store gives up on it and answers an error.
pub(crate) const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The reads' connection pool size.
const READ_CONNECTIONS: usize = 8;

/// A write for the writer thread.
struct Command {
    request: Request,
    job: WriteJob,
    reply: oneshot::Sender<Result<String, WriteError>>,
}

/// The PostgreSQL store: several server processes on one database behave
/// as one server.
///
/// Each process has one writer thread with its own connection. The writer
/// takes every write waiting in its queue and applies them in one
/// transaction (group commit), as the SQLite writer does; what makes the
/// processes one server is what that transaction locks:
///
/// - **One chain per organization.** The transaction first locks the chain
///   head row of every organization its writes belong to
///   (`SELECT … FROM chain_heads … ORDER BY org_id FOR UPDATE`, always in the
///   same order, so two processes never deadlock), numbers and links the
///   events it appends from those heads, and moves the heads before it
///   commits. A second process's transaction for the same organization
///   waits for the head row, then reads the moved head: appends from every
///   process form one chain with no fork and no gap.
/// - **Single use.** A permit is read `FOR UPDATE` inside the transaction,
///   under its organization's head lock; of two processes verifying one
///   permit, the second reads it only after the first committed it used.
/// - **Idempotency.** Stored replies are keyed by organization, key,
///   endpoint and request id; under the head lock, a retry sent to another
///   process reads the first attempt's committed reply.
/// - **Durability.** A reply is answered only after `COMMIT` returned (the
///   server's `synchronous_commit` decides what that means; its default
///   waits for the WAL flush). A transaction whose commit is not confirmed —
///   the connection broke, the server restarted — answers an error, never a
///   success; the writer reconnects for its next batch.
///
/// Reads (listings, exports, permit records) run on a connection pool
/// (`deadpool-postgres`) in a read-only `REPEATABLE READ` transaction each,
/// so a count and its page see the same commit.
///
/// The connection is plain TCP (or a Unix socket): TLS to the database is
/// not supported yet, and a URL that requires it (`sslmode=require`) is
/// refused at start.
pub struct PostgresStore {
    tx: mpsc::UnboundedSender<Command>,
    pool: deadpool_postgres::Pool,
    writer: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    url: PostgresUrl,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A driver error as a store error: the database's own message and code
/// when it sent one.
pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    StoreError::Postgres(describe(&e))
}

/// A driver error's text: "db error" says nothing, the database's message
/// does.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// The driver's settings of `url`: the password from `PGPASSWORD` when the
/// URL has none, the user from `PGUSER`, bounded connect time.
fn config_of(url: &PostgresUrl) -> Result<tokio_postgres::Config, StoreError> {
    if ["sslmode=verify-ca", "sslmode=verify-full"]
        .iter()
        .any(|m| url.secret().contains(m))
    {
        return Err(StoreError::Postgres(format!(
            "{url}: sslmode=verify-ca and verify-full need TLS, which this atlasent-server does \
             not speak to PostgreSQL"
        )));
    }
    let mut config = tokio_postgres::Config::from_str(url.secret())
        .map_err(|e| StoreError::Postgres(format!("cannot read the URL {url}: {e}")))?;
    // As libpq, `PGSSLMODE` counts when the URL says nothing.
    let env_mode = std::env::var("PGSSLMODE").ok();
    let requires_tls = config.get_ssl_mode() == tokio_postgres::config::SslMode::Require
        || (!url.secret().contains("sslmode=")
            && env_mode
                .as_deref()
                .is_some_and(|m| m != "disable" && m != "allow" && m != "prefer"));
    if requires_tls {
        return Err(StoreError::Postgres(format!(
            "{url}: TLS is required (sslmode, PGSSLMODE), but this atlasent-server connects to \
             PostgreSQL without TLS (use a Unix socket, loopback or a private network, or a TLS \
             proxy)"
        )));
    }
    if config.get_password().is_none() {
        if let Some(password) = std::env::var_os("PGPASSWORD") {
            config.password(password.as_encoded_bytes());
        }
    }
    if config.get_user().is_none() {
        if let Ok(user) = std::env::var("PGUSER") {
            config.user(&user);
        }
    }
    if config.get_application_name().is_none() {
        config.application_name("atlasent-server");
    }
    config.connect_timeout(CONNECT_TIMEOUT);
    config.keepalives_idle(Duration::from_secs(10));
    Ok(config)
}

impl PostgresStore {
    /// Connect to `url`, create or migrate the schema, and start the
    /// writer. Blocks until the writer's connection is up (or failed).
    pub fn open(url: &PostgresUrl) -> Result<PostgresStore, StoreError> {
        let config = config_of(url)?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (tx, rx) = mpsc::unbounded_channel();
        let writer_config = config.clone();
        let shown = url.clone();
        let handle = std::thread::Builder::new()
            .name("atlasent-pg-writer".into())
            .spawn(move || match writer::Writer::start(writer_config, shown) {
                Ok(writer) => {
                    drop(ready_tx.send(Ok(())));
                    writer.run(rx);
                }
                Err(e) => drop(ready_tx.send(Err(e))),
            })
            .map_err(|_| StoreError::Closed)?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = handle.join();
                return Err(e);
            }
            Err(_) => return Err(StoreError::Closed),
        }
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(READ_CONNECTIONS)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(STATEMENT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Postgres(format!("cannot make the read pool: {e}")))?;
        Ok(PostgresStore {
            tx,
            pool,
            writer: std::sync::Mutex::new(Some(handle)),
            url: url.clone(),
        })
    }

    /// A pooled connection for a read.
    async fn reader(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => pg(e),
            other => StoreError::Postgres(format!("no read connection: {other}")),
        })
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Closing the queue makes the writer drain what is queued and exit.
        let (closed, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.tx, closed));
        if let Some(handle) = self.writer.lock().ok().and_then(|mut h| h.take()) {
            let _ = handle.join();
        }
    }
}

impl Store for PostgresStore {
    fn write(&self, request: Request, job: WriteJob) -> StoreFuture<'_, String, WriteError> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            let command = Command {
                request,
                job,
                reply,
            };
            self.tx.send(command).map_err(|_| StoreError::Closed)?;
            answer.await.map_err(|_| StoreError::Closed)?
        })
    }

    fn events(&self, org_id: String, query: EventQuery) -> StoreFuture<'_, EventPage> {
        Box::pin(async move {
            let mut client = self.reader().await?;
            reads::events(&mut client, &org_id, &query).await
        })
    }

    fn export_events(
        &self,
        org_id: String,
        filter: EventFilter,
        max: usize,
    ) -> StoreFuture<'_, ExportSelection> {
        Box::pin(async move {
            let mut client = self.reader().await?;
            reads::export_events(&mut client, &org_id, &filter, max).await
        })
    }

    fn permit(&self, org_id: String, id: String) -> StoreFuture<'_, Option<PermitRow>> {
        Box::pin(async move {
            let client = self.reader().await?;
            reads::permit(&client, &org_id, &id).await
        })
    }

    fn permits(
        &self,
        org_id: String,
        query: PermitQuery,
        now_ms: i64,
    ) -> StoreFuture<'_, PermitRows> {
        Box::pin(async move {
            let mut client = self.reader().await?;
            reads::permits(&mut client, &org_id, &query, now_ms).await
        })
    }
}
