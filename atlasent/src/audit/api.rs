//! The audit endpoints of the client: listing events and signed exports.

use std::path::Path;

use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::verify::{
    scan_bundle_text, verify_audit_bundle, verify_audit_bundle_file, BundleError,
    BundleVerification, VerifyingKey,
};
use crate::client::Client;
use crate::error::{Error, ErrorCode, RequestError};
use crate::paging::{self, query_setters, Paged};
use crate::results::RateLimit;
use crate::transport::Endpoint;
use crate::wire::{AuditEventsResponse, SigningKeysResponse};

/// The filter setters shared by [`AuditEventQuery`] and [`ExportFilter`]
/// (`paging;` first for the query's `limit` and `cursor`).
macro_rules! time_and_actor_setters {
    ($($paging:ident;)?) => {
        query_setters! {
            $($paging;)?
            /// Only events of this actor.
            actor_id(actor);
            /// Only events at or after this RFC 3339 time.
            from(at);
            /// Only events at or before this RFC 3339 time.
            to(at);
        }
    };
}

/// One event of the audit chain, as `GET /v1-audit/events` returns it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct AuditEvent {
    /// The event id.
    pub id: String,
    /// The organization.
    #[serde(default)]
    pub org_id: Option<String>,
    /// Position in the chain, from 1.
    #[serde(default)]
    pub sequence: Option<u64>,
    /// `evaluate.allow`, `evaluate.deny`, `permit.verified`, …
    #[serde(rename = "type", default)]
    pub event_type: Option<String>,
    /// `allow` / `deny` for decisions.
    #[serde(default)]
    pub decision: Option<String>,
    /// The agent (actor) concerned.
    #[serde(default)]
    pub actor_id: Option<String>,
    /// What kind of resource (`action`).
    #[serde(default)]
    pub resource_type: Option<String>,
    /// The resource (the action).
    #[serde(default)]
    pub resource_id: Option<String>,
    /// The hashed payload.
    pub payload: serde_json::Value,
    /// SHA-256 of previous hash + canonical payload.
    pub hash: String,
    /// The prior event's hash (genesis for the first).
    pub previous_hash: String,
    /// When it happened.
    #[serde(default)]
    pub occurred_at: Option<String>,
    /// When it was stored.
    #[serde(default)]
    pub created_at: Option<String>,
}

/// Filters and paging of [`Client::list_audit_events`]. Every filter is
/// optional; build with the setters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditEventQuery {
    /// Only these event types.
    pub types: Vec<String>,
    /// Only events of this actor.
    pub actor_id: Option<String>,
    /// Only events at or after this RFC 3339 time.
    pub from: Option<String>,
    /// Only events at or before this RFC 3339 time.
    pub to: Option<String>,
    /// Page size (server default 50, at most 500).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl AuditEventQuery {
    /// All events, first page.
    pub fn new() -> Self {
        Self::default()
    }
    /// Only these event types.
    pub fn types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, types: I) -> Self {
        self.types = types.into_iter().map(Into::into).collect();
        self
    }
    time_and_actor_setters!(paging;);

    fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if !self.types.is_empty() {
            q.push(("types", self.types.join(",")));
        }
        let optional = [
            ("actor_id", &self.actor_id),
            ("from", &self.from),
            ("to", &self.to),
            ("cursor", &self.cursor),
        ];
        for (name, value) in optional {
            if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
                q.push((name, v.clone()));
            }
        }
        if let Some(limit) = self.limit {
            q.push(("limit", limit.to_string()));
        }
        q
    }
}

/// One page of [`Client::list_audit_events`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AuditEventsPage {
    /// The events, in chain order.
    pub events: Vec<AuditEvent>,
    /// How many events match the filter in all.
    pub total: u64,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
    /// The `X-Request-ID` of the request.
    pub request_id: String,
    /// Rate-limit state from the reply's headers.
    pub rate_limit: Option<RateLimit>,
}

