//! Reads on the pool's connections: event listings and exports, permit
//! records. Each listing reads its count and its page in one read-only
//! `REPEATABLE READ` transaction, so both see the same commit.

use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, IsolationLevel, Row};

use super::pg;
use crate::store::chain::{Selected, StoredEvent};
use crate::store::row::{self, permit_row, Columns, PERMIT_COLUMNS};
use crate::store::{
    filter, EventFilter, EventPage, EventQuery, ExportSelection, PermitQuery, PermitRow,
    PermitRows, StoreError,
};

/// A parameter of a query built at run time.
type Param = Box<dyn ToSql + Sync + Send>;

/// A `WHERE` clause of PostgreSQL's parameters (`$N`).
type Where = filter::Where<Param>;

impl filter::Param for Param {
    fn text(value: String) -> Self {
        Box::new(value)
    }

    fn integer(value: i64) -> Self {
        Box::new(value)
    }
}

/// The parameters of `w`, as the driver takes them.
fn params(w: &Where) -> Vec<&(dyn ToSql + Sync)> {
    w.params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// The `WHERE` clause of an organization's events.
fn event_filter(org_id: &str, filter: &EventFilter) -> Where {
    filter::events('$', org_id, filter)
}

async fn select_events(
    client: &impl GenericClient,
    org_id: &str,
    filter: &EventFilter,
    after: Option<i64>,
    limit: Option<u32>,
) -> Result<Selected, StoreError> {
    let mut w = event_filter(org_id, filter);
    w.after("org_seq", after);
    let limit_sql = limit.map(|l| format!(" LIMIT {l}")).unwrap_or_default();
    let sql = format!(
        "SELECT org_seq, type, decision, actor_id, resource_id, payload, hash, previous_hash, occurred_ms
         FROM events WHERE {} ORDER BY org_seq{limit_sql}",
        w.sql()
    );
    let rows = client.query(&sql, &params(&w)).await.map_err(pg)?;
    let mut out = Selected::default();
    for r in rows {
        let text = |i: usize| r.try_get::<_, Option<String>>(i).map_err(pg);
        let event = StoredEvent {
            sequence: r.try_get(0).map_err(pg)?,
            kind: r.try_get(1).map_err(pg)?,
            decision: text(2)?,
            actor_id: text(3)?,
            resource_id: text(4)?,
            payload: r.try_get(5).map_err(pg)?,
            hash: r.try_get(6).map_err(pg)?,
            previous_hash: r.try_get(7).map_err(pg)?,
            occurred_ms: r.try_get(8).map_err(pg)?,
        };
        out.push(org_id, event)?;
    }
    Ok(out)
}

/// `SELECT COUNT(*)` of a table under a clause.
async fn count(client: &impl GenericClient, table: &str, w: &Where) -> Result<u64, StoreError> {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE {}", w.sql());
    let total: i64 = client
        .query_one(&sql, &params(w))
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)?;
    Ok(u64::try_from(total).unwrap_or(0))
}

/// A read-only snapshot transaction.
async fn snapshot(
    client: &mut deadpool_postgres::Object,
) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg)
}

pub(super) async fn events(
    client: &mut deadpool_postgres::Object,
    org_id: &str,
    query: &EventQuery,
) -> Result<EventPage, StoreError> {
    let (filter, limit, after) = (&query.filter, query.limit, query.after);
    let tx = snapshot(client).await?;
    let total = count(&*tx, "events", &event_filter(org_id, filter)).await?;
    // One extra row tells whether another page follows.
    let selected =
        select_events(&*tx, org_id, filter, after, Some(limit.saturating_add(1))).await?;
    tx.commit().await.map_err(pg)?;
    Ok(selected.page(limit, total))
}

pub(super) async fn export_events(
    client: &mut deadpool_postgres::Object,
    org_id: &str,
    filter: &EventFilter,
    max: usize,
) -> Result<ExportSelection, StoreError> {
    let tx = snapshot(client).await?;
    let matching = count(&*tx, "events", &event_filter(org_id, filter)).await?;
    if matching > max as u64 {
        return Ok(ExportSelection::TooLarge { matching });
    }
    let selected = select_events(&*tx, org_id, filter, None, None).await?;
    tx.commit().await.map_err(pg)?;
    Ok(ExportSelection::Events {
        events: selected.events,
        last_hash: selected.last_hash,
    })
}

impl Columns for Row {
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.try_get(i).map_err(pg)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.try_get(i).map_err(pg)
    }

    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.try_get(i).map_err(pg)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.try_get(i).map_err(pg)
    }
}

/// The permit (or decision that issued none) `id` of `org_id`; another
/// organization's is not found, exactly like an unknown id.
pub(super) async fn permit(
    client: &deadpool_postgres::Object,
    org_id: &str,
    id: &str,
) -> Result<Option<PermitRow>, StoreError> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {PERMIT_COLUMNS} FROM permits WHERE id = $1 AND org_id = $2"
        ))
        .await
        .map_err(pg)?;
    client
        .query_opt(&stmt, &[&id, &org_id])
        .await
        .map_err(pg)?
        .as_ref()
        .map(permit_row)
        .transpose()
}

pub(super) async fn permits(
    client: &mut deadpool_postgres::Object,
    org_id: &str,
    query: &PermitQuery,
    now_ms: i64,
) -> Result<PermitRows, StoreError> {
    let tx = snapshot(client).await?;
    let mut w: Where = filter::permits('$', org_id, &query.filter, now_ms);
    let total = count(&*tx, "permits", &w).await?;
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
    let rows = tx.query(&sql, &params(&w)).await.map_err(pg)?;
    tx.commit().await.map_err(pg)?;
    let out = rows.iter().map(permit_row).collect::<Result<Vec<_>, _>>()?;
    Ok(row::permits_page(out, query.limit, total))
}
