//! A blocking client for code without an async runtime (feature `blocking`),
//! in the manner of `reqwest::blocking`.
//!
//! Each [`Client`] owns a small runtime (one worker thread) that drives its
//! requests; its clones share it. A call blocks the calling thread until the
//! answer comes, which is fine anywhere except on a thread that runs an
//! async runtime's tasks:
//!
//! - allowed: a plain thread, `tokio::task::spawn_blocking` (on either
//!   runtime flavor), `tokio::task::block_in_place`, a future driven by
//!   `Handle::block_on` or by a multi-thread `Runtime::block_on` (the body of
//!   `#[tokio::main]`). None of these threads is a runtime worker, so
//!   blocking it stalls no other task.
//! - refused with [`Error::Config`], before anything is sent: a worker
//!   thread of a multi-thread runtime, and the thread that drives a
//!   current-thread runtime (a `#[tokio::test]`,
//!   `#[tokio::main(flavor = "current_thread")]`), where blocking would stop
//!   every task of that runtime, a decision server running on it included.
//!   The error names the method (or the `#[atlasent::protect]` function)
//!   and the ways out: the async [`atlasent::Client`](crate::Client) and
//!   `.await`, or `tokio::task::spawn_blocking`.
//!
//! ```no_run
//! # fn main() -> Result<(), atlasent::Error> {
//! let client = atlasent::blocking::Client::builder().api_key("ask_live_...").build()?;
//! let permit = client.protect("cli", "drop_database", &serde_json::json!({ "db": "staging" }))?;
//! println!("{permit}");
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use serde::Serialize;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::actions::{Action, ContextFor};
use crate::error::Error;
use crate::paging;
use crate::permit::Permit;
use crate::permits::{PermitPage, PermitQuery, PermitVerification};
use crate::results::{
    ApiKeySelf, AuthorizationResult, EvaluateResult, GateResult, RevokeResult, VerifyResult,
};
use crate::wire::PermitRecord;

