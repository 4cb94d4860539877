//! Permits by id: the records of `GET /v1/permits`, `GET /v1/permits/{id}`,
//! and the by-id verify and revoke, which run in the single writer like
//! every other state change: a permit verifies at most once, through
//! whichever door (`/v1-verify-permit` or `/v1/permits/{id}/verify`) comes
//! first.
//!
//! Only allow decisions are permits: the id of a deny, hold or escalate is
//! not found here, exactly like an unknown id or another organization's
//! permit.

use std::collections::HashMap;

use super::{append, bind, Caller, Command, Engine, EngineError, Head, NewEvent, Refusal};
use crate::clock;
use base64::Engine as _;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

/// The longest permit id a cursor may name.
const MAX_PERMIT_ID_CHARS: usize = 256;

/// A permit's status as the permit records tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermitStatus {
    /// Usable: not used, revoked or expired.
    Issued,
    /// Used through `POST /v1/permits/{id}/verify`.
    Verified,
    /// Used through `POST /v1-verify-permit`.
    Consumed,
    /// Not used before it expired.
    Expired,
    /// Revoked before it was used.
    Revoked,
}

impl PermitStatus {
    /// Every status, in the order the wire documents them.
    pub const ALL: [PermitStatus; 5] = [
        Self::Issued,
        Self::Verified,
        Self::Consumed,
        Self::Expired,
        Self::Revoked,
    ];

    /// The wire spelling: `issued`, `verified`, `consumed`, `expired`,
    /// `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Verified => "verified",
            Self::Consumed => "consumed",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    /// The status spelled `text`, if any.
    pub fn parse(text: &str) -> Option<PermitStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The SQL condition selecting permits of this status at `now_ms`,
    /// with its parameters appended to `params`.
    fn sql(self, now_ms: i64, params: &mut Vec<rusqlite::types::Value>) -> String {
        let mut now = || bind(params, rusqlite::types::Value::Integer(now_ms));
        match self {
            Self::Issued => format!("status = 'active' AND expires_ms >= {}", now()),
            Self::Expired => format!("status = 'active' AND expires_ms < {}", now()),
            Self::Verified => "status = 'consumed' AND used_via = 'by_id'".into(),
            Self::Consumed => "status = 'consumed' AND used_via IS NOT 'by_id'".into(),
            Self::Revoked => "status = 'revoked'".into(),
        }
    }
}

impl Serialize for PermitStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A permit as `GET /v1/permits/{id}` returns it.
#[derive(Debug, Clone, Serialize)]
pub struct PermitRecord {
    /// The permit id (`dec_…`), the evaluation's `permit_token`.
    pub id: String,
    /// The organization that issued it.
    pub org_id: String,
    /// The actor it was issued to.
    pub actor_id: String,
    /// The action it permits.
    pub action_id: String,
    /// The environment it was issued for, if the evaluation named one.
    pub environment: Option<String>,
    /// Its status now.
    pub status: PermitStatus,
    /// When it was issued (RFC 3339, milliseconds).
    pub issued_at: String,
    /// When it expires.
    pub expires_at: String,
    /// When it was used through `/v1-verify-permit`.
    pub consumed_at: Option<String>,
    /// When it was used through `/v1/permits/{id}/verify`.
    pub verified_at: Option<String>,
    /// When it was revoked.
    pub revoked_at: Option<String>,
    /// The id of the API key that revoked it.
    pub revoked_by: Option<String>,
    /// Why it was revoked, as the revoker said.
    pub revoke_reason: Option<String>,
    /// The server's Ed25519 signature over the permit's claims (the
    /// `permit_hash` of a successful verify).
    pub signature: String,
    /// The execution hash of the evaluated request (`None` for permits
    /// issued before schema 3).
    pub payload_hash: Option<String>,
    /// The evaluation that issued it (the same id).
    pub decision_id: String,
}

/// The columns [`record`] reads, in its order.
const RECORD_COLUMNS: &str = "id, org_id, agent, action, environment, status, issued_ms, \
     expires_ms, used_via, used_ms, revoked_ms, revoked_by, revoke_reason, permit_hash, execution_hash";

