//! `atlasent-server`: a local, AtlaSent-compatible decision server.
//!
//! It is a server, not a mock: policies decide, permits are signed, bound to
//! agent, action and context, expiring, single-use and revocable, and every
//! decision lands durably in a hash-chained audit log (SQLite, WAL, group
//! commit) before its reply is sent. The published Python SDKs (1.4.1 and
//! 2.x) and the `atlasent` crate all work against it unchanged.
//!
//! Start one in-process, on an ephemeral port, instead of mocking:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = atlasent_server::Server::builder()
//!     .policy_file("policies/finance.json")
//!     .api_key("ask_local_demo")
//!     .start()
//!     .await?;
//! let client = atlasent::Client::builder()
//!     .api_key("ask_local_demo")
//!     .base_url(server.base_url())
//!     .build()?;
//! // ... use client ...
//! server.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! Endpoints: `POST /v1-evaluate`, `POST /v1-verify-permit`,
//! `POST /v1-revoke-permit`, `GET /v1-api-key-self`, `GET /v1-audit/events`,
//! `POST /v1-audit/exports`, `GET /v1-signing-keys`, `GET /health`, and the
//! permits by id: `GET /v1/permits`, `GET /v1/permits/{id}`,
//! `POST /v1/permits/{id}/verify`, `POST /v1/permits/{id}/revoke`.
//! See [`policy`] for the policy language (every field, matcher, effect and
//! limit, how policies combine), [`engine`] for decisions and the permit's
//! state machine, and [`store`] for storage.
//! [`testing::assert_policies_cover`] checks in a test that the policies can
//! allow every action the program guards (its `#[atlasent::action]` types
//! and literal `#[atlasent::protect]` actions) and that each typed context
//! has the keys the rules need; `atlasent-server lint --actions FILE` does
//! the same from a manifest, for a CI job without Rust.
//!
//! # Layout
//!
//! Three rooms, each knowing only the one below it:
//!
//! - `http` (private): the axum router (paths from
//!   [`atlasent::wire::paths`]), the request-id layer, the extractors that
//!   authenticate a caller (key, scope, rate limit) and read its body, one
//!   error type with one `IntoResponse`, and handlers of a few lines.
//! - [`engine`]: decisions (policies, the approval downgrade, the signed
//!   claims) and the permit's state machine as pure functions
//!   ([`engine::verify::check`]), reply bodies from the [`atlasent::wire`]
//!   types, time from the [`clock::Clock`] it is given. No SQL, no HTTP.
//! - [`store`]: the [`store::Store`] trait (write jobs run once per request
//!   id inside one transaction, answered only when durable; event, export
//!   and permit reads) and its implementations: SQLite with a single writer
//!   and group commit (the default), and PostgreSQL (the `postgres`
//!   feature), on which several server processes act as one.
//!
//! The contract — bodies, paths, limits, outcome spellings — is defined
//! once, in [`atlasent::wire`], and shared with the SDK.
//!
//! # Features
//!
//! - `cli` (default): the `atlasent-server` binary (`serve`, `lint`,
//!   `audit verify`) and what only it needs: `clap`, `tracing-subscriber`,
//!   tokio's signal handling. A crate that embeds the server (in its tests,
//!   say) can leave it out:
//!   `atlasent-server = { version = "0.1", default-features = false }`.
//! - `postgres`: the PostgreSQL store ([`Storage::Postgres`],
//!   `serve --db postgres://USER@HOST:PORT/DB`): several server processes on
//!   one database share permits, stored replies and one audit chain per
//!   organization (`store::PostgresStore` says how). Its dependencies:
//!   `tokio-postgres`, `deadpool-postgres`.
//!
//! # Two wires
//!
//! `/v1-evaluate` and `/v1-verify-permit` speak two request shapes and
//! answer each in its own. The *current* shape (Python `atlasent` 2.x) is a
//! body with `action_type` or `actor_id` (verify: `permit_token`, or
//! `action_type`, `actor_id`, `execution_hash`); the *legacy* shape (1.4.1)
//! one with `action`, `agent`, `api_key` or `decision_id` (verify also
//! `context`). A body with members of both is a `400` naming one of each; a
//! body of neither is read as legacy. A permit issued through one shape
//! verifies through the other: every evaluation records the context's hash
//! and the current wire's `execution_hash` of `{action_type, actor_id,
//! context}` (the context as sent, with the current evaluate's top-level
//! members merged in, below).
//!
//! Current evaluate: `{action_type, actor_id, context?}` plus optional
//! `resource_id`, `amount`, `environment` (joined to the context as keys of
//! those names; given both ways with different values is a `422`),
//! `require_approval` (an allow becomes a deny with code
//! `INSUFFICIENT_APPROVALS`: this server has no approval workflow), and
//! `approval`, `resource`, `current_state`, `proposed_state`,
//! `execution_binding`, `state_snapshot`, `completion_proofs`,
//! `evaluation_profile`, `explain`, whose types are checked and whose
//! values are not evaluated. `override` is refused (it could only weaken a
//! decision). The reply:
//!
//! ```text
//! allow: {"decision":"allow","permit_token":"dec_…","evaluation_id":"dec_…","expires_at":"…",
//!         "reasons":["…"],"request_id":"…","audit_hash":"…","timestamp":"…"}
//! else:  {"decision":"deny"|"hold"|"escalate","evaluation_id":"dec_…",
//!         "denial":{"reason":"…","code":"DENY_POLICY"},"reasons":["…"],"request_id":"…",
//!         "audit_hash":"…","timestamp":"…"} (+ "escalation_id":"esc_…" on hold and escalate)
//! ```
//!
//! Top-level `environment`, `resource_id` and `amount` are part of what the
//! permit is bound to: the policies read the context with them merged in,
//! and the permit's `context_hash` and `execution_hash` (its record's
//! `payload_hash`) cover that merged context, which the evaluate event
//! describes (its payload's `top_level` records them as sent). Verify with
//! the context that includes them: an `execution_hash` of the bare context,
//! or a legacy verify's bare `context`, is a mismatch. The permit records
//! the environment: the top-level one, else the context's (on both wires);
//! either is at most 256 characters without U+0000, else a `422` naming it.
//!
//! Hold and escalate issue no permit (a legacy request gets
//! `permitted: false`); their `escalation_id` is logged. The legacy allow
//! reply gains `expires_at`.
//!
//! Current verify: `{permit_token, action_type?, actor_id?, environment?,
//! execution_hash?, require_approval?}` (`""` skips the actor and action
//! checks; `execution_hash` is 64 lowercase hex digits). The reply is
//! `{valid, outcome, reason, consumed, permit_token, expires_at,
//! permit_hash, audit_hash, timestamp, request_id}` plus `verify_error_code`
//! when not valid. `consumed` says whether this call used the permit up.
//!
//! | check, in order | current `outcome` / `verify_error_code` | legacy `outcome` |
//! |---|---|---|
//! | no permit of the caller's organization by that id | `permit_not_found` / `PERMIT_NOT_FOUND` | `not_found` (`denied` for the id of a decision that issued no permit) |
//! | revoked | `permit_revoked` / `PERMIT_REVOKED` | `revoked` |
//! | used before, through either door | `permit_consumed` / `PERMIT_CONSUMED` | `consumed` |
//! | expired | `permit_expired` / `PERMIT_EXPIRED` | `expired` |
//! | actor, action, environment, execution hash (legacy: context) differ | `permit_mismatch` / `ACTOR_MISMATCH`, `ACTION_MISMATCH`, `ENVIRONMENT_MISMATCH`, `EXECUTION_HASH_MISMATCH` | `mismatch` |
//! | `require_approval: true` | `approval_missing` / `APPROVAL_LINKAGE_MISSING`, and the permit is burned (`consumed: true`) | — |
//! | none of the above | `verified`: valid, and now used | `verified` |
//!
//! A mismatch leaves the permit usable for its rightful holder. A permit
//! issued without an environment mismatches any environment asked for, and
//! one issued before schema 3 (no execution hash) mismatches any execution
//! hash (fail closed); it still verifies through the legacy shape.
//!
//! # Permits by id
//!
//! Only allow decisions are permits; the records are the caller's
//! organization's, and anything else (an unknown id, another
//! organization's permit, a deny, hold or escalate) is a `404`
//! `{"message":"permit not found","code":"permit_not_found"}`.
//!
//! - A record: `{id, org_id, actor_id, action_id, environment, status,
//!   issued_at, expires_at, consumed_at, verified_at, revoked_at, revoked_by,
//!   revoke_reason, signature, payload_hash, decision_id}`. `status` is
//!   `issued`, `expired` (unused past its expiry), `consumed` (used through
//!   `/v1-verify-permit`), `verified` (used through
//!   `/v1/permits/{id}/verify`) or `revoked`. `signature` is the permit's
//!   `permit_hash`, `payload_hash` its execution hash, `revoked_by` the id of
//!   the revoking key.
//! - `GET /v1/permits?status&actor_id&action_type&from&to&limit&cursor` →
//!   `{permits, total, next_cursor}`, newest first; `limit` 1 to 200
//!   (default 50), `from`/`to` RFC 3339 bounds on `issued_at`, `cursor`
//!   opaque; `total` counts every match.
//! - Reading and listing records (`GET /v1/permits`, `GET
//!   /v1/permits/{id}`) needs the `verify` scope, like verifying one: a
//!   permit id is a bearer token within its organization for keys with the
//!   `verify` scope, and only such keys can list them. An auditor's key
//!   (`audit.read`) gets `403` on all four permit endpoints.
//! - `POST /v1/permits/{id}/verify` (body `{}` or empty): the record plus
//!   `{valid, verification_type: "permit", reason, verified_at, evidence}`.
//!   Valid only for an `issued` permit, which is then used: a permit is used
//!   at most once, through whichever door comes first.
//! - `POST /v1/permits/{id}/revoke` (body `{"reason"?}`): the updated record;
//!   revoking a revoked permit changes nothing, a used one is `409`
//!   `permit_consumed`.
//!
//! `GET /v1-api-key-self` sends the key's organization as both `org_id`
//! (2.x) and `organization_id` (1.4.1), and `environment`: `live` for an
//! `ask_live_…` key, `test` for `ask_test_…`, else `local`.
//!
//! # Choices the contract leaves open
//!
//! - Verify outcomes are the table above.
//! - A request retried with the same `X-Request-ID` (per API key and
//!   endpoint) *and the same body* (compared by the SHA-256 of its canonical
//!   JSON; for the permit-by-id POSTs, of the body and the path's id) gets
//!   the first reply again and appends no second event; the same id with a
//!   different body (or another permit) is `409` (`bad_request`), never a
//!   decision. Replies are kept 24 hours; a `404` or `409` is not a reply
//!   and is not kept. The writer deletes the replies older than that once a
//!   second (after its first batch a second or more after the last
//!   pruning; an idle server at its next write), so the stored replies hold
//!   about a day of traffic. A reply dated more than a minute ahead of the
//!   clock (written while the clock was ahead) goes with the older ones
//!   rather than hold their pruning back; a retry of its request id is then
//!   decided afresh.
//! - What grows without bound: the audit chain (one event per decision,
//!   verify and revoke — by design, it is the record) and the permits table
//!   (one row per decision, allow or not). Nothing deletes either. To
//!   rotate, export the chain (`POST /v1-audit/exports`, signed; up to
//!   [`max_export_events`](ServerBuilder::max_export_events) per export,
//!   narrowed by time with `from`/`to`), check it offline with
//!   `atlasent-server audit verify`, keep the export and the old database
//!   file as the archive, and start the server on a new file: its chains
//!   start again at the genesis hash, and permits of the old file no longer
//!   verify (let them expire first).
//! - Audit payloads carry a SHA-256 of the context's canonical JSON, never
//!   the context itself: the log proves what was decided without copying
//!   patient records or account numbers into it. Everything else an auditor
//!   reads of an event (`id`, `org_id`, `sequence`, `type`, `decision`,
//!   `actor_id`, `resource_type`, `resource_id`, `occurred_at`) is repeated
//!   inside the hashed payload, so no field outside the chain can be changed
//!   unnoticed. Events: `evaluate.allow`, `evaluate.deny`, `evaluate.hold`,
//!   `evaluate.escalate` (payload: the context hash and execution hash, the
//!   environment, `code`, `escalation_id`, the request's `shape`, and
//!   `top_level`: the current evaluate's top-level `environment`,
//!   `resource_id` and `amount` as sent, when any is),
//!   `permit.verified`, `permit.rejected` and `permit.revoked` (`via` is
//!   `by_id` for the permit-by-id endpoints, `verify` for
//!   `/v1-verify-permit`). A by-id request answered `404` or `409` appends
//!   nothing.
//! - Exports cover the events matching the filter. Only an unfiltered export
//!   (or one whose filter selects a prefix of the chain) starts at the
//!   genesis hash and verifies as a whole chain. One export holds at most
//!   [`max_export_events`](ServerBuilder::max_export_events) events (default
//!   100,000); listings and exports of a database file read on their own
//!   connections and never hold up decisions.
//!
//! Security choices (see `SECURITY.md` in the repository):
//! - Authentication comes before parsing: a request without a valid key gets
//!   the same `401` whatever its body holds. With an `Authorization` header
//!   the key is checked before the body is read; a body-only key (`api_key`,
//!   the 1.4.1 wire) is looked for in a body read within the size limit.
//!   Failed authentications are counted per client address; past
//!   [`auth_failures_per_minute`](ServerBuilder::auth_failures_per_minute)
//!   every request from that address is `429` with `Retry-After` until the
//!   minute ends (a right guess then learns nothing either).
//! - Keys belong to organizations and carry scopes. Each organization has
//!   its own hash chain, permits and exports; a key of another organization
//!   gets `not_found` for a permit it did not issue, exactly as for an id
//!   that does not exist. Keys come from a keys file
//!   ([`keys_file`](ServerBuilder::keys_file); `--keys-file` or
//!   `ATLASENT_SERVER_KEYS_FILE`), `ATLASENT_SERVER_API_KEYS`, or `--api-key`
//!   (argv is visible to every local user through `ps`: local use only).
//! - The database (and SQLite's `-wal` and `-shm` files) is created mode
//!   0600; a signing key or a keys file holding plaintext keys that group or
//!   others can read is refused unless
//!   [`allow_insecure_key_file`](ServerBuilder::allow_insecure_key_file).
//! - Every numeric setting has a range ([`limits`]); a value outside it is
//!   refused, naming the setting and the range.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod clock;
pub mod engine;
mod http;
pub mod keys;
pub mod policy;
pub mod store;
pub mod testing;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use engine::Storage;
pub use keys::Signer;
pub use policy::{Policy, PolicySet};

