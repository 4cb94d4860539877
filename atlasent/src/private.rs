//! Support for the code `#[atlasent::protect]` generates. Not public API:
//! nothing here can build a [`Permit`]; every path to one goes through a real
//! evaluation and verification.

use serde::Serialize;

use crate::client::Client;
use crate::error::Error;
use crate::permit::Permit;

/// Obtain a permit from `client`.
pub async fn protect_with<C: Serialize + ?Sized>(
    client: &Client,
    agent: &str,
    action: &str,
    context: &C,
) -> Result<Permit, Error> {
    client.protect(agent, action, context).await
}

/// Obtain a permit from the global default client.
pub async fn protect_default<C: Serialize + ?Sized>(
    agent: &str,
    action: &str,
    context: &C,
) -> Result<Permit, Error> {
    crate::global::protect(agent, action, context).await
}

/// Obtain a permit from a blocking `client` for the guarded plain fn
/// `function`, which a refusal (on a runtime's worker thread) names.
#[cfg(feature = "blocking")]
pub fn protect_blocking_with<C: Serialize + ?Sized>(
    function: &'static str,
    client: &crate::blocking::Client,
    agent: &str,
    action: &str,
    context: &C,
) -> Result<Permit, Error> {
    let caller = crate::blocking::Caller::Guarded(function);
    client.protect_as(caller, agent, action, context)
}

/// Obtain a permit from the global default client, blocking, for the
/// guarded plain fn `function`.
#[cfg(feature = "blocking")]
pub fn protect_blocking_default<C: Serialize + ?Sized>(
    function: &'static str,
    agent: &str,
    action: &str,
    context: &C,
) -> Result<Permit, Error> {
    let caller = crate::blocking::Caller::Guarded(function);
    crate::blocking::protect_as(caller, agent, action, context)
}

/// Without the `blocking` feature a non-async guarded fn does not compile
/// (see `__atlasent_require_blocking!`); these keep the rest of the expansion
/// free of secondary errors.
#[cfg(not(feature = "blocking"))]
pub fn protect_blocking_with<C: Serialize + ?Sized, K>(
    _function: &'static str,
    _client: &K,
    _agent: &str,
    _action: &str,
    _context: &C,
) -> Result<Permit, Error> {
    Err(Error::config(
        "the `blocking` feature of atlasent is disabled",
    ))
}

/// See [`protect_blocking_with`].
#[cfg(not(feature = "blocking"))]
pub fn protect_blocking_default<C: Serialize + ?Sized>(
    _function: &'static str,
    _agent: &str,
    _action: &str,
    _context: &C,
) -> Result<Permit, Error> {
    Err(Error::config(
        "the `blocking` feature of atlasent is disabled",
    ))
}

/// The error type of a guarded function must absorb an [`Error`].
#[diagnostic::on_unimplemented(
    message = "the error type `{Self}` of a `#[atlasent::protect]` function must implement `From<atlasent::Error>`",
    label = "`{Self}` cannot hold an `atlasent::Error`",
    note = "add `impl From<atlasent::Error> for {Self}`, or return a type that has one (e.g. `Box<dyn std::error::Error + Send + Sync>`)"
)]
pub trait GuardedError {
    /// Convert.
    fn from_atlasent(error: Error) -> Self;
}

impl<E: From<Error>> GuardedError for E {
    fn from_atlasent(error: Error) -> Self {
        E::from(error)
    }
}

/// `E::from(error)` with a readable diagnostic when `E` cannot.
pub fn into_error<E: GuardedError>(error: Error) -> E {
    E::from_atlasent(error)
}

/// Stands where the permit would be when the attribute itself is invalid, so
/// that the function still type-checks for editors; never runs (the crate
/// fails to compile with the attribute's error).
pub fn unexpanded() -> ! {
    unreachable!("#[atlasent::protect] failed to expand")
}

/// Expands to a compile error when the `blocking` feature is off.
#[cfg(not(feature = "blocking"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __atlasent_require_blocking {
    () => {
        ::core::compile_error!(
            "`#[atlasent::protect]` on a non-async fn uses the blocking client: enable the `blocking` \
             feature of atlasent (atlasent = { features = [\"blocking\"] }), or make the function `async`"
        );
    };
}

/// Expands to nothing when the `blocking` feature is on.
#[cfg(feature = "blocking")]
#[doc(hidden)]
#[macro_export]
macro_rules! __atlasent_require_blocking {
    () => {};
}