/// A permit record from a row of [`RECORD_COLUMNS`], its status at `now_ms`.
fn record(r: &rusqlite::Row<'_>, now_ms: i64) -> rusqlite::Result<PermitRecord> {
    let id: String = r.get(0)?;
    let status: String = r.get(5)?;
    let expires_ms: i64 = r.get(7)?;
    let used_via: Option<String> = r.get(8)?;
    let used_at = r.get::<_, Option<i64>>(9)?.map(clock::rfc3339_ms);
    let status = match (status.as_str(), used_via.as_deref()) {
        ("revoked", _) => PermitStatus::Revoked,
        ("consumed", Some("by_id")) => PermitStatus::Verified,
        ("consumed", _) => PermitStatus::Consumed,
        _ if now_ms > expires_ms => PermitStatus::Expired,
        _ => PermitStatus::Issued,
    };
    Ok(PermitRecord {
        decision_id: id.clone(),
        id,
        org_id: r.get(1)?,
        actor_id: r.get(2)?,
        action_id: r.get(3)?,
        environment: r.get(4)?,
        status,
        issued_at: clock::rfc3339_ms(r.get(6)?),
        expires_at: clock::rfc3339_ms(expires_ms),
        consumed_at: used_at.clone().filter(|_| status == PermitStatus::Consumed),
        verified_at: used_at.filter(|_| status == PermitStatus::Verified),
        revoked_at: r.get::<_, Option<i64>>(10)?.map(clock::rfc3339_ms),
        revoked_by: r.get(11)?,
        revoke_reason: r.get(12)?,
        signature: r.get(13)?,
        payload_hash: r.get(14)?,
    })
}

/// The permit `id` of organization `org_id`; `None` for an unknown id,
/// another organization's permit, and a decision that issued no permit.
fn find_record(
    conn: &Connection,
    org_id: &str,
    id: &str,
    now_ms: i64,
) -> rusqlite::Result<Option<PermitRecord>> {
    conn.query_row(
        &format!(
            "SELECT {RECORD_COLUMNS} FROM permits WHERE id = ?1 AND org_id = ?2 AND decision = 'allow'"
        ),
        params![id, org_id],
        |r| record(r, now_ms),
    )
    .optional()
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
    /// Only permits issued at or after this time (ms since the epoch).
    pub from_ms: Option<i64>,
    /// Only permits issued at or before this time (ms since the epoch).
    pub to_ms: Option<i64>,
}

/// Where a page of `GET /v1/permits` starts: after the permit issued at
/// `issued_ms` with id `id` (pages run newest first). Opaque on the wire;
/// a cursor positions a listing within the caller's organization only, so
/// a forged one reads nothing another organization owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitCursor {
    issued_ms: i64,
    id: String,
}

impl PermitCursor {
    /// Read a cursor this server wrote; `None` for anything else.
    pub fn parse(text: &str) -> Option<PermitCursor> {
        if text.len() > 2 * MAX_PERMIT_ID_CHARS {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (ms, id) = text.split_once(':')?;
        let ok_ms = !ms.is_empty() && ms.len() <= 19 && ms.bytes().all(|b| b.is_ascii_digit());
        let ok_id = !id.is_empty()
            && id.len() <= MAX_PERMIT_ID_CHARS
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !(ok_ms && ok_id) {
            return None;
        }
        Some(PermitCursor {
            issued_ms: ms.parse().ok()?,
            id: id.to_owned(),
        })
    }

    fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{}:{}", self.issued_ms, self.id))
    }
}

/// One page of permits, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct PermitPage {
    /// The permits.
    pub permits: Vec<PermitRecord>,
    /// How many permits match the filter in all.
    pub total: u64,
    /// The cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
}

/// `WHERE` clause and parameters of an organization's permits.
fn filter_sql(
    org_id: &str,
    filter: &PermitFilter,
    now_ms: i64,
) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as Sql;
    let mut params: Vec<Sql> = vec![Sql::Text(org_id.to_owned())];
    let mut clauses = vec!["org_id = ?1 AND decision = 'allow'".to_owned()];
    if let Some(status) = filter.status {
        clauses.push(status.sql(now_ms, &mut params));
    }
    if let Some(actor) = &filter.actor_id {
        clauses.push(format!(
            "agent = {}",
            bind(&mut params, Sql::Text(actor.clone()))
        ));
    }
    if let Some(action) = &filter.action {
        clauses.push(format!(
            "action = {}",
            bind(&mut params, Sql::Text(action.clone()))
        ));
    }
    if let Some(from) = filter.from_ms {
        clauses.push(format!(
            "issued_ms >= {}",
            bind(&mut params, Sql::Integer(from))
        ));
    }
    if let Some(to) = filter.to_ms {
        clauses.push(format!(
            "issued_ms <= {}",
            bind(&mut params, Sql::Integer(to))
        ));
    }
    (clauses.join(" AND "), params)
}