/// A server that could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A policy could not be loaded.
    #[error(transparent)]
    Policy(#[from] policy::PolicyError),
    /// The signing key could not be loaded or created.
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    /// An API key or keys file is unusable.
    #[error(transparent)]
    Keys(#[from] keys::KeysError),
    /// The store could not be opened.
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    /// The listener could not be bound or served.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
}

enum SigningKeySource {
    Generate,
    File(PathBuf),
    Given(Arc<Signer>),
}

/// The ranges every numeric setting must fall in (builder and flags
/// alike), and the contract's limits ([`atlasent::wire::limits`], which
/// requests are checked against).
pub mod limits {
    use std::ops::RangeInclusive;
    use std::time::Duration;

    pub use atlasent::wire::limits::*;

    /// How long a permit may stay verifiable: one millisecond (for tests of
    /// expiry) to 30 days.
    pub const PERMIT_TTL: RangeInclusive<Duration> =
        Duration::from_millis(1)..=Duration::from_secs(30 * 86_400);
    /// Requests per minute per API key.
    pub const RATE_LIMIT_PER_MINUTE: RangeInclusive<u32> = 1..=1_000_000;
    /// Failed authentications per minute per client address before 429.
    pub const AUTH_FAILURES_PER_MINUTE: RangeInclusive<u32> = 1..=1_000_000;
    /// The largest request body accepted: 1 KiB to 16 MiB (the contract's
    /// [`MAX_BODY_BYTES_RANGE`]).
    pub const MAX_BODY_BYTES: RangeInclusive<usize> = MAX_BODY_BYTES_RANGE;
    /// The most events in one export.
    pub const MAX_EXPORT_EVENTS: RangeInclusive<usize> = 1..=10_000_000;
}

/// One accepted API key: the key (or the SHA-256 of it), its organization
/// and its scopes.
enum KeySource {
    Key {
        key: String,
        org: Option<String>,
        scopes: &'static [&'static str],
    },
    File(PathBuf),
}

