//! Permits by id: the records of `GET /v1/permits`, `GET /v1/permits/{id}`,
//! and the by-id verify and revoke, which run in the store's write
//! transaction like every other state change: a permit verifies at most
//! once, through whichever door (`/v1-verify-permit` or
//! `/v1/permits/{id}/verify`) comes first.
//!
//! Only allow decisions are permits: the id of a deny, hold or escalate is
//! not found here, exactly like an unknown id or another organization's
//! permit.

use super::Revocation;
use atlasent::wire::limits::MAX_PERMIT_ID_CHARS;
use atlasent::wire::{PermitEvidence, PermitList, PermitVerifyResponse};
use base64::Engine as _;
use serde_json::json;

use super::{object, Caller, Engine, EngineError, PermitRecord, PermitStatus};
use crate::clock;
use crate::store::{
    NewEvent, PermitCursor, PermitQuery, PermitRow, PermitState, Refusal, Tx, UsedVia, WriteError,
};

/// One page of permits, newest first (`GET /v1/permits`).
pub type PermitPage = PermitList;

/// The status of `row` at `now_ms`: revoked, used (verified through
/// `/v1/permits/{id}/verify`, consumed through `/v1-verify-permit`),
/// expired when unused past its expiry, else issued.
pub fn status(row: &PermitRow, now_ms: i64) -> PermitStatus {
    match &row.state {
        PermitState::Revoked { .. } => PermitStatus::Revoked,
        PermitState::Consumed {
            via: Some(UsedVia::ById),
            ..
        } => PermitStatus::Verified,
        PermitState::Consumed { .. } => PermitStatus::Consumed,
        _ if now_ms > row.expires_ms => PermitStatus::Expired,
        _ => PermitStatus::Issued,
    }
}

/// The record of `row` at `now_ms`.
pub fn record(row: &PermitRow, now_ms: i64) -> PermitRecord {
    let status = status(row, now_ms);
    let (used_ms, revoked_ms, revoked_by, revoke_reason) = match &row.state {
        PermitState::Consumed { at_ms, .. } => (*at_ms, None, None, None),
        PermitState::Revoked { at_ms, by, reason } => (None, *at_ms, by.clone(), reason.clone()),
        PermitState::Active | PermitState::Denied => (None, None, None, None),
    };
    let used_at = used_ms.map(clock::rfc3339_ms);
    PermitRecord {
        id: row.id.clone(),
        org_id: row.org_id.clone(),
        actor_id: row.agent.clone(),
        action_id: row.action.clone(),
        target_id: None,
        environment: row.environment.clone(),
        consumed_at: used_at.clone().filter(|_| status == PermitStatus::Consumed),
        verified_at: used_at.filter(|_| status == PermitStatus::Verified),
        status,
        issued_at: clock::rfc3339_ms(row.issued_ms),
        expires_at: clock::rfc3339_ms(row.expires_ms),
        revoked_at: revoked_ms.map(clock::rfc3339_ms),
        revoked_by,
        revoke_reason,
        signature: Some(row.permit_hash.clone()),
        payload_hash: row.execution_hash.clone(),
        decision_id: Some(row.id.clone()),
    }
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

    /// The cursor's text: opaque on the wire.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{}:{}", self.issued_ms, self.id))
    }
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
        let now_ms = self.now_ms();
        let row = self
            .inner
            .store
            .permit(org_id.to_owned(), id.to_owned())
            .await?;
        Ok(row
            .filter(|p| p.decision == "allow")
            .map(|p| record(&p, now_ms)))
    }

    /// One page of `org_id`'s permits matching `filter`, newest first,
    /// after `cursor`.
    pub async fn permits(
        &self,
        org_id: &str,
        query: PermitQuery,
    ) -> Result<PermitPage, EngineError> {
        let now_ms = self.now_ms();
        let page = (self.inner.store)
            .permits(org_id.to_owned(), query, now_ms)
            .await?;
        Ok(PermitList {
            permits: page.rows.iter().map(|p| record(p, now_ms)).collect(),
            total: Some(page.total),
            next_cursor: page.next.map(|c| c.encode()),
        })
    }

    /// Verify permit `id` by id: valid only when it is issued and not
    /// expired, and then it is used (status `verified`). Returns the reply
    /// body; [`EngineError::PermitNotFound`] when the caller's organization
    /// has no permit by that id.
    pub async fn verify_by_id(&self, caller: Caller, id: &str) -> Result<String, EngineError> {
        let now_ms = self.now_ms();
        let (mut request, id) = (caller.request("permits.verify", now_ms), id.to_owned());
        request.reads_permit = Some(id.clone());
        let clock = self.inner.config.clock.clone();
        self.write(request, move |tx| {
            verify_by_id(tx, &caller, &id, clock.job_ms(now_ms))
        })
        .await
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
        let revocation = Revocation::new(caller, id, reason, self.now_ms());
        self.revoke_with("permits.revoke", revocation, revoke_by_id)
            .await
    }
}

/// The permit `id` of the caller's organization, refused when there is
/// none. Nothing is written before this check: a refusal leaves no trace
/// in the transaction (and no event names an id the caller cannot see).
fn by_id(tx: &mut dyn Tx, caller: &Caller, id: &str) -> Result<PermitRow, WriteError> {
    tx.permit(&caller.org_id, id)?
        .filter(|p| p.decision == "allow")
        .ok_or(WriteError::Refused(Refusal::PermitNotFound))
}

