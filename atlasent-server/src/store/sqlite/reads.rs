//! Reads: the read-only connection pool, event listings and exports,
//! permit records.

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OpenFlags};

use super::schema;
use crate::store::chain::{Selected, StoredEvent};
use crate::store::row::{self, permit_row, Columns, PERMIT_COLUMNS};
use crate::store::{
    filter, EventFilter, EventPage, EventQuery, ExportSelection, PermitQuery, PermitRow,
    PermitRows, StoreError,
};

/// Read-only connections to a database file, reused between reads.
pub(super) struct ReadPool {
    path: PathBuf,
    idle: std::sync::Mutex<Vec<Connection>>,
}

/// Idle reader connections kept open.
const MAX_IDLE_READERS: usize = 4;

impl ReadPool {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub(super) fn with<T>(
        &self,
        job: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
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

/// A `WHERE` clause of SQLite's parameters (`?N`).
type Where = filter::Where<Sql>;

impl filter::Param for Sql {
    fn text(value: String) -> Self {
        Sql::Text(value)
    }

    fn integer(value: i64) -> Self {
        Sql::Integer(value)
    }
}

/// The `WHERE` clause of an organization's events.
fn event_filter(org_id: &str, filter: &EventFilter) -> Where {
    filter::events('?', org_id, filter)
}

/// Events of `org_id` matching `filter` after `after`, in sequence order.
fn select_events(
    conn: &Connection,
    org_id: &str,
    filter: &EventFilter,
    after: Option<i64>,
    limit: Option<u32>,
) -> Result<Selected, StoreError> {
    let mut w = event_filter(org_id, filter);
    w.after("org_seq", after);
    let limit_sql = limit.map(|l| format!(" LIMIT {l}")).unwrap_or_default();
    let sql = format!(
        "SELECT org_seq, type, decision, actor_id, resource_id, payload, hash, occurred_ms,
                (SELECT p.hash FROM events p WHERE p.org_id = events.org_id AND p.org_seq = events.org_seq - 1)
         FROM events WHERE {} ORDER BY org_seq{limit_sql}",
        w.sql()
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(w.params))?;
    let mut out = Selected::default();
    while let Some(r) = rows.next()? {
        let opt = |i: usize| r.get::<_, Option<String>>(i);
        let sequence: i64 = r.get(0)?;
        // Schema 4 derives what it no longer stores (see `schema::MIGRATE_3_TO_4`).
        let previous = match r.get_ref(8)? {
            rusqlite::types::ValueRef::Null => None,
            stored => Some(schema::read_hash(stored)?),
        };
        let previous_hash = match (previous, sequence) {
            (Some(previous), _) => previous,
            (None, 1) => atlasent::audit::GENESIS_HASH.to_owned(),
            (None, _) => {
                return Err(StoreError::Corrupt(format!(
                    "event {sequence} of {org_id:?} without the event before it"
                )))
            }
        };
        let event = StoredEvent {
            sequence,
            kind: r.get(1)?,
            decision: opt(2)?,
            actor_id: opt(3)?,
            resource_id: opt(4)?,
            payload: schema::read_payload(r.get_ref(5)?)?,
            hash: schema::read_hash(r.get_ref(6)?)?,
            previous_hash,
            occurred_ms: r.get(7)?,
        };
        out.push(org_id, event)?;
    }
    Ok(out)
}

/// `SELECT COUNT(*)` of a table under a clause.
fn count(conn: &Connection, table: &str, w: &Where) -> Result<u64, StoreError> {
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM {table} WHERE {}", w.sql()),
        rusqlite::params_from_iter(w.params.iter()),
        |r| r.get(0),
    )?;
    Ok(u64::try_from(total).unwrap_or(0))
}

pub(super) fn events(
    conn: &Connection,
    org_id: &str,
    query: &EventQuery,
) -> Result<EventPage, StoreError> {
    let (filter, limit, after) = (&query.filter, query.limit, query.after);
    // One read transaction: the count and the page see the same commit.
    let tx = conn.unchecked_transaction()?;
    let total = count(&tx, "events", &event_filter(org_id, filter))?;
    // One extra row tells whether another page follows.
    let selected = select_events(&tx, org_id, filter, after, Some(limit.saturating_add(1)))?;
    Ok(selected.page(limit, total))
}

pub(super) fn export_events(
    conn: &Connection,
    org_id: &str,
    filter: &EventFilter,
    max: usize,
) -> Result<ExportSelection, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let matching = count(&tx, "events", &event_filter(org_id, filter))?;
    if matching > max as u64 {
        return Ok(ExportSelection::TooLarge { matching });
    }
    let selected = select_events(&tx, org_id, filter, None, None)?;
    Ok(ExportSelection::Events {
        events: selected.events,
        last_hash: selected.last_hash,
    })
}

/// A text column of a permit row: text, or (schema 5) the bytes of a hash
/// or signature column, read back as their text ([`schema::permit_text`]).
fn permit_column(r: &rusqlite::Row<'_>, i: usize) -> Result<Option<String>, StoreError> {
    match r.get_ref(i)? {
        rusqlite::types::ValueRef::Blob(bytes) => {
            let column = r.as_ref().column_name(i)?;
            schema::permit_text(column, bytes).map(Some)
        }
        _ => Ok(r.get(i)?),
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<String, StoreError> {
        permit_column(self, i)?
            .ok_or_else(|| StoreError::Corrupt(format!("a null in the permit column {i}")))
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        permit_column(self, i)
    }

    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.get(i)?)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(i)?)
    }
}

/// The permit (or decision that issued none) `id` of `org_id`; another
/// organization's is not found, exactly like an unknown id.
pub(super) fn permit(
    conn: &Connection,
    org_id: &str,
    id: &str,
) -> Result<Option<PermitRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PERMIT_COLUMNS} FROM permits WHERE id = ?1 AND org_id = ?2"
    ))?;
    let mut rows = stmt.query([id, org_id])?;
    rows.next()?.map(permit_row).transpose()
}

pub(super) fn permits(
    conn: &Connection,
    org_id: &str,
    query: &PermitQuery,
    now_ms: i64,
) -> Result<PermitRows, StoreError> {
    // One read transaction: the count and the page see the same commit.
    let tx = conn.unchecked_transaction()?;
    let mut w: Where = filter::permits('?', org_id, &query.filter, now_ms);
    let total = count(&tx, "permits", &w)?;
    if let Some(c) = &query.after {
        w.before_permit(c);
    }
    // One extra row tells whether another page follows.
    let sql = format!(
        "SELECT {PERMIT_COLUMNS} FROM permits WHERE {}
         ORDER BY issued_ms DESC, id DESC LIMIT {}",
        w.sql(),
        u64::from(query.limit) + 1
    );
    let mut stmt = tx.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(w.params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(permit_row(r)?);
    }
    Ok(row::permits_page(out, query.limit, total))
}