/// Builds a [`Server`]. Defaults: listen on `127.0.0.1:0`, in-memory store,
/// a fresh signing key, organization `local`, permits valid for one hour,
/// 600 requests per minute per key, 30 failed authentications per minute per
/// client address, 64 KiB request bodies, 100,000 events per export.
#[must_use = "a builder does nothing until .start() is called"]
pub struct ServerBuilder {
    listen: String,
    policies: Vec<Policy>,
    policy_paths: Vec<PathBuf>,
    keys: Vec<KeySource>,
    storage: Storage,
    signing_key: SigningKeySource,
    allow_insecure_key_file: bool,
    permit_ttl: Duration,
    rate_limit_per_minute: u32,
    auth_failures_per_minute: u32,
    org_id: String,
    max_body_bytes: usize,
    max_export_events: usize,
    clock: clock::Clock,
}

/// The server: see [`Server::builder`].
pub struct Server;

impl Server {
    /// A builder with the defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            listen: "127.0.0.1:0".into(),
            policies: Vec::new(),
            policy_paths: Vec::new(),
            keys: Vec::new(),
            storage: Storage::Memory,
            signing_key: SigningKeySource::Generate,
            allow_insecure_key_file: false,
            permit_ttl: Duration::from_secs(3600),
            rate_limit_per_minute: 600,
            auth_failures_per_minute: 30,
            org_id: "local".into(),
            max_body_bytes: limits::DEFAULT_MAX_BODY_BYTES,
            max_export_events: engine::DEFAULT_MAX_EXPORT_EVENTS,
            clock: clock::Clock::system(),
        }
    }
}

