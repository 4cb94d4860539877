//! [`TestServer`]: an in-process decision server behind a fault-injecting
//! proxy, with a client configured for it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use atlasent_server::{RunningServer, Server};
use serde_json::Value;

use crate::decisions::{self, RecordedDecision};
use crate::policy::Policy;
use crate::proxy::{Fault, Proxy};

/// The API key a [`TestServer`] accepts unless
/// [`TestServerBuilder::api_key`] names another.
pub const DEFAULT_API_KEY: &str = "ask_test_atlasent_testing";

/// How long [`TestServer::client`] waits for a reply: long enough for any
/// decision of an in-process server, short enough that a
/// [`Fault::Stall`] test fails in seconds.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a [`TestServer`] did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A policy did not load: which one, and every problem with it.
    #[error("policy {source_name} did not load: {message}")]
    Policy {
        /// Which policy: `file PATH`, `policy_json #N (policy_id "ID")`,
        /// `Policy "ID"`, or the set of them (two with one id).
        source_name: String,
        /// What is wrong, with each problem's JSON path.
        message: String,
    },
    /// The decision server did not start.
    #[error("the decision server did not start: {0}")]
    Server(#[from] atlasent_server::ServerError),
    /// The proxy in front of it could not listen.
    #[error("the fault-injecting proxy could not listen on 127.0.0.1: {0}")]
    Proxy(#[source] std::io::Error),
    /// The client could not be configured (an API key with white space, say).
    #[error("the client could not be configured: {0}")]
    Client(#[from] atlasent::Error),
}

/// A policy for [`TestServer::start`]: a JSON document
/// (`serde_json::Value`), a [`Policy`] built in Rust, a file or folder of
/// `*.json` policies (`&Path`, `PathBuf`, or a `&str`/`String` path), or a
/// compiled [`atlasent_server::Policy`].
#[derive(Debug)]
pub struct PolicySource(Source);

enum Source {
    Json(Value),
    Builder(Policy),
    File(PathBuf),
    Compiled(Box<atlasent_server::Policy>),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Json(v) => f.debug_tuple("Json").field(v).finish(),
            Source::Builder(p) => f.debug_tuple("Builder").field(p).finish(),
            Source::File(p) => f.debug_tuple("File").field(p).finish(),
            Source::Compiled(p) => f.debug_tuple("Compiled").field(&p.id()).finish(),
        }
    }
}

impl From<Value> for PolicySource {
    fn from(doc: Value) -> Self {
        PolicySource(Source::Json(doc))
    }
}

impl From<Policy> for PolicySource {
    fn from(policy: Policy) -> Self {
        PolicySource(Source::Builder(policy))
    }
}

impl From<atlasent_server::Policy> for PolicySource {
    fn from(policy: atlasent_server::Policy) -> Self {
        PolicySource(Source::Compiled(Box::new(policy)))
    }
}

impl From<PathBuf> for PolicySource {
    fn from(path: PathBuf) -> Self {
        PolicySource(Source::File(path))
    }
}

impl From<&Path> for PolicySource {
    fn from(path: &Path) -> Self {
        PolicySource(Source::File(path.to_owned()))
    }
}

/// A path to a policy file or folder (not JSON text: give a
/// `serde_json::Value` for that).
impl From<&str> for PolicySource {
    fn from(path: &str) -> Self {
        PolicySource(Source::File(path.into()))
    }
}

/// A path to a policy file or folder (not JSON text: give a
/// `serde_json::Value` for that).
impl From<String> for PolicySource {
    fn from(path: String) -> Self {
        PolicySource(Source::File(path.into()))
    }
}

/// Builds a [`TestServer`]; start with [`TestServer::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until .start() is called"]
pub struct TestServerBuilder {
    policies: Vec<PolicySource>,
    api_key: String,
    wire: atlasent::Wire,
}

impl TestServerBuilder {
    /// Add a policy given as the policy language's JSON document.
    pub fn policy_json(self, doc: Value) -> Self {
        self.source(doc)
    }

    /// Add a policy file, or every `*.json` file of a folder (a relative
    /// path is read from the working directory: under `cargo test`, the
    /// package's root).
    pub fn policy_file(self, path: impl AsRef<Path>) -> Self {
        self.source(path.as_ref())
    }

    /// Add a policy built in Rust.
    pub fn policy(self, policy: Policy) -> Self {
        self.source(policy)
    }

    /// Add a policy from any [`PolicySource`].
    pub fn source(mut self, source: impl Into<PolicySource>) -> Self {
        self.policies.push(source.into());
        self
    }

    /// The API key the server accepts and its clients send (default
    /// [`DEFAULT_API_KEY`]).
    pub fn api_key(mut self, key: &str) -> Self {
        key.clone_into(&mut self.api_key);
        self
    }

    /// The wire [`TestServer::client`] speaks (default
    /// [`Wire::Current`](atlasent::Wire::Current)); the server speaks both.
    pub fn wire(mut self, wire: atlasent::Wire) -> Self {
        self.wire = wire;
        self
    }

