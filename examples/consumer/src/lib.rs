//! A consumer of atlasent: a small library whose sensitive functions are
//! guarded with `#[atlasent::protect]`, and the tests a real project writes
//! for them (`tests/`). Copy this crate to start one; see `README.md`.
//!
//! - [`payments`]: the typed action [`payments::WireTransfer`] with its
//!   typed context [`payments::WireContext`], and the guarded `async fn`
//!   [`payments::wire`] and [`payments::balance`].
//! - [`deploy`]: the guarded plain (blocking) fn [`deploy::rollback`].
//!
//! None of the guarded functions names a client (`client = ...`): in
//! production they use the global one (`atlasent::configure`, or
//! `ATLASENT_API_KEY`), and a test routes them to its own decision server
//! with `atlasent::with_client` (async) or `atlasent::blocking::with_client`
//! (blocking), so parallel tests with different policies do not meet.
//!
//! The side effects (moving money, running a command) go through a trait
//! ([`payments::PaymentRail`], [`deploy::Runner`]) that the application
//! implements for real and a test implements with a probe: that is how a
//! test proves a body ran once, or never.

pub mod deploy;
pub mod payments;