impl ServerBuilder {
    /// The address to listen on (`127.0.0.1:0` picks a free port).
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = addr.into();
        self
    }

    /// Load a policy file, or every `*.json` file of a folder.
    pub fn policy_file(mut self, path: impl AsRef<Path>) -> Self {
        self.policy_paths.push(path.as_ref().to_owned());
        self
    }

    /// Add a compiled policy.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policies.push(policy);
        self
    }

    /// Accept an API key of the default organization ([`org_id`](Self::org_id))
    /// with every scope (call once per key; at least one key is required).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.keys.push(KeySource::Key {
            key: key.into(),
            org: None,
            scopes: keys::ALL_SCOPES,
        });
        self
    }

    /// Accept an API key of organization `org` with every scope: it sees,
    /// verifies and revokes only that organization's permits and events.
    pub fn org_api_key(mut self, org: impl Into<String>, key: impl Into<String>) -> Self {
        self.keys.push(KeySource::Key {
            key: key.into(),
            org: Some(org.into()),
            scopes: keys::ALL_SCOPES,
        });
        self
    }

    /// Accept an auditor's key of the default organization: it may list and
    /// export the audit log (`audit.read`, `audit.export`) and nothing else;
    /// decisions answer 403.
    pub fn audit_key(mut self, key: impl Into<String>) -> Self {
        self.keys.push(KeySource::Key {
            key: key.into(),
            org: None,
            scopes: keys::AUDIT_SCOPES,
        });
        self
    }

    /// Accept every key of a keys file (TOML or JSON; see
    /// [`ApiKeys::load_file`](keys::ApiKeys::load_file)): each key belongs to
    /// one organization and has scopes. Keeps keys out of the command line,
    /// where `ps` shows them to every local user.
    pub fn keys_file(mut self, path: impl AsRef<Path>) -> Self {
        self.keys.push(KeySource::File(path.as_ref().to_owned()));
        self
    }

    /// Load the Ed25519 signing key from a PKCS#8 PEM file, creating it if absent.
    pub fn signing_key_file(mut self, path: impl AsRef<Path>) -> Self {
        self.signing_key = SigningKeySource::File(path.as_ref().to_owned());
        self
    }

    /// Use this signing key.
    pub fn signer(mut self, signer: Arc<Signer>) -> Self {
        self.signing_key = SigningKeySource::Given(signer);
        self
    }

    /// The organization of keys given without one ([`api_key`](Self::api_key),
    /// [`audit_key`](Self::audit_key)), and of the events of a database
    /// written before organizations existed (default `local`).
    pub fn org_id(mut self, org_id: impl Into<String>) -> Self {
        self.org_id = org_id.into();
        self
    }

    /// Load everything, bind, and serve in the background on the current
    /// tokio runtime.
    pub async fn start(self) -> Result<RunningServer, ServerError> {
        let listen = self.listen.clone();
        let (app, signer) = self.build()?;
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|source| ServerError::Io {
                context: format!("cannot listen on {listen}"),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Io {
            context: "cannot read the listening address".into(),
            source,
        })?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
        });
        Ok(RunningServer {
            addr,
            signer,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    /// The server as an [`axum::Router`] with no listener: the same engine,
    /// store and handlers as [`start`](Self::start), for driving requests
    /// in-process (`tower::ServiceExt::oneshot`) in tests and fuzzing. The
    /// store is flushed and closed when the router (and every clone) drops.
    pub fn into_router(self) -> Result<axum::Router, ServerError> {
        self.build().map(|(app, _)| app)
    }

    fn build(self) -> Result<(axum::Router, Arc<Signer>), ServerError> {
        self.check_ranges()?;
        if self.keys.is_empty() {
            return Err(ServerError::Config(
                "no API key: give at least one (api_key, keys_file; on the command line --api-key, --keys-file or ATLASENT_SERVER_API_KEYS)".into(),
            ));
        }
        let mut policies = self.policies;
        for path in &self.policy_paths {
            policies.extend(Policy::load(path)?);
        }
        let policies = Arc::new(PolicySet::new(policies)?);
        let signer = match self.signing_key {
            SigningKeySource::Generate => Arc::new(Signer::generate()?),
            SigningKeySource::File(path) => {
                Arc::new(Signer::load_or_create(&path, self.allow_insecure_key_file)?)
            }
            SigningKeySource::Given(s) => s,
        };
        let mut keys = keys::ApiKeys::default();
        for source in &self.keys {
            match source {
                KeySource::Key { key, org, scopes } => {
                    let org = org.as_deref().unwrap_or(&self.org_id);
                    keys.insert_with_scopes(key, org, scopes)?
                }
                KeySource::File(path) => keys.load_file(path, self.allow_insecure_key_file)?,
            }
        }
        let engine = engine::Engine::open(
            engine::EngineConfig {
                storage: self.storage,
                permit_ttl: self.permit_ttl,
                org_id: self.org_id,
                max_export_events: self.max_export_events,
                clock: self.clock,
            },
            policies,
            Arc::clone(&signer),
        )?;
        let state = Arc::new(http::AppState {
            engine,
            keys,
            limiter: http::RateLimiter::new(self.rate_limit_per_minute),
            auth_failures: http::RateLimiter::new(self.auth_failures_per_minute),
            max_body_bytes: self.max_body_bytes,
        });
        Ok((http::router(state), signer))
    }
}

/// Builder setters that store their argument in the field of their name.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        impl ServerBuilder {
            $(
                $(#[$doc])*
                pub fn $name(mut self, $name: $ty) -> Self {
                    self.$name = $name;
                    self
                }
            )*
        }
    };
}

