//! The process-wide default client behind the free functions
//! [`protect`](crate::protect), [`evaluate`](crate::evaluate), ….

use std::sync::{PoisonError, RwLock};

use serde::Serialize;

use crate::actions::{Action, ContextFor};
use crate::client::Client;
use crate::error::Error;
use crate::permit::Permit;
use crate::results::{
    ApiKeySelf, AuthorizationResult, EvaluateResult, GateResult, RevokeResult, VerifyResult,
};

static DEFAULT: RwLock<Option<Client>> = RwLock::new(None);

/// Make `client` the default client of the free functions, replacing any
/// earlier one. Unlike Python 1.4.1's `configure`, a later call takes effect:
/// every free-function call after it uses the new client.
///
/// ```no_run
/// # fn main() -> Result<(), atlasent::Error> {
/// atlasent::configure(
///     atlasent::Client::builder()
///         .api_key("ask_live_...")
///         .base_url("https://api.atlasent.io")
///         .build()?,
/// );
/// # Ok(()) }
/// ```
pub fn configure(client: Client) {
    *DEFAULT.write().unwrap_or_else(PoisonError::into_inner) = Some(client);
}

/// Forget the configured default client: the next free-function call builds
/// one from the environment again.
pub fn reset_default_client() {
    *DEFAULT.write().unwrap_or_else(PoisonError::into_inner) = None;
}

/// The default client: the one given to [`configure`], else one built from
/// `ATLASENT_API_KEY` / `ATLASENT_BASE_URL` / `ATLASENT_WIRE` on first use
/// (and kept).
///
/// Fails with [`Error::Config`] when neither is available; nothing is cached
/// then, so setting the variable later works.
pub fn default_client() -> Result<Client, Error> {
    if let Some(client) = DEFAULT
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
    {
        return Ok(client.clone());
    }
    let built = Client::from_env()?;
    let mut slot = DEFAULT.write().unwrap_or_else(PoisonError::into_inner);
    // Another thread may have configured one meanwhile: it wins.
    Ok(slot.get_or_insert(built).clone())
}

/// [`Client::protect`] on the default client.
pub async fn protect<C>(agent: &str, action: &str, context: &C) -> Result<Permit, Error>
where
    C: Serialize + ?Sized,
{
    default_client()?.protect(agent, action, context).await
}

/// [`Client::protect_as`] on the default client.
pub async fn protect_as<A: Action>(
    agent: &str,
    context: &(impl ContextFor<A> + ?Sized),
) -> Result<Permit<A>, Error> {
    default_client()?.protect_as::<A>(agent, context).await
}

/// [`Client::evaluate`] on the default client.
pub async fn evaluate<C>(agent: &str, action: &str, context: &C) -> Result<EvaluateResult, Error>
where
    C: Serialize + ?Sized,
{
    default_client()?.evaluate(agent, action, context).await
}

/// [`Client::verify`] on the default client.
pub async fn verify<C>(
    permit_id: &str,
    agent: &str,
    action: &str,
    context: &C,
) -> Result<VerifyResult, Error>
where
    C: Serialize + ?Sized,
{
    default_client()?
        .verify(permit_id, agent, action, context)
        .await
}

/// [`Client::gate`] on the default client.
pub async fn gate<C>(agent: &str, action: &str, context: &C) -> Result<GateResult, Error>
where
    C: Serialize + ?Sized,
{
    default_client()?.gate(agent, action, context).await
}

/// [`Client::authorize`] on the default client.
pub async fn authorize<C>(
    agent: &str,
    action: &str,
    context: &C,
) -> Result<AuthorizationResult, Error>
where
    C: Serialize + ?Sized,
{
    default_client()?.authorize(agent, action, context).await
}

/// [`Client::key_self`] on the default client.
pub async fn key_self() -> Result<ApiKeySelf, Error> {
    default_client()?.key_self().await
}

/// [`Client::revoke_permit`] on the default client.
pub async fn revoke_permit(permit_id: &str, reason: Option<&str>) -> Result<RevokeResult, Error> {
    default_client()?.revoke_permit(permit_id, reason).await
}