impl Paged for AuditEventQuery {
    type Item = AuditEvent;
    type Page = AuditEventsPage;
    const EMPTY_PAGE_ENDS: bool = false;
    fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }
    fn set_cursor(&mut self, cursor: String) {
        self.cursor = Some(cursor);
    }
    fn split(page: AuditEventsPage) -> (Vec<AuditEvent>, Option<String>) {
        (page.events, page.next_cursor)
    }
}

/// Filters of [`Client::create_audit_export`]; empty exports everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ExportFilter {
    /// Only these event types (sent comma-joined, as Python does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub types: Option<String>,
    /// Only events of this actor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// Only events at or after this RFC 3339 time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Only events at or before this RFC 3339 time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl ExportFilter {
    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }
    /// Only these event types.
    pub fn types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, types: I) -> Self {
        let joined: Vec<String> = types.into_iter().map(Into::into).collect();
        self.types = Some(joined.join(","));
        self
    }
    time_and_actor_setters!();
}

/// A signed audit export, kept exactly as received: key order, number text
/// and whitespace are untouched, so saving and reloading it never breaks its
/// signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBundle {
    text: String,
    /// Read once from the text when the bundle is built.
    export_id: String,
    event_count: usize,
}

impl AuditBundle {
    /// A bundle from its JSON text; fails unless it has the fields every
    /// bundle has (`export_id`, `chain_head_hash`, `events`, …).
    /// A member name repeated in any object is
    /// [`BundleError::DuplicateMember`].
    pub fn from_json(text: impl Into<String>) -> Result<AuditBundle, BundleError> {
        Self::checked(text.into())
    }

    /// Check the fields every bundle has, in one streaming pass (one event's
    /// tree alive at a time), and keep what the accessors report.
    fn checked(text: String) -> Result<AuditBundle, BundleError> {
        use super::json::{key_is, Value};
        const REQUIRED: [&str; 3] = ["export_id", "chain_head_hash", "signature"];
        let mut strings: Vec<(&str, Option<String>)> = Vec::new();
        let mut non_array_events = false;
        let events = scan_bundle_text(&text, |key, value| {
            if key_is(key, "events") {
                non_array_events = true;
            } else if let Some(name) = REQUIRED.into_iter().find(|name| key_is(key, name)) {
                let string = match value {
                    Value::String(_) => value.as_str().map(|s| s.into_owned()),
                    _ => None,
                };
                strings.push((name, string));
            }
        })?;
        let shape = |why: &str| Err(BundleError::Shape(why.to_owned()));
        let event_count = match events {
            None if non_array_events => return shape("field `events` must be an array"),
            None => return shape("required field `events` is missing"),
            Some(count) => count,
        };
        let mut export_id = String::new();
        for name in REQUIRED {
            match strings.iter().find(|(k, _)| *k == name) {
                None => return shape(&format!("required field `{name}` is missing")),
                Some((_, None)) => return shape(&format!("field `{name}` must be a string")),
                Some((_, Some(value))) if name == "export_id" => export_id.clone_from(value),
                Some(_) => {}
            }
        }
        Ok(AuditBundle {
            text,
            export_id,
            event_count,
        })
    }

    /// Read a saved bundle.
    pub fn load(path: impl AsRef<Path>) -> Result<AuditBundle, BundleError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| BundleError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(text)
    }

    /// Write the bundle, byte for byte as received.
    pub fn save(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.text.as_bytes())
    }

    /// The JSON text as received.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The JSON text as received.
    pub fn into_string(self) -> String {
        self.text
    }

    /// The `export_id`.
    pub fn export_id(&self) -> &str {
        &self.export_id
    }

    /// The number of events in the bundle.
    pub fn event_count(&self) -> usize {
        self.event_count
    }

    /// Verify the bundle offline ([`verify_audit_bundle`]).
    pub fn verify(&self, keys: &[VerifyingKey]) -> Result<BundleVerification, BundleError> {
        verify_audit_bundle(&self.text, keys)
    }

    /// Verify a saved bundle offline without loading it: streamed from the
    /// file in bounded memory ([`verify_audit_bundle_file`]). The same
    /// checks as [`load`](Self::load) then [`verify`](Self::verify).
    pub fn verify_file(
        path: impl AsRef<Path>,
        keys: &[VerifyingKey],
    ) -> Result<BundleVerification, BundleError> {
        verify_audit_bundle_file(path, keys)
    }
}