    /// Load the policies, start the decision server (in memory, on a free
    /// port of 127.0.0.1, served by the current tokio runtime) and its
    /// proxy.
    ///
    /// With no policy at all, every request is denied (`NO_TEMPLATE_MATCH`).
    ///
    /// It first calls [`atlasent::scoped_clients_only`], for good and for
    /// the whole process (the test binary): from then on a free function
    /// or `#[atlasent::protect]` call outside every
    /// [`atlasent::with_client`] scope fails with a configuration error
    /// naming `with_client`, instead of reaching the client of
    /// [`atlasent::configure`] or one built from `ATLASENT_API_KEY` (the
    /// developer's real API, say).
    pub async fn start(self) -> Result<TestServer, Error> {
        // A call that escaped its test's scope must fail, not reach
        // whatever the environment points at (tests/scoped_only.rs).
        atlasent::scoped_clients_only();
        let mut server = Server::builder()
            .api_key(self.api_key.as_str())
            // Tests read the audit log and call often: no 429 in the way.
            .rate_limit_per_minute(1_000_000);
        let mut json_n = 0;
        for PolicySource(source) in self.policies {
            server =
                match source {
                    Source::Json(doc) => {
                        json_n += 1;
                        let policy = atlasent_server::Policy::from_value(&doc).map_err(|e| {
                            let id = doc.get("policy_id").and_then(Value::as_str);
                            Error::Policy {
                                source_name: match id {
                                    Some(id) => format!("policy_json #{json_n} (policy_id {id:?})"),
                                    None => format!("policy_json #{json_n}"),
                                },
                                message: e.to_string(),
                            }
                        })?;
                        server.policy(policy)
                    }
                    Source::Builder(policy) => {
                        let compiled = atlasent_server::Policy::from_value(&policy.to_json())
                            .map_err(|e| Error::Policy {
                                source_name: format!("Policy {:?}", policy.id()),
                                message: e.to_string(),
                            })?;
                        server.policy(compiled)
                    }
                    Source::File(path) => {
                        let loaded =
                            atlasent_server::Policy::load(&path).map_err(|e| Error::Policy {
                                source_name: format!("file {}", path.display()),
                                message: file_error(&e),
                            })?;
                        if loaded.is_empty() {
                            return Err(Error::Policy {
                                source_name: format!("file {}", path.display()),
                                message: "the folder holds no *.json policy".into(),
                            });
                        }
                        loaded.into_iter().fold(server, |s, p| s.policy(p))
                    }
                    Source::Compiled(policy) => server.policy(*policy),
                };
        }
        let running = server.start().await.map_err(|e| match e {
            atlasent_server::ServerError::Policy(e) => Error::Policy {
                source_name: "set".into(),
                message: e.to_string(),
            },
            other => Error::Server(other),
        })?;
        let proxy = Proxy::start(running.local_addr())
            .await
            .map_err(Error::Proxy)?;
        let base_url = format!("http://{}", proxy.addr());
        let client = atlasent::Client::builder()
            .api_key(self.api_key.as_str())
            .base_url(base_url.as_str())
            .wire(self.wire)
            .timeout(CLIENT_TIMEOUT)
            .connect_timeout(CLIENT_TIMEOUT)
            .max_retries(0)
            .build()?;
        // Reads the audit log straight from the server: faults do not apply.
        let audit = atlasent::Client::builder()
            .api_key(self.api_key.as_str())
            .base_url(running.base_url())
            .timeout(Duration::from_secs(10))
            .max_retries(0)
            .build()?;
        Ok(TestServer {
            proxy,
            server: running,
            base_url,
            api_key: self.api_key,
            client,
            audit,
        })
    }
}

/// `PolicyError` names the file itself; say only the rest.
fn file_error(e: &atlasent_server::policy::PolicyError) -> String {
    use atlasent_server::policy::PolicyError;
    match e {
        PolicyError::Io { source, .. } => source.to_string(),
        PolicyError::Json { source, .. } => format!("not valid JSON: {source}"),
        PolicyError::Invalid { errors, .. } => errors.to_string(),
        other => other.to_string(),
    }
}