/// Who made a blocking call: named when the call is refused.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Caller {
    /// A method of [`Client`].
    Method(&'static str),
    /// A free function of this module.
    Function(&'static str),
    /// A plain fn guarded by `#[atlasent::protect]`.
    Guarded(&'static str),
}

/// Refuse to block on a thread that runs an async runtime's tasks.
///
/// `Handle::try_current()` cannot tell: a runtime's handle is current inside
/// `spawn_blocking` and `block_in_place` too, where blocking is legal.
/// `tokio::runtime::worker_index()` can. Tokio answers it from the same
/// thread-local state its own blocking APIs consult (a runtime entered, a
/// scheduler set on this thread): `Some` on a thread that is polling a
/// runtime's tasks, as a worker of a multi-thread runtime or as the thread
/// that drives a current-thread runtime (a `LocalSet` or `LocalRuntime` on
/// it too); `None` on a plain thread, a `spawn_blocking` thread, inside
/// `block_in_place` (which leaves the runtime before running its closure),
/// and in a future that `Handle::block_on` or a multi-thread
/// `Runtime::block_on` polls on its caller's thread. A `None` thread runs no
/// task but its caller's, so blocking it stalls nothing else. One blind
/// spot: a `LocalSet` driven by a multi-thread `Runtime::block_on` polls its
/// local tasks on that caller's thread, which tokio does not count as a
/// worker; blocking there stalls those local tasks (and no other thread).
fn refuse_on_a_worker(caller: Caller) -> Result<(), Error> {
    if tokio::runtime::worker_index().is_none() {
        return Ok(());
    }
    let flavor = Handle::try_current().map(|h| h.runtime_flavor()).ok();
    Err(Error::config(refusal(caller, flavor)))
}

/// The refusal: what was called, why it cannot block here, the ways out.
fn refusal(caller: Caller, flavor: Option<RuntimeFlavor>) -> String {
    let (what, ways_out) = match caller {
        Caller::Method(name) => (
            format!("atlasent::blocking::Client::{name}"),
            "use the async atlasent::Client and `.await` it, or make the call inside \
             `tokio::task::spawn_blocking`"
                .to_owned(),
        ),
        Caller::Function(name) => (
            format!("atlasent::blocking::{name}"),
            format!(
                "use the async atlasent::{name} and `.await` it, or make the call inside \
                 `tokio::task::spawn_blocking`"
            ),
        ),
        Caller::Guarded(name) => (
            format!("the #[atlasent::protect] fn `{name}`"),
            format!(
                "make `{name}` an `async fn` and `.await` it (it then uses the async \
                 atlasent::Client), or call it inside `tokio::task::spawn_blocking`"
            ),
        ),
    };
    let why = match flavor {
        Some(RuntimeFlavor::CurrentThread) => {
            "this thread drives a current-thread runtime, which runs nothing else while it \
             blocks: a decision server running on that runtime (one started in a \
             #[tokio::test], say) could never answer, and the call would wait for its timeout"
        }
        _ => "blocking it would stall the tasks of that runtime",
    };
    format!(
        "{what} was called inside an async runtime, on a thread that runs its tasks: {why}; \
         {ways_out}"
    )
}

/// Wakes the thread blocked in [`Driver::block_on`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The runtime that drives blocking calls.
struct Driver(Option<tokio::runtime::Runtime>);

impl Driver {
    fn new() -> Result<Arc<Self>, Error> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("atlasent-blocking")
            .enable_all()
            .build()
            .map(|rt| Arc::new(Self(Some(rt))))
            .map_err(|e| Error::config(format!("could not start the blocking runtime: {e}")))
    }

    /// Run `future` to completion on this thread, with its I/O and timers on
    /// the driver's runtime.
    ///
    /// Not `Runtime::block_on`: tokio panics there wherever it counts the
    /// thread as inside a runtime, which includes the allowed futures of
    /// `Handle::block_on` and of a multi-thread `Runtime::block_on`. Polling
    /// here, with the driver's handle entered, needs no such state: the
    /// driver's worker thread runs the reactor and the timers and wakes this
    /// thread, as it wakes the callers of its own `block_on`.
    fn block_on<F: Future>(&self, caller: Caller, future: F) -> Result<F::Output, Error> {
        refuse_on_a_worker(caller)?;
        let Some(rt) = &self.0 else {
            return Err(Error::config("the blocking runtime has shut down"));
        };
        let _driver = rt.handle().enter();
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        // A blocking section spends no task budget: inside a multi-thread
        // `block_on` the caller's budget would run out and, with this thread
        // never returning to the scheduler, never be refilled.
        let mut future = pin!(tokio::task::unconstrained(future));
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return Ok(output);
            }
            // A spurious or early wake-up only costs one more poll.
            std::thread::park();
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Dropping a runtime inside another one panics; this does not.
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Blocking twins of [`crate::Client`]'s methods: each drives the async
/// method to completion on the client's runtime, refused on a thread that
/// runs an async runtime's tasks. A generic `<C>` is a context
/// (`C: Serialize + ?Sized`).
macro_rules! blocking_methods {
    ($($name:ident $(<$c:ident>)? ($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;)*) => {$(
        #[doc = concat!("Blocking [`crate::Client::", stringify!($name), "`].")]
        pub fn $name $(<$c: Serialize + ?Sized>)? (&self, $($arg: $ty),*) -> Result<$ret, Error> {
            self.driver.block_on(
                Caller::Method(stringify!($name)),
                self.inner.$name($($arg),*),
            )?
        }
    )*};
}

/// A blocking client of the AtlaSent API, with the methods of the async
/// [`atlasent::Client`](crate::Client). Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: crate::Client,
    driver: Arc<Driver>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Client")
            .field("config", self.inner.config())
            .finish()
    }
}

/// Builds a blocking [`Client`]; the settings are those of
/// [`atlasent::ClientBuilder`](crate::ClientBuilder).
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until .build() is called"]
pub struct ClientBuilder(crate::ClientBuilder);

/// The setters of [`crate::ClientBuilder`], forwarded from its table.
macro_rules! forward_setters {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $field:ident = $value:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(self, $arg: $ty) -> Self {
            Self(self.0.$name($arg))
        }
    )*};
}

impl ClientBuilder {
    crate::config::builder_setters!(forward_setters);

