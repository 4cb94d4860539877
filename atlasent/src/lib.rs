//! Execution-time authorization for AI agents: the Rust SDK for the
//! [AtlaSent](https://atlasent.io) API.
//!
//! Before an agent deploys to production, wires money or edits a patient
//! record, it asks AtlaSent. The action runs only with a verified [`Permit`]
//! in hand: the SDK is **fail-closed by construction**.
//!
//! # Quickstart
//!
//! ```no_run
//! use serde_json::json;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), atlasent::Error> {
//!     // Reads ATLASENT_API_KEY (and ATLASENT_BASE_URL, ATLASENT_WIRE, if set).
//!     let client = atlasent::Client::from_env()?;
//!
//!     // Evaluate + verify. Any deny, hold, failed verification, timeout, 5xx
//!     // or malformed reply is an Err: there is no "denied" value to forget.
//!     let permit = client
//!         .protect("deploy-bot", "deploy_to_production", &json!({ "commit": "abc123" }))
//!         .await?;
//!
//!     println!("authorized: {permit} (audit {})", permit.audit_hash());
//!     Ok(())
//! }
//! ```
//!
//! # Guarding a function
//!
//! With the `macros` feature (default), `#[atlasent::protect]` makes the
//! compiler enforce the permit: the function declares a `Permit` parameter,
//! callers never pass it, and the body cannot run without a verified one.
//!
//! ```no_run
//! use atlasent::Permit;
//!
//! #[atlasent::protect(action = "wire_transfer", agent = "finance-agent",
//!                     context = serde_json::json!({ "amount_usd": amount }))]
//! async fn wire(amount: u64, permit: &Permit) -> Result<(), atlasent::Error> {
//!     println!("wiring {amount} under {}", permit.permit_id());
//!     Ok(())
//! }
//! # async fn run() -> Result<(), atlasent::Error> { wire(250).await }
//! ```
//!
//! See [`macro@protect`] for every option and what it expands to.
//!
//! # Actions as types
//!
//! A permit for `read_logs` should not open `deploy_to_production`, and a
//! misspelt action or context key should not wait for production to turn
//! into a deny. Declare the action as a type and the compiler checks both:
//!
//! ```no_run
//! use atlasent::Permit;
//!
//! #[derive(Default, serde::Serialize)]
//! struct WireContext { amount_usd: u64, memo: String }
//!
//! #[atlasent::action("wire_transfer", context = WireContext)]
//! struct WireTransfer;
//!
//! #[atlasent::protect(action = WireTransfer, agent = "finance-agent",
//!                     context = WireContext { amount_usd: amount, memo: memo.into() })]
//! async fn wire(amount: u64, memo: &str, permit: Permit<WireTransfer>) -> Result<(), atlasent::Error> {
//!     println!("wiring {amount} under {}", permit.permit_id());
//!     Ok(())
//! }
//! # async fn run(client: atlasent::Client) -> Result<(), atlasent::Error> {
//! // Or by hand: a Permit<WireTransfer>, and only a WireContext is accepted.
//! let permit = client
//!     .protect_as::<WireTransfer>("finance-agent", &WireContext { amount_usd: 250, memo: "invoice 7".into() })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! A `Permit<WireTransfer>` is accepted only where a permit for that action
//! (or an untyped [`Permit`]) is; nothing makes one except a verification of
//! that action or [`Permit::downcast`], which checks it. Every action type
//! and literal `#[protect]` action is registered, so a test can check that
//! the policies allow each one and that each typed context carries every
//! key they require (`atlasent_server::testing::assert_policies_cover`, or
//! `atlasent-server lint --actions` in CI). The whole chapter:
//! [`actions`].
//!
//! # The calls
//!
//! | call | on allow | on deny | on hold / escalate | on failure |
//! |---|---|---|---|---|
//! | [`Client::protect`] | `Ok(Permit)` | `Err(Error::Denied)` | `Err(Error::Held)` | `Err` |
//! | [`Client::gate`] | `Ok(GateResult)` | `Err(Error::Denied)` | `Err(Error::Held)` | `Err` |
//! | [`Client::authorize`] | `Ok`, `permitted: true` | `Ok`, `permitted: false` | `Ok`, `permitted: false` | `Err` |
//! | [`Client::evaluate`] | `Ok`, `permitted: true` (not yet verified) | `Ok`, `permitted: false` | `Ok`, `permitted: false` | `Err` |
//! | [`Client::verify`] | `Ok`, `verified: true` | `Ok`, `verified: false` | — | `Err` |
//!
//! Every call has the argument order `(agent, action, context)` (`verify`
//! takes the permit id first). `context` is anything [`serde::Serialize`]
//! that serializes to a JSON object; `&()` means `{}`. It is serialized once
//! and refused before anything is sent if it is not an object.
//!
//! Permits can also be read, listed, verified and revoked by id
//! ([`Client::get_permit`], [`Client::list_permits`], [`Client::permits`],
//! [`Client::verify_permit_by_id`], [`Client::revoke_permit_by_id`]).
//!
//! The same calls exist as free functions on a global client
//! ([`protect()`], [`evaluate`], …) configured from `ATLASENT_API_KEY` /
//! `ATLASENT_BASE_URL` / `ATLASENT_WIRE` or by [`configure`], and, with the
//! `blocking` feature, on [`blocking::Client`].
//!
//! # Testing guarded code
//!
//! [`with_client`] runs a future with its own client behind the free
//! functions and every `#[atlasent::protect]` function without `client =
//! …` ([`blocking::with_client`] for plain code), so that each test can ask
//! its own decision server. The `atlasent-testing` crate (for
//! `[dev-dependencies]`) starts one per test in-process, from a policy
//! written inline, reads back the decisions it made, injects faults and
//! asserts denials; its docs are the chapter "Testing guarded code",
//! including compile-fail tests of your own guarded functions.
//!
//! # Errors
//!
//! One [`Error`] type. A denial is [`Error::Denied`] with the decision,
//! reason, [`DenyCode`], evaluation id, audit hash and request id. A hold or
//! escalate (a human must decide; no permit) is [`Error::Held`] with the
//! escalation id. A request failure is [`Error::Request`] with the
//! contract's [`ErrorCode`] (`invalid_api_key`, `forbidden`, `rate_limited`,
//! `timeout`, `network`, `bad_response`, `bad_request`, `server_error`), the
//! HTTP status, the server's message, the request id and, for 429,
//! [`Error::retry_after`].
//!
//! # The two wires
//!
//! The client speaks the shape of the current SDKs ([`Wire::Current`], the
//! default: Python `atlasent` 2.x) or that of Python 1.4.1
//! ([`Wire::Legacy`]), chosen with [`ClientBuilder::wire`] or
//! `ATLASENT_WIRE=current|legacy`. Only `/v1-evaluate` and
//! `/v1-verify-permit` differ:
//!
//! - current: evaluate sends `{action_type, actor_id, context}` and reads
//!   `decision` (`allow`, `deny`, `hold`, `escalate`), `permit_token`,
//!   `expires_at`, `denial: {reason, code}`, `escalation_id`; verify sends
//!   `{permit_token, action_type, actor_id}` plus, from `protect`, the
//!   context's `environment` and the [`wire::execution_hash`] of the
//!   evaluated payload instead of the context, and reads `valid`, `outcome`,
//!   `verify_error_code`, `consumed`. The key travels in the header only. A
//!   1.4.1 reply (`permitted`, `verified`) is read too, as 2.x reads it.
//! - legacy: `{action, agent, context, api_key}` and
//!   `{decision_id, action, agent, context, api_key}`, read as 1.4.1 reads
//!   them.
//!
//! Both fail closed the same way: a reply that could be read two ways
//! (`decision` and `permitted` disagreeing, an unknown `decision`, an allow
//! without a permit token, an `expires_at` that is not RFC 3339, a verify
//! reply about another permit) is `bad_response`, never a decision.
//!
//! # Behaviour on the wire
//!
//! - Requests carry `Authorization: Bearer <key>` (and, on the legacy wire
//!   only, the key in the body), `Accept` and `Content-Type:
//!   application/json`, `User-Agent: atlasent-rust/<version>` and an
//!   `X-Request-ID` (UUID v4) that is fresh per call and the same on every
//!   retry of that call.
//! - Timeouts, connection failures and 5xx are retried (default 2 retries,
//!   backoff 0.5 s doubling, jittered, capped at 8 s). 4xx, including 429,
//!   and malformed replies are not.
//! - Replies are parsed strictly: a missing or mistyped required field,
//!   a body that is not JSON or one over 1 MiB is `bad_response`, never a
//!   default allow or deny.
//! - `X-RateLimit-Limit/Remaining/Reset` are parsed onto results
//!   ([`RateLimit`]).
//! - Plain `http://` is refused except to loopback, unless
//!   [`ClientBuilder::allow_insecure_http`] is set. Redirects are not followed.
//! - Each call runs in a `tracing` span (`atlasent.protect`,
//!   `atlasent.evaluate`, …) recording agent, action, request id and decision;
//!   never the key, never context values.
//! - The API key never appears in `Debug`, `Display`, errors or logs.
//!
//! # Coming from the Python SDK
//!
//! - `evaluate` returns a deny, hold or escalate as data here; Python
//!   raises. `authorize` and `gate` report a failed verification as not
//!   permitted / an error; Python 1.4.1 reports success.
//! - `protect` does not demand dot-notation actions or
//!   `context["environment"]` (2.x does); it sends the environment when the
//!   context has one. A hold or escalate is [`Error::Held`], not a denial.
//! - There is no decision cache. Python's `TTLCache` replays a cached permit
//!   id, which a single-use permit cannot survive: the second verify answers
//!   `consumed`.
//! - A later [`configure`] takes effect (Python's does not).
//!
//! # Runtimes
//!
//! A [`Client`] keeps a connection pool whose connections belong to the tokio
//! runtime that opened them. Share one client within a runtime; a client
//! used from several runtimes (tests that each build their own) may see a
//! pooled connection die with its runtime: that failure is a `network` error,
//! retried like any other, so it costs a reconnect, never a false allow. The
//! blocking client owns its own runtime.
//!
//! # One id, its names
//!
//! Every evaluation gets one id from the server (`dec_…` on ours); on an
//! allow it is also the permit's id. The SDK calls it **`permit_id`**
//! wherever it names a permit or may: [`Permit::permit_id`],
//! [`EvaluateResult::permit_id`], [`AuthorizationResult::permit_id`],
//! [`RevokeResult::permit_id`], and the by-id calls. [`Denial`] and [`Held`]
//! call it `evaluation_id` (the current wire's name) because no permit was
//! issued; it is the same id, and verifying it fails as `not_found`.
//! `decision_id` is only a member name of the wire types (the 1.4.1
//! contract's, in [`wire`]).
//!
//! # Features
//!
//! - `rustls` (default): TLS through rustls with the webpki roots.
//! - `http2`: HTTP/2 to the API.
//! - `blocking`: [`blocking::Client`] and blocking free functions.
//! - `macros` (default): the `#[atlasent::protect]` and `#[atlasent::action]`
//!   attributes.
//! - `axum`: `Error` as an axum response, a tower layer guarding routes
//!   (`integrations::axum::ProtectLayer`, whose agent comes from where its
//!   constructor says: your authentication layer's request extension, a
//!   closure, or a header set by a trusted proxy).
//! - `actix`: `Error` as an actix-web `ResponseError` (`integrations::actix`).
//!
// Built without a feature, a link to its item points at docs.rs (built with
// every feature) instead of breaking.
#![cfg_attr(
    not(feature = "blocking"),
    doc = "[`blocking::Client`]: https://docs.rs/atlasent/latest/atlasent/blocking/struct.Client.html",
    doc = "[`blocking::with_client`]: https://docs.rs/atlasent/latest/atlasent/blocking/fn.with_client.html"
)]
#![cfg_attr(
    not(feature = "macros"),
    doc = "[`macro@protect`]: https://docs.rs/atlasent/latest/atlasent/attr.protect.html",
    doc = "[`macro@action`]: https://docs.rs/atlasent/latest/atlasent/attr.action.html"
)]
// `doc_cfg` labels feature-gated items on docs.rs ("Available on crate
// feature blocking only"); it took over `doc_auto_cfg`, which current
// nightlies refuse (E0557).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
pub mod actions;
pub mod audit;
mod client;
mod config;
mod deny_code;
mod display;
mod error;
mod global;
#[cfg(any(feature = "axum", feature = "actix"))]
pub mod integrations;
mod options;
mod paging;
mod permit;
mod permits;
mod reply;
mod results;
mod time;
mod transport;
pub mod wire;