/// An in-process decision server for one test: the real `atlasent-server`
/// (policies, signed single-use permits, audit log), in memory, on a free
/// port of 127.0.0.1, behind a small proxy that can inject
/// [faults](Fault). It stops when dropped.
///
/// Starting one takes milliseconds, so give every test its own: tests then
/// run in parallel without seeing each other's policies or decisions.
///
/// ```
/// use atlasent_testing::{Rule, Policy, TestServer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::start(Policy::new("ops").rule(Rule::allow("read_logs"))).await;
/// let client = server.client();
///
/// client.protect("ops-bot", "read_logs", &()).await.expect("allowed");
/// let err = client.protect("ops-bot", "drop_table", &()).await.expect_err("denied");
/// assert!(err.is_denied());
///
/// server
///     .assert_decisions(&[
///         ("ops-bot", "read_logs", atlasent::Decision::Allow),
///         ("ops-bot", "drop_table", atlasent::Decision::Deny),
///     ])
///     .await;
/// # }
/// ```
pub struct TestServer {
    // Declared first: dropped first, so no connection outlives the server.
    proxy: Proxy,
    server: RunningServer,
    base_url: String,
    api_key: String,
    client: atlasent::Client,
    audit: atlasent::Client,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("base_url", &self.base_url)
            .field("server", &self.server.base_url())
            .field("fault", &self.proxy.fault())
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// Start a server with one policy (or a folder of them): a JSON
    /// document, a [`Policy`], or a path. See [`TestServer::builder`] for
    /// several policies, another API key or the legacy wire.
    ///
    /// # Panics
    ///
    /// When the policy does not load (naming it and every problem with its
    /// JSON path) or the server cannot start: this is a test helper, and
    /// the test cannot go on. [`TestServerBuilder::start`] returns the
    /// [`Error`] instead.
    pub async fn start(policy: impl Into<PolicySource>) -> TestServer {
        match TestServer::builder().source(policy).start().await {
            Ok(server) => server,
            Err(e) => panic!("atlasent-testing: the test server did not start: {e}"),
        }
    }

    /// A builder: policies, API key, wire.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder {
            policies: Vec::new(),
            api_key: DEFAULT_API_KEY.to_owned(),
            wire: atlasent::Wire::Current,
        }
    }

    /// `http://127.0.0.1:PORT`: where clients reach the server (through
    /// the fault-injecting proxy), for a client you build yourself.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The API key the server accepts.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// A client of this server: its key, its URL (through the proxy, so
    /// faults apply), the builder's wire, a [`CLIENT_TIMEOUT`] of 2 s (for
    /// connecting and for each reply) and **no retries**, so that a fault
    /// fails the first attempt and a [`Fault::Stall`] test takes 2 s, not
    /// the default 10 s times three. Clones share one connection pool.
    pub fn client(&self) -> atlasent::Client {
        self.client.clone()
    }

    /// A blocking client configured as [`client`](TestServer::client), for
    /// [`atlasent::blocking::with_client`].
    ///
    /// The decision server runs on the tokio runtime that started it: call
    /// the blocking client from a thread that runtime does not need (a
    /// `spawn_blocking` task of a multi-thread runtime, or a plain `#[test]`
    /// that keeps its own runtime alive), never from inside an async task
    /// (the blocking client refuses that).
    ///
    /// # Panics
    ///
    /// When the blocking client's own runtime cannot be started.
    #[cfg(feature = "blocking")]
    pub fn blocking_client(&self) -> atlasent::blocking::Client {
        match atlasent::blocking::Client::from_async(self.client()) {
            Ok(client) => client,
            Err(e) => panic!("atlasent-testing: the blocking client did not start: {e}"),
        }
    }

    /// Make the proxy misbehave (or, with [`Fault::None`], stop): every
    /// connection accepted from now on gets `fault`, and every live
    /// connection (to the client and to the server) is closed at once, so
    /// that a pooled connection cannot carry a request past the switch.
    ///
    /// Once this returns, no new request reaches the server: neither one
    /// sent after it nor one the proxy had accepted but not yet forwarded.
    /// A request already forwarded before the switch may still be decided
    /// by the server: its client sees the closed connection (a network
    /// error), but the decision is in [`decisions`](TestServer::decisions).
    /// Switch while no call is in flight for exact decisions.
    pub fn set_fault(&self, fault: Fault) {
        self.proxy.set_fault(fault);
    }

    /// Every evaluation this server decided, in order, read back from its
    /// audit log (bypassing the proxy: faults do not apply). A request the
    /// proxy stopped never reached the server and is not here.
    ///
    /// A request the proxy had already forwarded when
    /// [`set_fault`](TestServer::set_fault) switched may be here although
    /// its call failed: the server decided it, and the switch closed the
    /// connection before the answer reached the client. Such a decision may
    /// also be recorded a moment after `set_fault` returns.
    ///
    /// # Panics
    ///
    /// When the audit log cannot be read or holds an event this crate does
    /// not understand.
    pub async fn decisions(&self) -> Vec<RecordedDecision> {
        match decisions::read(&self.audit).await {
            Ok(decisions) => decisions,
            Err(e) => panic!("atlasent-testing: could not read the test server's decisions: {e}"),
        }
    }

    /// Assert that the server decided exactly these (agent, action,
    /// decision), in this order, and nothing else.
    ///
    /// # Panics
    ///
    /// When they differ, listing what was expected and what was decided
    /// (with each decision's reason).
    pub async fn assert_decisions(&self, expected: &[(&str, &str, atlasent::Decision)]) {
        let actual = self.decisions().await;
        if let Some(message) = decisions::compare(expected, &actual) {
            panic!("{message}");
        }
    }

    /// Assert that the server decided nothing at all.
    ///
    /// # Panics
    ///
    /// When it decided anything, listing it.
    pub async fn assert_no_decisions(&self) {
        self.assert_decisions(&[]).await;
    }
}