    /// A builder pre-filled from an environment, as
    /// [`crate::ClientBuilder::from_lookup`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self(crate::ClientBuilder::from_lookup(lookup))
    }

    /// Validate the settings, start the client's runtime and build it.
    pub fn build(self) -> Result<Client, Error> {
        Ok(Client {
            inner: self.0.build()?,
            driver: Driver::new()?,
        })
    }
}

impl Client {
    /// A builder with the defaults of the Python SDK.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from `ATLASENT_API_KEY`, `ATLASENT_BASE_URL` and
    /// `ATLASENT_WIRE`.
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::from_lookup(|n| std::env::var(n).ok()).build()
    }

    /// A blocking client that shares `client`'s configuration.
    pub fn from_async(client: crate::Client) -> Result<Client, Error> {
        Ok(Client {
            inner: client,
            driver: Driver::new()?,
        })
    }

    /// The async client inside.
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    /// Blocking [`crate::Client::protect`].
    pub fn protect<C>(&self, agent: &str, action: &str, context: &C) -> Result<Permit, Error>
    where
        C: Serialize + ?Sized,
    {
        self.protect_for(Caller::Method("protect"), agent, action, context)
    }

    /// Blocking [`crate::Client::protect_as`].
    pub fn protect_as<A: Action>(
        &self,
        agent: &str,
        context: &(impl ContextFor<A> + ?Sized),
    ) -> Result<Permit<A>, Error> {
        Ok(self
            .protect_for(Caller::Method("protect_as"), agent, A::NAME, context)?
            .retype())
    }

    /// [`Client::protect`], refused in the name of `caller`.
    pub(crate) fn protect_for<C>(
        &self,
        caller: Caller,
        agent: &str,
        action: &str,
        context: &C,
    ) -> Result<Permit, Error>
    where
        C: Serialize + ?Sized,
    {
        self.driver
            .block_on(caller, self.inner.protect(agent, action, context))?
    }

    blocking_methods! {
        evaluate<C>(agent: &str, action: &str, context: &C) -> EvaluateResult;
        evaluate_with<C>(
            agent: &str,
            action: &str,
            context: &C,
            options: &crate::EvaluateOptions,
        ) -> EvaluateResult;
        verify<C>(permit_id: &str, agent: &str, action: &str, context: &C) -> VerifyResult;
        gate<C>(agent: &str, action: &str, context: &C) -> GateResult;
        authorize<C>(agent: &str, action: &str, context: &C) -> AuthorizationResult;
        key_self() -> ApiKeySelf;
        list_audit_events(query: &crate::audit::AuditEventQuery) -> crate::audit::AuditEventsPage;
        create_audit_export(filter: &crate::audit::ExportFilter) -> crate::audit::AuditBundle;
        signing_keys() -> Vec<crate::audit::VerifyingKey>;
        revoke_permit(permit_id: &str, reason: Option<&str>) -> RevokeResult;
        get_permit(permit_id: &str) -> PermitRecord;
        list_permits(query: &PermitQuery) -> PermitPage;
        verify_permit_by_id(permit_id: &str) -> PermitVerification;
        revoke_permit_by_id(permit_id: &str, reason: Option<&str>) -> PermitRecord;
    }

    /// Every permit matching `query`, following `next_cursor` page after
    /// page, as [`crate::Client::permits`] does: each page is fetched when
    /// the iterator reaches it. The iterator ends after the last page, or
    /// after yielding the first error.
    pub fn permits(
        &self,
        query: PermitQuery,
    ) -> impl Iterator<Item = Result<PermitRecord, Error>> + Send + 'static {
        let client = self.clone();
        paging::iter(query, move |query| client.list_permits(query))
    }

    /// Every audit event matching `query`, following `next_cursor` page
    /// after page, as [`crate::Client::audit_events`] does: each page is
    /// fetched when the iterator reaches it. The iterator ends after the last
    /// page, or after yielding the first error.
    pub fn audit_events(
        &self,
        query: crate::audit::AuditEventQuery,
    ) -> impl Iterator<Item = Result<crate::audit::AuditEvent, Error>> + Send + 'static {
        let client = self.clone();
        paging::iter(query, move |query| client.list_audit_events(query))
    }
}

