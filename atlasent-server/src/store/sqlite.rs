//! The SQLite store: WAL mode behind a single writer thread.
//!
//! The writer takes every write waiting in its queue, applies them in one
//! transaction, commits (fsync), and only then answers each: a reply never
//! reports an event that is not durable, and group commit is where
//! throughput comes from. The single writer also serializes permit
//! consumption, so of many concurrent verifies of one permit exactly one
//! wins. Its transactions begin `IMMEDIATE`: the write lock is taken first,
//! under the busy timeout, so another process holding it for a moment (a
//! maintenance shell) delays the batch instead of failing it.
//!
//! Reads (event listings, exports, permit records) of a database file run
//! on their own read-only connections (WAL readers see the last commit and
//! never block the writer), so a long export does not hold up decisions.
//! An in-memory store has one connection only, so its reads queue behind
//! the writer.
//!
//! A file store's WAL is checkpointed into the database file by a thread of
//! its own (`atlasent-checkpoint`, a passive checkpoint every
//! [`CHECKPOINT_EVERY`]), not by the writer after its commits: copying pages
//! and fsyncing the database file is then off the one serial thread that
//! decides. A commit is durable once its WAL frames are fsynced, whether or
//! not they are checkpointed yet; the writer still checkpoints itself when
//! the WAL passes [`WRITER_CHECKPOINT_PAGES`] (the backstop that restarts the
//! WAL from its start when the checkpoint thread cannot keep up).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::{
    EventFilter, EventPage, EventQuery, ExportSelection, PermitQuery, PermitRow, PermitRows,
    Request, Store, StoreError, StoreFuture, WriteError, WriteJob,
};

mod reads;
mod schema;
mod writer;

/// How often the checkpoint thread copies the WAL into the database file.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);
/// The WAL size (pages) at which the writer checkpoints itself after a
/// commit (SQLite's `wal_autocheckpoint`; its default is 1,000).
pub(crate) const WRITER_CHECKPOINT_PAGES: u32 = 8192;

/// The writer's page cache, in KiB (SQLite's default is 2,000): the
/// random-keyed indexes it inserts into (permit ids, stored replies'
/// lookups) are read page by page from the file when their pages fall out of
/// a small cache, which was an eighth of the writer's time under load. Not
/// larger: SQLite scans the whole cache's hash table at the end of each
/// write transaction (`pcache1TruncateUnsafe`, a tenth of the writer's time
/// with 64 MiB).
pub(crate) const WRITER_CACHE_KIB: i64 = 16 * 1024;

/// Where the audit log and permits live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// An SQLite database file (created if absent).
    File(PathBuf),
    /// An in-memory database, gone when the server stops.
    Memory,
    /// A PostgreSQL database (the `postgres` feature): several server
    /// processes on one database behave as one server.
    Postgres(super::PostgresUrl),
}

/// What the writer thread is asked to do.
enum Command {
    Write {
        request: Request,
        job: WriteJob,
        reply: oneshot::Sender<Result<String, WriteError>>,
    },
    Read(ReadJob),
}

/// A read the writer runs for a store with a single connection.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// The SQLite store: WAL mode behind one writer thread that commits
/// (fsync) each batch of writes before answering any of them (group
/// commit); reads of a file database on their own read-only connections.
pub struct SqliteStore {
    tx: mpsc::UnboundedSender<Command>,
    readers: Option<Arc<reads::ReadPool>>,
    writer: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Dropping it stops the checkpoint thread.
    checkpointer: Option<Checkpointer>,
}

/// The checkpoint thread of a file store: it runs until `stop` is dropped.
struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    handle: std::thread::JoinHandle<()>,
}

