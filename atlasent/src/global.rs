//! The process-wide default client behind the free functions
//! [`protect`](crate::protect), [`evaluate`](crate::evaluate), ….

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Set by [`scoped_clients_only`]: no process-wide fallback.
static SCOPED_ONLY: AtomicBool = AtomicBool::new(false);

/// From now on, in this process, a free function or `#[atlasent::protect]`
/// call outside every [`with_client`] (or
/// `atlasent::blocking::with_client`) scope fails with
/// [`Error::Config`] naming `with_client`, instead of falling back to the
/// client of [`configure`] or one built from `ATLASENT_API_KEY`.
///
/// For test binaries: a call that escaped its test's scope (a task started
/// with `tokio::spawn` or `spawn_blocking` inside it, which does not inherit
/// the scope) then fails closed instead of reaching whatever API the
/// developer's environment points at. `atlasent_testing::TestServer` turns
/// it on. There is no way back: a process that wants it wants it for good.
pub fn scoped_clients_only() {
    SCOPED_ONLY.store(true, Ordering::SeqCst);
}

tokio::task_local! {
    /// The client of [`with_client`], for the future it runs.
    static SCOPED: Client;
}

/// Run `fut` with `client` as the default client: inside it, the free
/// functions ([`protect()`](crate::protect()), [`protect_as`], [`evaluate`], …)
/// and `#[atlasent::protect]` functions without `client = …` use `client`
/// instead of the process-wide one. Outside it, and in other tasks, nothing
/// changes.
///
/// Made for tests: each test can run its guarded code against its own
/// decision server and policy, in parallel with the others, without the
/// process-wide [`configure`] (which stays the way to set up an
/// application). Scopes nest: the innermost wins.
///
/// The override belongs to the task polling `fut`: a task started with
/// `tokio::spawn` or `spawn_blocking` inside it does not inherit it (wrap
/// that task's future in `with_client` too; [`scoped_clients_only`] makes
/// such an escaped call fail instead of using the process-wide client), and
/// a blocking call uses `atlasent::blocking::with_client`
/// instead. An executor driven inside the scope lends it to everything it
/// polls: put `with_client` inside `LocalSet::run_until`, not around it.
/// Do not keep the result of [`default_client`] beyond the call that needs
/// it: inside a scope it is the scope's client.
///
/// ```no_run
/// #[atlasent::protect(action = "deploy", agent = "deploy-bot")]
/// async fn deploy(permit: atlasent::Permit) -> Result<(), atlasent::Error> {
///     Ok(())
/// }
///
/// # async fn test(client_for_this_test: atlasent::Client) -> Result<(), atlasent::Error> {
/// // `deploy` asks the decision server of `client_for_this_test`.
/// atlasent::with_client(client_for_this_test, deploy()).await?;
/// # Ok(()) }
/// ```
pub async fn with_client<F: Future>(client: Client, fut: F) -> F::Output {
    SCOPED.scope(client, fut).await
}

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

/// The default client: the one of the innermost [`with_client`] around the
/// current task, else (with the `blocking` feature) that of the innermost
/// `blocking::with_client` of the thread polling it, else — unless
/// [`scoped_clients_only`] was called — the one given to [`configure`], else
/// one built from
/// `ATLASENT_API_KEY` / `ATLASENT_BASE_URL` / `ATLASENT_WIRE` on first use
/// (and kept).
///
/// Fails with [`Error::Config`] when neither is available; nothing is cached
/// then, so setting the variable later works.
pub fn default_client() -> Result<Client, Error> {
    if let Ok(client) = SCOPED.try_with(Client::clone) {
        return Ok(client);
    }
    // A future driven on a thread inside `blocking::with_client` (by a
    // `block_on` there) uses that thread's client.
    #[cfg(feature = "blocking")]
    if let Some(client) = crate::blocking::scoped_async_client() {
        return Ok(client);
    }
    if SCOPED_ONLY.load(Ordering::SeqCst) {
        return Err(Error::config(
            "no client in scope: this process uses scoped clients only (atlasent::scoped_clients_only, \
             turned on by atlasent_testing::TestServer), and this call runs outside every \
             atlasent::with_client: wrap the future in atlasent::with_client(client, ..) \
             (a task started with tokio::spawn or spawn_blocking does not inherit the scope of its parent)",
        ));
    }
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

/// The free functions on the default client, as one table: calls `$then!`
/// with each (name, a context parameter `<C>` if it takes one, arguments,
/// result). The async ones are defined from it here, the blocking ones in
/// `blocking`.
macro_rules! default_client_functions {
    ($then:ident) => {
        $then! {
            evaluate<C>(agent: &str, action: &str, context: &C) -> EvaluateResult;
            verify<C>(permit_id: &str, agent: &str, action: &str, context: &C) -> VerifyResult;
            gate<C>(agent: &str, action: &str, context: &C) -> GateResult;
            authorize<C>(agent: &str, action: &str, context: &C) -> AuthorizationResult;
            key_self() -> ApiKeySelf;
            revoke_permit(permit_id: &str, reason: Option<&str>) -> RevokeResult;
        }
    };
}
#[cfg(feature = "blocking")]
pub(crate) use default_client_functions;

/// The async free functions of [`default_client_functions`]'s table.
macro_rules! async_functions {
    ($($name:ident $(<$c:ident>)? ($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {$(
        #[doc = concat!("[`Client::", stringify!($name), "`] on the default client.")]
        pub async fn $name $(<$c: Serialize + ?Sized>)? ($($arg: $ty),*) -> Result<$ret, Error> {
            default_client()?.$name($($arg),*).await
        }
    )*};
}

default_client_functions!(async_functions);