#[cfg(feature = "blocking")]
pub mod blocking;

pub use actions::{Action, AnyAction};
pub use client::{Client, MAX_NAME_CHARS, MAX_REVOKE_REASON_CHARS};
pub use config::{
    ClientBuilder, Config, Wire, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BACKOFF,
    DEFAULT_MAX_EXPORT_BYTES, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_BACKOFF, DEFAULT_TIMEOUT, ENV_ALLOW_INSECURE_HTTP, ENV_API_KEY, ENV_BASE_URL,
    ENV_WIRE,
};
pub use deny_code::DenyCode;
pub use error::{Decision, Denial, DenialStage, Error, ErrorCode, Held, RequestError};
pub use global::{
    authorize, configure, default_client, evaluate, gate, key_self, protect, protect_as,
    reset_default_client, revoke_permit, scoped_clients_only, verify, with_client,
};
pub use options::EvaluateOptions;
pub use permit::Permit;
pub use permits::{PermitPage, PermitQuery, PermitVerification};
pub use wire::{PermitEvidence, PermitRecord, PermitStatus};

#[cfg(feature = "macros")]
pub use atlasent_macros::{action, protect};
/// The README's Rust examples, compiled as doctests so they stay true (they
/// guard a plain fn: with the `blocking` and `macros` features, as the test
/// command builds them).
#[cfg(all(doctest, feature = "blocking", feature = "macros"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

pub use results::{
    ApiKeySelf, AuthorizationResult, EvaluateResult, GateResult, RateLimit, RevokeResult,
    VerifyResult,
};
