//! Permits by id (`/v1/permits…`): read, list, verify and revoke a permit
//! by its id, as the Python SDK 2.x's `get_permit`, `list_permits`,
//! `verify_permit_by_id` and `revoke_permit_by_id` do.
//!
//! These endpoints exist on servers that speak the current wire; they are
//! the same whichever [`Wire`](crate::Wire) the client speaks on evaluate and
//! verify. Every reply is bound to the permit asked about: a record or
//! verdict about another permit is `bad_response`, like a verify reply about
//! another permit.

use futures_util::Stream;
use tracing::field::Empty;
use tracing::Instrument;

use crate::client::{check_revoke_reason, to_body, Client};
use crate::error::{Error, RequestError};
use crate::paging::{self, query_setters, Paged};
use crate::reply::{about, checked_expiry};
use crate::results::RateLimit;
use crate::transport::{bad_reply, parse_strict, Endpoint, Target};
use crate::wire::{
    PermitEvidence, PermitList, PermitRecord, PermitStatus, PermitVerifyResponse, RevokeByIdRequest,
};

/// Filters and paging of [`Client::list_permits`]; every filter is
/// optional. Build with the setters:
///
/// ```
/// use atlasent::{PermitQuery, PermitStatus};
/// let query = PermitQuery::new()
///     .status(PermitStatus::Issued)
///     .actor_id("deploy-bot")
///     .from("2026-04-01T00:00:00Z")
///     .limit(100);
/// assert_eq!(query.limit, Some(100));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PermitQuery {
    /// Only permits with this status.
    pub status: Option<PermitStatus>,
    /// Only permits issued to this actor.
    pub actor_id: Option<String>,
    /// Only permits for this action.
    pub action_type: Option<String>,
    /// Only permits issued at or after this RFC 3339 time.
    pub from: Option<String>,
    /// Only permits issued at or before this RFC 3339 time.
    pub to: Option<String>,
    /// Page size (our server: 1 to 200, default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PermitQuery {
    /// Every permit, first page.
    pub fn new() -> Self {
        Self::default()
    }
    /// Only permits with this status (a [`PermitStatus`], or its wire
    /// spelling: `"issued"`, `"revoked"`, …).
    pub fn status(mut self, status: impl Into<PermitStatus>) -> Self {
        self.status = Some(status.into());
        self
    }
    query_setters! {
        paging;
        /// Only permits issued to this actor.
        actor_id(actor);
        /// Only permits for this action.
        action_type(action);
        /// Only permits issued at or after this RFC 3339 time.
        from(at);
        /// Only permits issued at or before this RFC 3339 time.
        to(at);
    }

    /// The query string, in a fixed order; unset and empty filters are left
    /// out.
    fn to_query(&self) -> Vec<(&'static str, String)> {
        let status = self.status.as_ref().map(|s| s.as_str().to_owned());
        let optional = [
            ("status", &status),
            ("actor_id", &self.actor_id),
            ("action_type", &self.action_type),
            ("from", &self.from),
            ("to", &self.to),
        ];
        let mut q: Vec<(&'static str, String)> = optional
            .into_iter()
            .filter_map(|(name, value)| {
                value
                    .as_ref()
                    .filter(|v| !v.is_empty())
                    .map(|v| (name, v.clone()))
            })
            .collect();
        if let Some(limit) = self.limit {
            q.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = self.cursor.as_ref().filter(|c| !c.is_empty()) {
            q.push(("cursor", cursor.clone()));
        }
        q
    }
}

/// One page of [`Client::list_permits`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PermitPage {
    /// The permits of this page, newest first.
    pub permits: Vec<PermitRecord>,
    /// How many permits match the filters in all (the page's length when the
    /// server does not say, as the Python SDK counts it).
    pub total: u64,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
    /// The `X-Request-ID` of the request.
    pub request_id: String,
    /// Rate-limit state from the reply's headers.
    pub rate_limit: Option<RateLimit>,
}