/// The default blocking client: the one of the innermost [`with_client`] on
/// this thread, else the global [`crate::default_client`] driven by a shared
/// runtime.
pub fn default_client() -> Result<Client, Error> {
    if let Some(client) = SCOPED.with(|scoped| scoped.borrow().last().cloned()) {
        return Ok(client);
    }
    static DRIVER: Mutex<Option<Arc<Driver>>> = Mutex::new(None);
    let inner = crate::default_client()?;
    let mut slot = DRIVER.lock().unwrap_or_else(PoisonError::into_inner);
    let driver = match slot.as_ref() {
        Some(driver) => Arc::clone(driver),
        None => Arc::clone(slot.insert(Driver::new()?)),
    };
    Ok(Client { inner, driver })
}

thread_local! {
    /// The clients of the [`with_client`] calls running on this thread,
    /// innermost last.
    static SCOPED: std::cell::RefCell<Vec<Client>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Run `f` with `client` as the default client of this thread: inside it,
/// the blocking free functions ([`protect()`], [`protect_as`], …) and plain
/// `fn`s guarded by `#[atlasent::protect]` without `client = …` use
/// `client`. The blocking twin of [`crate::with_client`]; scopes nest, the
/// innermost wins, and the override ends when `f` returns or panics.
///
/// ```no_run
/// #[atlasent::protect(action = "drop_table", agent = "ops-cli")]
/// fn drop_table(permit: atlasent::Permit) -> Result<(), atlasent::Error> {
///     Ok(())
/// }
///
/// # fn test(client_for_this_test: atlasent::blocking::Client) -> Result<(), atlasent::Error> {
/// atlasent::blocking::with_client(client_for_this_test, drop_table)?;
/// # Ok(()) }
/// ```
///
/// A future driven on this thread inside `f` (`Runtime::block_on`) uses the
/// same client for the async free functions, unless an
/// [`crate::with_client`] inside it says otherwise; tasks it spawns onto
/// other threads do not.
pub fn with_client<R>(client: Client, f: impl FnOnce() -> R) -> R {
    /// Pops the scope even when `f` panics.
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            SCOPED.with(|scoped| scoped.borrow_mut().pop());
        }
    }
    SCOPED.with(|scoped| scoped.borrow_mut().push(client));
    let _pop = Pop;
    f()
}

/// The async client of the innermost [`with_client`] on this thread.
pub(crate) fn scoped_async_client() -> Option<crate::Client> {
    SCOPED.with(|scoped| scoped.borrow().last().map(|c| c.inner.clone()))
}

/// The default client, for `caller`: a call on a runtime's worker is refused
/// before the client is looked up, so the caller hears of that first (not
/// of a missing API key).
fn default_for(caller: Caller) -> Result<Client, Error> {
    refuse_on_a_worker(caller)?;
    default_client()
}

/// Blocking [`crate::protect()`] on the default client, refused in the name
/// of `caller`.
pub(crate) fn protect_for<C: Serialize + ?Sized>(
    caller: Caller,
    agent: &str,
    action: &str,
    context: &C,
) -> Result<Permit, Error> {
    default_for(caller)?.protect_for(caller, agent, action, context)
}

/// Blocking [`crate::protect()`] on the default client.
pub fn protect<C>(agent: &str, action: &str, context: &C) -> Result<Permit, Error>
where
    C: Serialize + ?Sized,
{
    protect_for(Caller::Function("protect"), agent, action, context)
}

/// Blocking [`crate::protect_as()`] on the default client.
pub fn protect_as<A: Action>(
    agent: &str,
    context: &(impl ContextFor<A> + ?Sized),
) -> Result<Permit<A>, Error> {
    Ok(protect_for(Caller::Function("protect_as"), agent, A::NAME, context)?.retype())
}

/// The blocking free functions of the async ones' table.
macro_rules! blocking_functions {
    ($($name:ident $(<$c:ident>)? ($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {$(
        #[doc = concat!("Blocking [`crate::", stringify!($name), "`] on the default client.")]
        pub fn $name $(<$c: Serialize + ?Sized>)? ($($arg: $ty),*) -> Result<$ret, Error> {
            default_for(Caller::Function(stringify!($name)))?.$name($($arg),*)
        }
    )*};
}

crate::global::default_client_functions!(blocking_functions);