impl Client {
    /// One page of the audit log (`GET /v1-audit/events`).
    pub async fn list_audit_events(
        &self,
        query: &AuditEventQuery,
    ) -> Result<AuditEventsPage, Error> {
        let span = tracing::info_span!(
            "atlasent.list_audit_events",
            request_id = tracing::field::Empty
        );
        async {
            let reply = self
                .transport()
                .send::<AuditEventsResponse>(Endpoint::AuditEvents, None, &query.to_query())
                .await?;
            Ok(AuditEventsPage {
                events: reply.body.events,
                total: reply.body.total,
                next_cursor: reply.body.next_cursor.filter(|c| !c.is_empty()),
                request_id: reply.request_id,
                rate_limit: reply.rate_limit,
            })
        }
        .instrument(span)
        .await
    }

    /// Every event matching `query`, walking all pages from its cursor on.
    /// The stream ends after the last page, or after yielding the first error.
    pub fn audit_events(
        &self,
        query: AuditEventQuery,
    ) -> impl Stream<Item = Result<AuditEvent, Error>> + Send + 'static {
        let client = self.clone();
        paging::stream(query, move |query| {
            let client = client.clone();
            async move { client.list_audit_events(&query).await }
        })
    }

    /// The keys exports may be signed with (`GET /v1-signing-keys`), each
    /// under its registry id; retired keys are skipped. Fetch them over a
    /// channel you trust: they are what makes a bundle's signature mean
    /// anything.
    pub async fn signing_keys(&self) -> Result<Vec<VerifyingKey>, Error> {
        let span = tracing::info_span!("atlasent.signing_keys", request_id = tracing::field::Empty);
        async {
            let reply = self
                .transport()
                .send::<SigningKeysResponse>(Endpoint::SigningKeys, None, &[])
                .await?;
            reply
                .body
                .keys
                .into_iter()
                .filter(|k| k.status.as_deref().is_none_or(|s| s == "active"))
                .map(|k| {
                    VerifyingKey::from_spki_pem(&k.public_key_pem)
                        .map(|key| key.with_id(k.key_id))
                        .map_err(|e| {
                            Error::from(RequestError::new(
                                ErrorCode::BadResponse,
                                format!("malformed /v1-signing-keys reply: {e}"),
                            ))
                        })
                })
                .collect()
        }
        .instrument(span)
        .await
    }

    /// Request a signed export (`POST /v1-audit/exports`). The bundle is
    /// returned exactly as received; verify it with [`AuditBundle::verify`]
    /// and the keys of `GET /v1-signing-keys`.
    pub async fn create_audit_export(&self, filter: &ExportFilter) -> Result<AuditBundle, Error> {
        let span = tracing::info_span!(
            "atlasent.create_audit_export",
            request_id = tracing::field::Empty
        );
        async {
            let body = serde_json::to_vec(filter).map_err(|e| {
                Error::invalid(format!("export filter could not be serialized: {e}"))
            })?;
            let reply = self
                .transport()
                .send_with(Endpoint::AuditExports, Some(body), &[], |bytes| {
                    let text = std::str::from_utf8(bytes).map_err(|_| {
                        RequestError::new(
                            ErrorCode::BadResponse,
                            "malformed /v1-audit/exports reply: not UTF-8",
                        )
                    })?;
                    AuditBundle::checked(text.to_owned()).map_err(|why| {
                        RequestError::new(
                            ErrorCode::BadResponse,
                            format!("malformed /v1-audit/exports reply: {why}"),
                        )
                    })
                })
                .await?;
            Ok(reply.body)
        }
        .instrument(span)
        .await
    }
}