/// The answer of [`Client::verify_permit_by_id`]. Only
/// [`valid`](Self::valid) says whether the permit verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PermitVerification {
    /// Whether the permit verified; it is then used (status `verified`) and
    /// will not verify again through either door.
    pub valid: bool,
    /// `permit`.
    pub verification_type: String,
    /// The server's explanation (empty when it sent none).
    pub reason: String,
    /// When this verification happened, when the server says.
    pub verified_at: Option<String>,
    /// What the verdict is about.
    pub evidence: PermitEvidence,
    /// The permit after this verification.
    pub permit: PermitRecord,
    /// The `X-Request-ID` of the request.
    pub request_id: String,
    /// Rate-limit state from the reply's headers.
    pub rate_limit: Option<RateLimit>,
}

impl Client {
    /// One permit by its id (`GET /v1/permits/{id}`). An unknown id, or
    /// another organization's, is a 404: [`ErrorCode::BadRequest`](crate::ErrorCode)
    /// with status 404.
    pub async fn get_permit(&self, permit_id: &str) -> Result<PermitRecord, Error> {
        check_permit_id(permit_id)?;
        let span = tracing::info_span!("atlasent.get_permit", permit_id, request_id = Empty);
        async {
            let target = Target::by_id(Endpoint::Permit, permit_id);
            let reply = self
                .transport()
                .send_with(target, None, &[], |bytes| {
                    let record = parse_strict::<PermitRecord>(Endpoint::Permit, bytes)?;
                    checked_record(Endpoint::Permit, record, Some(permit_id), "")
                })
                .await?;
            Ok(reply.body)
        }
        .instrument(span)
        .await
    }

    /// One page of permits (`GET /v1/permits`), newest first.
    pub async fn list_permits(&self, query: &PermitQuery) -> Result<PermitPage, Error> {
        let span = tracing::info_span!("atlasent.list_permits", request_id = Empty);
        async {
            let endpoint = Endpoint::Permits;
            let reply = self
                .transport()
                .send_with(endpoint, None, &query.to_query(), |bytes| {
                    let list = parse_strict::<PermitList>(endpoint, bytes)?;
                    let permits = list
                        .permits
                        .into_iter()
                        .enumerate()
                        .map(|(i, record)| {
                            checked_record(endpoint, record, None, &format!("permits[{i}]: "))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(PermitList {
                        total: Some(list.total.unwrap_or(permits.len() as u64)),
                        permits,
                        next_cursor: list.next_cursor.filter(|c| !c.is_empty()),
                    })
                })
                .await?;
            Ok(PermitPage {
                permits: reply.body.permits,
                total: reply.body.total.unwrap_or_default(),
                next_cursor: reply.body.next_cursor,
                request_id: reply.request_id,
                rate_limit: reply.rate_limit,
            })
        }
        .instrument(span)
        .await
    }

    /// Every permit matching `query`, page after page from its cursor on,
    /// following `next_cursor`. The stream ends after the last page (one
    /// without a next cursor, an empty one, or one whose next cursor is the
    /// cursor it was asked for), or after yielding the first error.
    pub fn permits(
        &self,
        query: PermitQuery,
    ) -> impl Stream<Item = Result<PermitRecord, Error>> + Send + 'static {
        let client = self.clone();
        paging::stream(query, move |query| {
            let client = client.clone();
            async move { client.list_permits(&query).await }
        })
    }

    /// Verify a permit by its id (`POST /v1/permits/{id}/verify`). Only
    /// `valid` decides; a valid permit is used by this call. An unknown id
    /// is a 404.
    pub async fn verify_permit_by_id(&self, permit_id: &str) -> Result<PermitVerification, Error> {
        check_permit_id(permit_id)?;
        let span = tracing::info_span!(
            "atlasent.verify_permit_by_id",
            permit_id,
            request_id = Empty,
            valid = Empty
        );
        async {
            let endpoint = Endpoint::PermitVerify;
            let target = Target::by_id(endpoint, permit_id);
            let reply = self
                .transport()
                .send_with(target, Some(b"{}".to_vec()), &[], |bytes| {
                    let b = parse_strict::<PermitVerifyResponse>(endpoint, bytes)?;
                    about(permit_id, "evidence.permit_id", Some(&b.evidence.permit_id))
                        .map_err(|why| bad_reply(endpoint, why))?;
                    let permit = checked_record(endpoint, b.permit, Some(permit_id), "")?;
                    Ok(PermitVerifyResponse { permit, ..b })
                })
                .await?;
            let b = reply.body;
            tracing::Span::current().record("valid", b.valid);
            // The reply's one `verified_at` is this verification's; it is the
            // record's too only when this verification used the permit.
            let mut permit = b.permit;
            if b.valid {
                permit.verified_at.clone_from(&b.verified_at);
            }
            Ok(PermitVerification {
                valid: b.valid,
                verification_type: b.verification_type,
                reason: b.reason.unwrap_or_default(),
                verified_at: b.verified_at,
                evidence: b.evidence,
                permit,
                request_id: reply.request_id,
                rate_limit: reply.rate_limit,
            })
        }
        .instrument(span)
        .await
    }

    /// Revoke a permit by its id (`POST /v1/permits/{id}/revoke`): the
    /// updated record. `reason` is stored with it. Revoking a revoked permit
    /// answers it unchanged; a used one is a 409, an unknown one a 404.
    pub async fn revoke_permit_by_id(
        &self,
        permit_id: &str,
        reason: Option<&str>,
    ) -> Result<PermitRecord, Error> {
        check_permit_id(permit_id)?;
        check_revoke_reason(reason)?;
        let span = tracing::info_span!(
            "atlasent.revoke_permit_by_id",
            permit_id,
            request_id = Empty
        );
        async {
            let endpoint = Endpoint::PermitRevoke;
            let target = Target::by_id(endpoint, permit_id);
            let body = to_body(&RevokeByIdRequest { reason })?;
            let reply = self
                .transport()
                .send_with(target, Some(body), &[], |bytes| {
                    let record = parse_strict::<PermitRecord>(endpoint, bytes)?;
                    checked_record(endpoint, record, Some(permit_id), "")
                })
                .await?;
            Ok(reply.body)
        }
        .instrument(span)
        .await
    }
}

impl Paged for PermitQuery {
    type Item = PermitRecord;
    type Page = PermitPage;
    const EMPTY_PAGE_ENDS: bool = true;
    fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }
    fn set_cursor(&mut self, cursor: String) {
        self.cursor = Some(cursor);
    }
    fn split(page: PermitPage) -> (Vec<PermitRecord>, Option<String>) {
        (page.permits, page.next_cursor)
    }
}

