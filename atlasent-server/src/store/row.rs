//! Reading a row the same way from either database: the permit columns,
//! and the permits page.

use super::{PermitCursor, PermitRow, PermitRows, PermitState, StoreError, UsedVia};

/// The columns of a result row, by position, as a store's driver reads them.
pub(crate) trait Columns {
    /// A text column that is never null.
    fn text(&self, i: usize) -> Result<String, StoreError>;
    /// A text column that may be null.
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;
    /// An integer column that is never null.
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    /// An integer column that may be null.
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError>;
}

/// The columns [`permit_row`] reads, in its order.
pub(crate) const PERMIT_COLUMNS: &str = "id, org_id, agent, action, context_hash, decision, \
     status, issued_ms, expires_ms, permit_hash, environment, execution_hash, used_via, used_ms, \
     revoked_ms, revoked_by, revoke_reason";

/// A permit of a row selecting [`PERMIT_COLUMNS`].
pub(crate) fn permit_row(r: &impl Columns) -> Result<PermitRow, StoreError> {
    let state = match r.text(6)?.as_str() {
        "active" => PermitState::Active,
        "denied" => PermitState::Denied,
        "consumed" => PermitState::Consumed {
            via: r.opt_text(12)?.map(|v| UsedVia::parse(&v)).transpose()?,
            at_ms: r.opt_int(13)?,
        },
        "revoked" => PermitState::Revoked {
            at_ms: r.opt_int(14)?,
            by: r.opt_text(15)?,
            reason: r.opt_text(16)?,
        },
        other => return Err(StoreError::Corrupt(format!("a permit status {other:?}"))),
    };
    Ok(PermitRow {
        id: r.text(0)?,
        org_id: r.text(1)?,
        agent: r.text(2)?,
        action: r.text(3)?,
        context_hash: r.text(4)?,
        decision: r.text(5)?,
        state,
        issued_ms: r.int(7)?,
        expires_ms: r.int(8)?,
        permit_hash: r.text(9)?,
        environment: r.opt_text(10)?,
        execution_hash: r.opt_text(11)?,
    })
}

/// The page of a permits listing selected with one row more than `limit`
/// (that row tells another page follows), of `total` matching permits.
pub(crate) fn permits_page(mut rows: Vec<PermitRow>, limit: u32, total: u64) -> PermitRows {
    let limit = limit as usize;
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|p| PermitCursor {
            issued_ms: p.issued_ms,
            id: p.id.clone(),
        })
    } else {
        None
    };
    PermitRows { rows, total, next }
}