fn list(
    conn: &Connection,
    org_id: &str,
    filter: &PermitFilter,
    limit: u32,
    cursor: Option<&PermitCursor>,
    now_ms: i64,
) -> Result<PermitPage, EngineError> {
    // One read transaction: the count and the page see the same commit.
    let tx = conn.unchecked_transaction()?;
    let (where_sql, params) = filter_sql(org_id, filter, now_ms);
    let total: i64 = tx.query_row(
        &format!("SELECT COUNT(*) FROM permits WHERE {where_sql}"),
        rusqlite::params_from_iter(params.iter()),
        |r| r.get(0),
    )?;
    let mut params = params;
    let mut where_sql = where_sql;
    if let Some(c) = cursor {
        let ms = bind(&mut params, rusqlite::types::Value::Integer(c.issued_ms));
        let id = bind(&mut params, rusqlite::types::Value::Text(c.id.clone()));
        where_sql.push_str(&format!(
            " AND (issued_ms < {ms} OR (issued_ms = {ms} AND id < {id}))"
        ));
    }
    // One extra row tells whether another page follows.
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM permits WHERE {where_sql}
         ORDER BY issued_ms DESC, id DESC LIMIT {}",
        u64::from(limit) + 1
    );
    let mut stmt = tx.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut rows_out: Vec<(PermitRecord, i64)> = Vec::new();
    while let Some(r) = rows.next()? {
        rows_out.push((record(r, now_ms)?, r.get(6)?));
    }
    let next_cursor = if rows_out.len() > limit as usize {
        rows_out.truncate(limit as usize);
        rows_out.last().map(|(p, issued_ms)| {
            PermitCursor {
                issued_ms: *issued_ms,
                id: p.id.clone(),
            }
            .encode()
        })
    } else {
        None
    };
    let permits = rows_out.into_iter().map(|(p, _)| p).collect();
    Ok(PermitPage {
        permits,
        total: u64::try_from(total).unwrap_or(0),
        next_cursor,
    })
}

/// A by-id verify or revoke.
pub(super) struct ByIdCmd {
    pub(super) caller: Caller,
    pub(super) permit_id: String,
    /// The revocation's reason (revoke only).
    pub(super) reason: Option<String>,
    pub(super) now_ms: i64,
}

impl Engine {
    /// The permit `id` of organization `org_id`; `None` when it has none by
    /// that id (unknown, another organization's, or a decision that issued
    /// no permit).
    pub async fn permit(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<Option<PermitRecord>, EngineError> {
        let (org, id) = (org_id.to_owned(), id.to_owned());
        let now_ms = self.inner.config.clock.now_ms();
        self.read(move |conn| Ok(find_record(conn, &org, &id, now_ms)?))
            .await
    }

    /// One page of `org_id`'s permits matching `filter`, newest first,
    /// after `cursor`.
    pub async fn permits(
        &self,
        org_id: &str,
        filter: PermitFilter,
        limit: u32,
        cursor: Option<PermitCursor>,
    ) -> Result<PermitPage, EngineError> {
        let org = org_id.to_owned();
        let now_ms = self.inner.config.clock.now_ms();
        self.read(move |conn| list(conn, &org, &filter, limit, cursor.as_ref(), now_ms))
            .await
    }

    /// Verify permit `id` by id: valid only when it is issued and not
    /// expired, and then it is used (status `verified`). Returns the reply
    /// body; [`EngineError::PermitNotFound`] when the caller's organization
    /// has no permit by that id.
    pub async fn verify_by_id(&self, caller: Caller, id: &str) -> Result<String, EngineError> {
        let cmd = self.by_id(caller, id, None);
        self.call(|tx| Command::VerifyById(cmd, tx)).await
    }

    /// Revoke permit `id` by id; returns the updated record as the reply
    /// body. Revoking a revoked permit changes nothing;
    /// [`EngineError::PermitUsed`] for a used one,
    /// [`EngineError::PermitNotFound`] for an unknown one.
    pub async fn revoke_by_id(
        &self,
        caller: Caller,
        id: &str,
        reason: Option<&str>,
    ) -> Result<String, EngineError> {
        let cmd = self.by_id(caller, id, reason);
        self.call(|tx| Command::RevokeById(cmd, tx)).await
    }

    fn by_id(&self, caller: Caller, id: &str, reason: Option<&str>) -> ByIdCmd {
        ByIdCmd {
            caller,
            permit_id: id.to_owned(),
            reason: reason.map(str::to_owned),
            now_ms: self.inner.config.clock.now_ms(),
        }
    }
}

fn to_map(record: &PermitRecord) -> Result<Map<String, Value>, Refusal> {
    match serde_json::to_value(record) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Refusal::Sql(rusqlite::Error::InvalidQuery)),
        Err(e) => Err(Refusal::Sql(rusqlite::Error::ToSqlConversionFailure(
            Box::new(e),
        ))),
    }
}