setters! {
    /// Accept a signing-key or keys file that group or others may read
    /// (refused by default).
    allow_insecure_key_file: bool;
    /// Where to keep the audit log and permits (default in memory).
    storage: Storage;
    /// How long a permit stays verifiable (default 1 hour).
    permit_ttl: Duration;
    /// Requests per minute per API key before 429 (default 600).
    rate_limit_per_minute: u32;
    /// Failed authentications per minute from one client address before
    /// every request from it answers 429 for the rest of the minute
    /// (default 30).
    auth_failures_per_minute: u32;
    /// The largest request body accepted (default 64 KiB); larger is 413.
    max_body_bytes: usize;
    /// The clock decisions and expiry read (default: the system clock). A
    /// [`Clock::manual`](clock::Clock::manual) clock lets a test expire
    /// permits without sleeping.
    clock: clock::Clock;
    /// The most events one export may hold (default 100,000); a larger
    /// export is refused with a message saying how to narrow it.
    max_export_events: usize;
}

impl ServerBuilder {
    fn check_ranges(&self) -> Result<(), ServerError> {
        fn check<T: PartialOrd + std::fmt::Debug>(
            name: &str,
            value: T,
            range: std::ops::RangeInclusive<T>,
        ) -> Result<(), ServerError> {
            if range.contains(&value) {
                Ok(())
            } else {
                Err(ServerError::Config(format!(
                    "{name} must be from {:?} to {:?}, got {value:?}",
                    range.start(),
                    range.end()
                )))
            }
        }
        check("permit_ttl", self.permit_ttl, limits::PERMIT_TTL)?;
        check(
            "rate_limit_per_minute",
            self.rate_limit_per_minute,
            limits::RATE_LIMIT_PER_MINUTE,
        )?;
        check(
            "auth_failures_per_minute",
            self.auth_failures_per_minute,
            limits::AUTH_FAILURES_PER_MINUTE,
        )?;
        check(
            "max_body_bytes",
            self.max_body_bytes,
            limits::MAX_BODY_BYTES,
        )?;
        check(
            "max_export_events",
            self.max_export_events,
            limits::MAX_EXPORT_EVENTS,
        )?;
        if !keys::valid_org_id(&self.org_id) {
            return Err(ServerError::Config(format!(
                "org_id {:?} must be 1 to {} characters of letters, digits, _ - .",
                self.org_id,
                keys::MAX_ORG_ID_CHARS
            )));
        }
        Ok(())
    }
}

/// A server serving in the background. Dropping it stops it; call
/// [`shutdown`](RunningServer::shutdown) to wait until the log is flushed.
pub struct RunningServer {
    addr: SocketAddr,
    signer: Arc<Signer>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// `http://HOST:PORT`, to give to a client as its base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The public key exports are signed with, as SPKI PEM.
    pub fn public_key_pem(&self) -> &str {
        self.signer.public_key_pem()
    }

    /// The id of the signing key (`signing_key_id` in exports).
    pub fn signing_key_id(&self) -> &str {
        self.signer.key_id()
    }

    /// Stop accepting, finish in-flight requests, flush the log and return.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let served = task.await.map_err(|e| ServerError::Io {
                context: "the server task failed".into(),
                source: std::io::Error::other(e.to_string()),
            })?;
            served.map_err(|source| ServerError::Io {
                context: "serving failed".into(),
                source,
            })?;
        }
        Ok(())
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