/// A permit id to put in a path: not empty, and not `.` or `..`, which a
/// URL parser resolves as a path step (every other byte is percent-encoded).
fn check_permit_id(permit_id: &str) -> Result<(), Error> {
    match permit_id {
        "" => Err(Error::invalid("permit_id must not be empty")),
        "." | ".." => Err(Error::invalid(format!(
            "permit_id {permit_id:?} is not a permit id (it would name another path)"
        ))),
        _ => Ok(()),
    }
}

/// A record the client can hand out: about `expected` (when the call asked
/// about one permit), with a readable `expires_at`. `at` prefixes messages
/// (`permits[2]: `).
fn checked_record(
    endpoint: Endpoint,
    record: PermitRecord,
    expected: Option<&str>,
    at: &str,
) -> Result<PermitRecord, RequestError> {
    if let Some(expected) = expected {
        about(expected, "id", Some(&record.id)).map_err(|why| bad_reply(endpoint, why))?;
    }
    checked_expiry(Some(record.expires_at.clone()))
        .and_then(|read| {
            read.map(drop)
                .ok_or_else(|| "field `expires_at` is empty".to_owned())
        })
        .map_err(|why| bad_reply(endpoint, format!("{at}{why}")))?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_string_has_only_what_is_set() {
        assert!(PermitQuery::new().to_query().is_empty());
        let q = PermitQuery::new()
            .status(PermitStatus::Revoked)
            .actor_id("bot")
            .action_type("deploy.prod")
            .from("2026-01-01T00:00:00Z")
            .to("2026-02-01T00:00:00Z")
            .limit(7)
            .cursor("c2")
            .to_query();
        let names: Vec<_> = q.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "status",
                "actor_id",
                "action_type",
                "from",
                "to",
                "limit",
                "cursor"
            ]
        );
        assert_eq!(q[0].1, "revoked");
    }

    #[test]
    fn dot_ids_are_refused() {
        for bad in ["", ".", ".."] {
            assert!(check_permit_id(bad).is_err(), "{bad:?}");
        }
        check_permit_id("...").expect("three dots is an ordinary segment");
    }
}