fn by_id_record(tx: &Transaction<'_>, c: &ByIdCmd) -> Result<PermitRecord, Refusal> {
    // Nothing is written before this check: a refusal leaves no trace in
    // the transaction (and no event names an id the caller cannot see).
    find_record(tx, &c.caller.org_id, &c.permit_id, c.now_ms)?
        .ok_or(Refusal::Refused(EngineError::PermitNotFound))
}

pub(super) fn verify_by_id(
    tx: &Transaction<'_>,
    heads: &mut HashMap<String, Head>,
    c: &ByIdCmd,
) -> Result<String, Refusal> {
    let before = by_id_record(tx, c)?;
    let status_before = before.status;
    let valid = status_before == PermitStatus::Issued;
    let record = if valid {
        tx.execute(
            "UPDATE permits SET status = 'consumed', used_via = 'by_id', used_ms = ?3
             WHERE id = ?1 AND org_id = ?2 AND status = 'active'",
            params![c.permit_id, c.caller.org_id, c.now_ms],
        )?;
        by_id_record(tx, c)?
    } else {
        before
    };
    let reason = match status_before {
        PermitStatus::Issued => "the permit is valid; it is now used".to_owned(),
        PermitStatus::Verified | PermitStatus::Consumed => "the permit was already used".into(),
        PermitStatus::Expired => format!("the permit expired at {}", record.expires_at),
        PermitStatus::Revoked => "the permit was revoked".into(),
    };
    append(
        tx,
        heads,
        NewEvent {
            org_id: &c.caller.org_id,
            kind: if valid {
                "permit.verified"
            } else {
                "permit.rejected"
            },
            decision: None,
            actor_id: Some(&record.actor_id),
            resource_id: Some(&record.action_id),
            payload: json!({
                "decision_id": c.permit_id,
                "outcome": if valid { "verified" } else { status_before.as_str() },
                "verified": valid,
                "consumed": valid,
                "via": "by_id",
                "key_id": c.caller.key_id,
                "request_id": c.caller.request_id,
            }),
            now_ms: c.now_ms,
        },
    )?;
    let evidence = json!({
        "permit_id": record.id,
        "status": record.status,
        "actor_id": record.actor_id,
        "action_id": record.action_id,
        "expires_at": record.expires_at,
        "payload_hash": record.payload_hash,
        "decision_id": record.decision_id,
    });
    let mut body = to_map(&record)?;
    // The envelope's `verified_at` is when this verification ran; for a
    // valid one it is also the record's.
    for (name, value) in [
        ("valid", Value::from(valid)),
        ("verification_type", Value::from("permit")),
        ("reason", Value::from(reason)),
        ("verified_at", Value::from(clock::rfc3339_ms(c.now_ms))),
        ("evidence", evidence),
    ] {
        body.insert(name.to_owned(), value);
    }
    Ok(Value::Object(body).to_string())
}

pub(super) fn revoke_by_id(
    tx: &Transaction<'_>,
    heads: &mut HashMap<String, Head>,
    c: &ByIdCmd,
) -> Result<String, Refusal> {
    let before = by_id_record(tx, c)?;
    let already = match before.status {
        PermitStatus::Revoked => true,
        PermitStatus::Verified | PermitStatus::Consumed => {
            return Err(Refusal::Refused(EngineError::PermitUsed))
        }
        PermitStatus::Issued | PermitStatus::Expired => false,
    };
    let record = if already {
        before
    } else {
        tx.execute(
            "UPDATE permits SET status = 'revoked', revoked_ms = ?3, revoked_by = ?4, revoke_reason = ?5
             WHERE id = ?1 AND org_id = ?2 AND status = 'active'",
            params![
                c.permit_id,
                c.caller.org_id,
                c.now_ms,
                c.caller.key_id,
                c.reason
            ],
        )?;
        by_id_record(tx, c)?
    };
    append(
        tx,
        heads,
        NewEvent {
            org_id: &c.caller.org_id,
            kind: "permit.revoked",
            decision: None,
            actor_id: Some(&record.actor_id),
            resource_id: Some(&record.action_id),
            payload: json!({
                "decision_id": c.permit_id,
                "revoked": true,
                "already_revoked": already,
                "reason": c.reason,
                "via": "by_id",
                "key_id": c.caller.key_id,
                "request_id": c.caller.request_id,
            }),
            now_ms: c.now_ms,
        },
    )?;
    Ok(Value::Object(to_map(&record)?).to_string())
}
