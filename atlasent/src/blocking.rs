//! A blocking client for code without an async runtime (feature `blocking`),
//! in the manner of `reqwest::blocking`.
//!
//! Each [`Client`] owns a small runtime (one worker thread) that drives its
//! requests; its clones share it. Called from inside an async runtime, where
//! blocking would stall the executor, every method returns
//! [`Error::Config`] instead of panicking: use the async
//! [`atlasent::Client`](crate::Client) there.
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
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;

use crate::error::Error;
use crate::permit::Permit;
use crate::permits::{Pages, PermitPage, PermitQuery, PermitVerification};
use crate::results::{
    ApiKeySelf, AuthorizationResult, EvaluateResult, GateResult, RevokeResult, VerifyResult,
};
use crate::wire::PermitRecord;

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

    fn block_on<F: Future>(&self, future: F) -> Result<F::Output, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::config(
                "atlasent::blocking was called from inside an async runtime, where blocking \
                 would stall it; use atlasent::Client and .await instead",
            ));
        }
        match &self.0 {
            Some(rt) => Ok(rt.block_on(future)),
            None => Err(Error::config("the blocking runtime has shut down")),
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

macro_rules! forward {
    ($($(#[$doc:meta])* $name:ident($ty:ty);)*) => {$(
        $(#[$doc])*
        pub fn $name(self, value: $ty) -> Self {
            Self(self.0.$name(value))
        }
    )*};
}

impl ClientBuilder {
    forward! {
        /// See [`crate::ClientBuilder::api_key`].
        api_key(impl Into<String>);
        /// See [`crate::ClientBuilder::base_url`].
        base_url(impl Into<String>);
        /// See [`crate::ClientBuilder::timeout`].
        timeout(Duration);
        /// See [`crate::ClientBuilder::connect_timeout`].
        connect_timeout(Duration);
        /// See [`crate::ClientBuilder::max_retries`].
        max_retries(u32);
        /// See [`crate::ClientBuilder::retry_backoff`].
        retry_backoff(Duration);
        /// See [`crate::ClientBuilder::max_backoff`].
        max_backoff(Duration);
        /// See [`crate::ClientBuilder::max_response_bytes`].
        max_response_bytes(usize);
        /// See [`crate::ClientBuilder::max_export_bytes`].
        max_export_bytes(usize);
        /// See [`crate::ClientBuilder::allow_insecure_http`].
        allow_insecure_http(bool);
        /// See [`crate::ClientBuilder::user_agent_suffix`].
        user_agent_suffix(impl Into<String>);
        /// See [`crate::ClientBuilder::wire`].
        wire(crate::Wire);
    }

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
        self.driver
            .block_on(self.inner.protect(agent, action, context))?
    }

    /// Blocking [`crate::Client::evaluate`].
    pub fn evaluate<C>(
        &self,
        agent: &str,
        action: &str,
        context: &C,
    ) -> Result<EvaluateResult, Error>
    where
        C: Serialize + ?Sized,
    {
        self.driver
            .block_on(self.inner.evaluate(agent, action, context))?
    }

    /// Blocking [`crate::Client::evaluate_with`].
    pub fn evaluate_with<C>(
        &self,
        agent: &str,
        action: &str,
        context: &C,
        options: &crate::EvaluateOptions,
    ) -> Result<EvaluateResult, Error>
    where
        C: Serialize + ?Sized,
    {
        self.driver
            .block_on(self.inner.evaluate_with(agent, action, context, options))?
    }

    /// Blocking [`crate::Client::verify`].
    pub fn verify<C>(
        &self,
        permit_id: &str,
        agent: &str,
        action: &str,
        context: &C,
    ) -> Result<VerifyResult, Error>
    where
        C: Serialize + ?Sized,
    {
        self.driver
            .block_on(self.inner.verify(permit_id, agent, action, context))?
    }

    /// Blocking [`crate::Client::gate`].
    pub fn gate<C>(&self, agent: &str, action: &str, context: &C) -> Result<GateResult, Error>
    where
        C: Serialize + ?Sized,
    {
        self.driver
            .block_on(self.inner.gate(agent, action, context))?
    }

    /// Blocking [`crate::Client::authorize`].
    pub fn authorize<C>(
        &self,
        agent: &str,
        action: &str,
        context: &C,
    ) -> Result<AuthorizationResult, Error>
    where
        C: Serialize + ?Sized,
    {
        self.driver
            .block_on(self.inner.authorize(agent, action, context))?
    }

    /// Blocking [`crate::Client::key_self`].
    pub fn key_self(&self) -> Result<ApiKeySelf, Error> {
        self.driver.block_on(self.inner.key_self())?
    }

    /// Blocking [`crate::Client::list_audit_events`].
    pub fn list_audit_events(
        &self,
        query: &crate::audit::AuditEventQuery,
    ) -> Result<crate::audit::AuditEventsPage, Error> {
        self.driver.block_on(self.inner.list_audit_events(query))?
    }

    /// Blocking [`crate::Client::create_audit_export`].
    pub fn create_audit_export(
        &self,
        filter: &crate::audit::ExportFilter,
    ) -> Result<crate::audit::AuditBundle, Error> {
        self.driver
            .block_on(self.inner.create_audit_export(filter))?
    }

    /// Blocking [`crate::Client::revoke_permit`].
    pub fn revoke_permit(
        &self,
        permit_id: &str,
        reason: Option<&str>,
    ) -> Result<RevokeResult, Error> {
        self.driver
            .block_on(self.inner.revoke_permit(permit_id, reason))?
    }

    /// Blocking [`crate::Client::get_permit`].
    pub fn get_permit(&self, permit_id: &str) -> Result<PermitRecord, Error> {
        self.driver.block_on(self.inner.get_permit(permit_id))?
    }

    /// Blocking [`crate::Client::list_permits`].
    pub fn list_permits(&self, query: &PermitQuery) -> Result<PermitPage, Error> {
        self.driver.block_on(self.inner.list_permits(query))?
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
        let mut pages = Pages::new(query);
        std::iter::from_fn(move || loop {
            if let Some(item) = pages.next_buffered() {
                return Some(item);
            }
            let query = pages.next_query()?;
            let page = client.list_permits(&query);
            pages.take(page);
        })
    }

    /// Blocking [`crate::Client::verify_permit_by_id`].
    pub fn verify_permit_by_id(&self, permit_id: &str) -> Result<PermitVerification, Error> {
        self.driver
            .block_on(self.inner.verify_permit_by_id(permit_id))?
    }

    /// Blocking [`crate::Client::revoke_permit_by_id`].
    pub fn revoke_permit_by_id(
        &self,
        permit_id: &str,
        reason: Option<&str>,
    ) -> Result<PermitRecord, Error> {
        self.driver
            .block_on(self.inner.revoke_permit_by_id(permit_id, reason))?
    }
}

/// The default blocking client: the global [`crate::default_client`] driven
/// by a shared runtime.
pub fn default_client() -> Result<Client, Error> {
    static DRIVER: Mutex<Option<Arc<Driver>>> = Mutex::new(None);
    let inner = crate::default_client()?;
    let mut slot = DRIVER.lock().unwrap_or_else(PoisonError::into_inner);
    let driver = match slot.as_ref() {
        Some(driver) => Arc::clone(driver),
        None => Arc::clone(slot.insert(Driver::new()?)),
    };
    Ok(Client { inner, driver })
}

/// Blocking [`crate::protect()`] on the default client.
pub fn protect<C>(agent: &str, action: &str, context: &C) -> Result<Permit, Error>
where
    C: Serialize + ?Sized,
{
    default_client()?.protect(agent, action, context)
}

/// Blocking [`crate::evaluate`] on the default client.
pub fn evaluate<C>(agent: &str, action: &str, context: &C) -> Result<EvaluateResult, Error>
where
    C: Serialize + ?Sized,
{
    default_client()?.evaluate(agent, action, context)
}

/// Blocking [`crate::verify`] on the default client.
pub fn verify<C>(
    permit_id: &str,
    agent: &str,
    action: &str,
    context: &C,
) -> Result<VerifyResult, Error>
where
    C: Serialize + ?Sized,
{
    default_client()?.verify(permit_id, agent, action, context)
}

/// Blocking [`crate::gate`] on the default client.
pub fn gate<C>(agent: &str, action: &str, context: &C) -> Result<GateResult, Error>
where
    C: Serialize + ?Sized,
{
    default_client()?.gate(agent, action, context)
}

/// Blocking [`crate::authorize`] on the default client.
pub fn authorize<C>(agent: &str, action: &str, context: &C) -> Result<AuthorizationResult, Error>
where
    C: Serialize + ?Sized,
{
    default_client()?.authorize(agent, action, context)
}

/// Blocking [`crate::key_self`] on the default client.
pub fn key_self() -> Result<ApiKeySelf, Error> {
    default_client()?.key_self()
}

/// Blocking [`crate::revoke_permit`] on the default client.
pub fn revoke_permit(permit_id: &str, reason: Option<&str>) -> Result<RevokeResult, Error> {
    default_client()?.revoke_permit(permit_id, reason)
}