impl Checkpointer {
    /// Start a thread that checkpoints `path`'s WAL every
    /// [`CHECKPOINT_EVERY`] on a connection of its own (passive: it never
    /// waits for, nor blocks, the writer or the readers).
    fn start(path: PathBuf) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(&path)?;
        conn.busy_timeout(Duration::from_millis(100))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("atlasent-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        r.get::<_, i64>(0)
                    });
                    if let Err(e) = done {
                        tracing::warn!(error = %e, "checkpoint failed; the writer checkpoints instead");
                    }
                }
            })
            .map_err(|_| StoreError::Closed)?;
        Ok(Checkpointer { stop, handle })
    }

    fn stop(self) {
        drop(self.stop);
        let _ = self.handle.join();
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("file", &self.readers.is_some())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Open (creating or migrating) the database and start the writer.
    /// Events of a database written before organizations existed go to
    /// `org_id`.
    pub fn open(storage: &Storage, org_id: &str) -> Result<SqliteStore, StoreError> {
        let conn = match storage {
            Storage::File(path) => {
                schema::create_private(path)?;
                Connection::open(path)?
            }
            Storage::Memory => Connection::open_in_memory()?,
            Storage::Postgres(url) => {
                return Err(StoreError::Postgres(format!(
                    "{url} is a PostgreSQL database, not an SQLite one"
                )))
            }
        };
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        schema::migrate(&conn, org_id)?;
        let (readers, checkpointer) = match storage {
            Storage::File(path) => {
                conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
                (
                    Some(Arc::new(reads::ReadPool::new(path.clone()))),
                    Some(Checkpointer::start(path.clone())?),
                )
            }
            Storage::Memory | Storage::Postgres(_) => (None, None),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = writer::Writer {
            conn,
            heads: HashMap::new(),
            pruned_ms: 0,
            failed: None,
        };
        let handle = std::thread::Builder::new()
            .name("atlasent-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|_| StoreError::Closed)?;
        Ok(SqliteStore {
            tx,
            readers,
            writer: std::sync::Mutex::new(Some(handle)),
            checkpointer,
        })
    }

    /// Run a read on a reader connection (file store) or on the writer's
    /// connection (in-memory store).
    async fn read<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match &self.readers {
            Some(pool) => {
                let pool = Arc::clone(pool);
                tokio::task::spawn_blocking(move || pool.with(job))
                    .await
                    .map_err(|_| StoreError::Closed)?
            }
            None => {
                let (reply_tx, reply_rx) = oneshot::channel();
                let job: ReadJob = Box::new(move |conn| drop(reply_tx.send(job(conn))));
                self.tx
                    .send(Command::Read(job))
                    .map_err(|_| StoreError::Closed)?;
                reply_rx.await.map_err(|_| StoreError::Closed)?
            }
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the queue makes the writer drain what is queued and exit.
        // Joining makes "stopped" mean "flushed".
        let (closed, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.tx, closed));
        if let Some(handle) = self.writer.lock().ok().and_then(|mut h| h.take()) {
            let _ = handle.join();
        }
        if let Some(checkpointer) = self.checkpointer.take() {
            checkpointer.stop();
        }
    }
}

impl Store for SqliteStore {
    fn write(&self, request: Request, job: WriteJob) -> StoreFuture<'_, String, WriteError> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            let command = Command::Write {
                request,
                job,
                reply,
            };
            self.tx.send(command).map_err(|_| StoreError::Closed)?;
            answer.await.map_err(|_| StoreError::Closed)?
        })
    }

    fn events(&self, org_id: String, query: EventQuery) -> StoreFuture<'_, EventPage> {
        Box::pin(self.read(move |conn| reads::events(conn, &org_id, &query)))
    }

    fn export_events(
        &self,
        org_id: String,
        filter: EventFilter,
        max: usize,
    ) -> StoreFuture<'_, ExportSelection> {
        Box::pin(self.read(move |conn| reads::export_events(conn, &org_id, &filter, max)))
    }

    fn permit(&self, org_id: String, id: String) -> StoreFuture<'_, Option<PermitRow>> {
        Box::pin(self.read(move |conn| reads::permit(conn, &org_id, &id)))
    }

    fn permits(
        &self,
        org_id: String,
        query: PermitQuery,
        now_ms: i64,
    ) -> StoreFuture<'_, PermitRows> {
        Box::pin(self.read(move |conn| reads::permits(conn, &org_id, &query, now_ms)))
    }
}