/// Append a by-id event about `record` with `members` in its payload.
fn by_id_event(
    tx: &mut dyn Tx,
    caller: &Caller,
    record: &PermitRecord,
    kind: &str,
    members: serde_json::Value,
    now_ms: i64,
) -> Result<String, WriteError> {
    let mut payload = object(members);
    for (name, value) in [
        ("via", UsedVia::ById.as_str()),
        ("key_id", caller.key_id.as_str()),
        ("request_id", caller.request_id.as_str()),
    ] {
        payload.insert(name.to_owned(), value.into());
    }
    Ok(tx.append(NewEvent {
        org_id: &caller.org_id,
        kind,
        decision: None,
        actor_id: Some(&record.actor_id),
        resource_id: Some(&record.action_id),
        payload: payload.into(),
        now_ms,
    })?)
}

fn verify_by_id(
    tx: &mut dyn Tx,
    caller: &Caller,
    id: &str,
    now_ms: i64,
) -> Result<String, WriteError> {
    let mut row = by_id(tx, caller, id)?;
    let status_before = status(&row, now_ms);
    let valid = status_before == PermitStatus::Issued;
    if valid {
        row.state = PermitState::Consumed {
            via: Some(UsedVia::ById),
            at_ms: Some(now_ms),
        };
        tx.transition(&caller.org_id, id, &row.state)?;
    }
    let record = record(&row, now_ms);
    let reason = match &status_before {
        PermitStatus::Issued => "the permit is valid; it is now used".to_owned(),
        PermitStatus::Expired => format!("the permit expired at {}", record.expires_at),
        PermitStatus::Revoked => "the permit was revoked".into(),
        _ => "the permit was already used".into(),
    };
    by_id_event(
        tx,
        caller,
        &record,
        if valid {
            "permit.verified"
        } else {
            "permit.rejected"
        },
        json!({
            "decision_id": id,
            "outcome": if valid { "verified" } else { status_before.as_str() },
            "verified": valid,
            "consumed": valid,
        }),
        now_ms,
    )?;
    let evidence = PermitEvidence {
        permit_id: record.id.clone(),
        status: record.status.clone(),
        actor_id: Some(record.actor_id.clone()),
        action_id: Some(record.action_id.clone()),
        expires_at: Some(record.expires_at.clone()),
        payload_hash: record.payload_hash.clone(),
        decision_id: record.decision_id.clone(),
    };
    // The envelope's `verified_at` is when this verification ran; for a
    // valid one it is also the record's.
    let reply = PermitVerifyResponse {
        valid,
        verification_type: "permit".to_owned(),
        reason: Some(reason),
        verified_at: Some(clock::rfc3339_ms(now_ms)),
        evidence,
        permit: record,
    };
    Ok(serde_json::to_string(&reply)?)
}

fn revoke_by_id(tx: &mut dyn Tx, revocation: &Revocation) -> Result<String, WriteError> {
    let Revocation {
        caller,
        id,
        reason,
        now_ms,
    } = revocation;
    let (id, reason, now_ms) = (id.as_str(), reason.as_deref(), *now_ms);
    let mut row = by_id(tx, caller, id)?;
    let already = match row.state {
        PermitState::Revoked { .. } => true,
        PermitState::Consumed { .. } => return Err(WriteError::Refused(Refusal::PermitUsed)),
        PermitState::Active | PermitState::Denied => false,
    };
    if !already {
        row.state = revocation.state();
        tx.transition(&caller.org_id, id, &row.state)?;
    }
    let record = record(&row, now_ms);
    by_id_event(
        tx,
        caller,
        &record,
        "permit.revoked",
        json!({
            "decision_id": id,
            "revoked": true,
            "already_revoked": already,
            "reason": reason,
        }),
        now_ms,
    )?;
    Ok(serde_json::to_string(&record)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: PermitState) -> PermitRow {
        PermitRow {
            state,
            ..crate::store::testing::permit_row()
        }
    }

    fn used(via: Option<UsedVia>) -> PermitState {
        PermitState::Consumed {
            via,
            at_ms: Some(10).filter(|_| via.is_some()),
        }
    }

    #[test]
    fn a_record_tells_its_status_at_a_time() {
        let active = row(PermitState::Active);
        assert_eq!(status(&active, 1_000), PermitStatus::Issued);
        assert_eq!(status(&active, 1_001), PermitStatus::Expired);
        let by_id = row(used(Some(UsedVia::ById)));
        assert_eq!(status(&by_id, 5_000), PermitStatus::Verified);
        let rec = record(&by_id, 5_000);
        assert_eq!(rec.verified_at.as_deref(), Some("1970-01-01T00:00:00.010Z"));
        assert_eq!(rec.consumed_at, None);
        // Used before schema 3: no door recorded.
        assert_eq!(status(&row(used(None)), 0), PermitStatus::Consumed);
        let revoked = PermitState::Revoked {
            at_ms: None,
            by: None,
            reason: None,
        };
        assert_eq!(status(&row(revoked), 5_000), PermitStatus::Revoked);
    }

    #[test]
    fn cursors_round_trip_and_refuse_what_this_server_never_wrote() {
        let cursor = PermitCursor {
            issued_ms: 1_776_420_000_123,
            id: "dec_abc".into(),
        };
        assert_eq!(PermitCursor::parse(&cursor.encode()), Some(cursor));
        assert_eq!(PermitCursor::parse("not a cursor"), None);
    }
}
