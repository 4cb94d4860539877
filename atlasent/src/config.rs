//! Client configuration: the builder, its defaults and the environment.

use std::fmt;
use std::time::Duration;

use crate::error::Error;

/// The hosted AtlaSent API.
pub const DEFAULT_BASE_URL: &str = "https://api.atlasent.io";
/// Per-attempt timeout (Python SDK: 10 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connect timeout, part of the per-attempt timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries after the first attempt for timeouts, connection failures and 5xx
/// (Python SDK: 2).
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Backoff before the first retry; it doubles on each retry (Python SDK: 0.5 s).
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// No single backoff sleep is longer than this.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Replies larger than this are refused as `bad_response` (1 MiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = crate::wire::limits::DEFAULT_MAX_RESPONSE_BYTES;

/// Audit export bundles larger than this are refused (256 MiB).
pub const DEFAULT_MAX_EXPORT_BYTES: usize = crate::wire::limits::DEFAULT_MAX_EXPORT_BYTES;

/// The environment variable holding the API key.
pub const ENV_API_KEY: &str = "ATLASENT_API_KEY";
/// The environment variable overriding the base URL.
pub const ENV_BASE_URL: &str = "ATLASENT_BASE_URL";
/// The environment variable choosing the wire: `current` or `legacy`.
pub const ENV_WIRE: &str = "ATLASENT_WIRE";
/// The environment variable allowing plain `http://` to hosts other than
/// loopback: `1` has the effect of
/// [`ClientBuilder::allow_insecure_http(true)`](ClientBuilder::allow_insecure_http),
/// `0` (or unset) none. Python `atlasent` 2.x reads the same variable. The
/// API key then travels in clear text: only set it inside a network you trust.
pub const ENV_ALLOW_INSECURE_HTTP: &str = "ATLASENT_ALLOW_INSECURE_HTTP";

/// Which request and reply shapes the client speaks on `/v1-evaluate` and
/// `/v1-verify-permit`.
///
/// | | [`Current`](Wire::Current) (default) | [`Legacy`](Wire::Legacy) |
/// |---|---|---|
/// | spoken by | Python `atlasent` 2.x, the hosted API today | Python `atlasent` 1.4.1 |
/// | evaluate request | `{action_type, actor_id, context}` | `{action, agent, context, api_key}` |
/// | evaluate reply | `{decision: allow\|deny\|hold\|escalate, permit_token, expires_at, denial, …}` (the 1.4.1 reply is accepted too) | `{permitted, decision_id, reason, …}` |
/// | verify request | `{permit_token, action_type, actor_id, environment?, execution_hash?}` | `{decision_id, action, agent, context, api_key}` |
/// | verify reply | `{valid, outcome, verify_error_code, reason, consumed, permit_token, …}` | `{verified, outcome, permit_hash, …}` |
/// | API key | `Authorization` header only | header and body |
///
/// Choose `Legacy` for a server that speaks only the 1.4.1 shape. Every
/// other call (key introspection, revocation, audit, permits by id) is the
/// same on both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Wire {
    /// The shape of the current SDKs (Python 2.18): the default.
    #[default]
    Current,
    /// The shape of Python `atlasent` 1.4.1.
    Legacy,
}

impl Wire {
    /// `"current"` or `"legacy"`, as `ATLASENT_WIRE` spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Legacy => "legacy",
        }
    }
}

impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Wire {
    type Err = Error;

    /// `current` or `legacy` (surrounding whitespace ignored); anything else
    /// is [`Error::Config`] naming both.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "current" => Ok(Self::Current),
            "legacy" => Ok(Self::Legacy),
            other => Err(Error::config(format!(
                "{ENV_WIRE} must be `current` or `legacy`, got {:?}",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }
}

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ApiKey(String);

impl ApiKey {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

/// A validated, resolved configuration, shared by every clone of a client.
///
/// Its `Debug` shows everything but the API key.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) api_key: ApiKey,
    pub(crate) base_url: String,
    allow_insecure_http: bool,
    pub(crate) user_agent: String,
    pub(crate) wire: Wire,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_response_bytes: usize,
    pub(crate) max_export_bytes: usize,
}

impl Config {
    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
    /// The per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// Retries after the first attempt.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }
    /// The backoff before the first retry.
    pub fn retry_backoff(&self) -> Duration {
        self.retry_backoff
    }
    /// The cap on one backoff sleep.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }
    /// The largest reply body accepted.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }
    /// The largest audit export accepted.
    pub fn max_export_bytes(&self) -> usize {
        self.max_export_bytes
    }
    /// Whether plain `http://` to hosts other than loopback is allowed.
    pub fn allow_insecure_http(&self) -> bool {
        self.allow_insecure_http
    }
    /// The `User-Agent` sent.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }
    /// The wire spoken on evaluate and verify.
    pub fn wire(&self) -> Wire {
        self.wire
    }
}

/// Builds a [`Client`](crate::Client); start with
/// [`Client::builder`](crate::Client::builder).
///
/// Every setting has the Python SDK's default; only the API key is required.
/// Nothing is validated until [`build`](ClientBuilder::build), which reports
/// the first problem as [`Error::Config`].
#[derive(Clone)]
#[must_use = "a builder does nothing until .build() is called"]
pub struct ClientBuilder {
    api_key: Option<String>,
    base_url: Option<Setting<String>>,
    timeout: Duration,
    connect_timeout: Duration,
    max_retries: u32,
    retry_backoff: Duration,
    max_backoff: Duration,
    max_response_bytes: usize,
    max_export_bytes: usize,
    allow_insecure_http: Setting<bool>,
    user_agent_suffix: Option<String>,
    wire: Setting<Wire>,
}

/// Where a setting comes from: a builder call, or the environment. A value
/// read from the environment is checked at `build()`, so that a bad one is a
/// configuration error there naming its variable, like a bad base URL.
#[derive(Debug, Clone)]
enum Setting<T> {
    Given(T),
    Env(String),
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_export_bytes: DEFAULT_MAX_EXPORT_BYTES,
            allow_insecure_http: Setting::Given(false),
            user_agent_suffix: None,
            wire: Setting::Given(Wire::default()),
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("wire", &self.wire)
            .finish_non_exhaustive()
    }
}

/// The setters of [`ClientBuilder`], as one table: calls `$then!` with
/// every setter (its docs, name, argument and the assignment it makes).
/// The async builder defines them from it ([`define_setters`]), the
/// blocking one forwards them (`blocking::ClientBuilder`), so a setter is
/// listed once.
macro_rules! builder_setters {
    ($then:ident) => {
        $then! {
            /// The wire to speak on evaluate and verify (default
            /// [`Wire::Current`](crate::Wire::Current); overrides `ATLASENT_WIRE`).
            wire(wire: crate::Wire) => wire = Setting::Given(wire);
            /// The API key (`ask_live_…`), sent as `Authorization: Bearer` and, on
            /// [`Wire::Legacy`](crate::Wire::Legacy), in the body too, as the 1.4.1
            /// contract requires. Required.
            api_key(key: impl Into<String>) => api_key = Some(key.into());
            /// The API's base URL (default [`DEFAULT_BASE_URL`](crate::DEFAULT_BASE_URL);
            /// overrides `ATLASENT_BASE_URL`), with its scheme: `https://…`, or
            /// `http://…` for a local server. A path prefix is kept
            /// (`https://gw.example/atlasent` → `…/atlasent/v1-evaluate`). `http://`
            /// is accepted only for loopback hosts unless
            /// [`allow_insecure_http`](Self::allow_insecure_http) is set.
            base_url(url: impl Into<String>) => base_url = Some(Setting::Given(url.into()));
            /// The timeout of one attempt, from connecting to the last byte of the
            /// reply (default 10 s). Must be non-zero.
            timeout(timeout: Duration) => timeout = timeout;
            /// The timeout for establishing a connection (default 5 s).
            connect_timeout(timeout: Duration) => connect_timeout = timeout;
            /// Retries after the first attempt for timeouts, connection failures and
            /// 5xx (default 2; 0 disables retries). 4xx, including 429, and malformed
            /// replies are never retried.
            max_retries(retries: u32) => max_retries = retries;
            /// The backoff before the first retry (default 500 ms). It doubles each
            /// retry, is capped by [`max_backoff`](Self::max_backoff), and each sleep
            /// is drawn uniformly from its upper half so that clients do not retry in
            /// step.
            retry_backoff(backoff: Duration) => retry_backoff = backoff;
            /// The cap on a single backoff sleep (default 8 s).
            max_backoff(cap: Duration) => max_backoff = cap;
            /// The largest reply body accepted (default 1 MiB); a larger one is
            /// `bad_response`. Raise it for large audit exports.
            max_response_bytes(bytes: usize) => max_response_bytes = bytes;
            /// The largest audit export bundle accepted (default 256 MiB).
            max_export_bytes(bytes: usize) => max_export_bytes = bytes;
            /// Allow plain `http://` to hosts other than loopback (default false;
            /// overrides `ATLASENT_ALLOW_INSECURE_HTTP`, its equivalent in the
            /// environment). Plain `http://` to loopback needs neither. The API key
            /// travels in every request: only do this inside a network you trust.
            allow_insecure_http(allow: bool) => allow_insecure_http = Setting::Given(allow);
            /// Append a product token to the `User-Agent`
            /// (`atlasent-rust/<version> <suffix>`).
            user_agent_suffix(suffix: impl Into<String>) =>
                user_agent_suffix = Some(suffix.into());
        }
    };
}
#[cfg(feature = "blocking")]
pub(crate) use builder_setters;

/// The setters of [`ClientBuilder`] from [`builder_setters`]'s table.
macro_rules! define_setters {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $field:ident = $value:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, $arg: $ty) -> Self {
            self.$field = $value;
            self
        }
    )*};
}

impl ClientBuilder {
    /// A builder pre-filled from an environment, read through `lookup`
    /// (tests pass a closure over a map instead of mutating the process
    /// environment):
    ///
    /// - `ATLASENT_API_KEY`, as [`api_key`](Self::api_key);
    /// - `ATLASENT_BASE_URL`, as [`base_url`](Self::base_url);
    /// - `ATLASENT_WIRE`: `current` or `legacy`, as [`wire`](Self::wire);
    /// - `ATLASENT_ALLOW_INSECURE_HTTP`: `1` or `0`, as
    ///   [`allow_insecure_http`](Self::allow_insecure_http) (see
    ///   [`ENV_ALLOW_INSECURE_HTTP`] before setting it).
    ///
    /// Empty values count as unset; any other value
    /// [`build`](crate::ClientBuilder::build) cannot use is an
    /// [`Error::Config`] naming the variable. A later builder call overrides
    /// what was read.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |name| lookup(name).filter(|v: &String| !v.trim().is_empty());
        let defaults = Self::default();
        Self {
            api_key: non_empty(ENV_API_KEY),
            base_url: non_empty(ENV_BASE_URL).map(Setting::Env),
            wire: non_empty(ENV_WIRE).map_or(defaults.wire.clone(), Setting::Env),
            allow_insecure_http: non_empty(ENV_ALLOW_INSECURE_HTTP)
                .map_or(defaults.allow_insecure_http.clone(), Setting::Env),
            ..defaults
        }
    }

    builder_setters!(define_setters);

    /// Validate the settings into a [`Config`].
    pub(crate) fn into_config(self) -> Result<Config, Error> {
        let wire = match &self.wire {
            Setting::Given(wire) => *wire,
            Setting::Env(value) => value.parse()?,
        };
        let allow_insecure_http = match &self.allow_insecure_http {
            Setting::Given(allow) => *allow,
            Setting::Env(value) => match value.trim() {
                "1" => true,
                "0" => false,
                other => {
                    return Err(Error::config(format!(
                        "{ENV_ALLOW_INSECURE_HTTP} must be `1` or `0`, got {:?}",
                        other.chars().take(40).collect::<String>()
                    )))
                }
            },
        };
        let api_key = match self.api_key {
            Some(key) if !key.trim().is_empty() => key,
            _ => {
                return Err(Error::config(
                    "no API key: set ATLASENT_API_KEY, call .api_key(..) on the builder, \
                     or atlasent::configure(..)",
                ))
            }
        };
        if api_key.chars().any(|c| c.is_control() || c == ' ') {
            return Err(Error::config(
                "the API key contains whitespace or control characters",
            ));
        }
        if self.timeout.is_zero() {
            return Err(Error::config("timeout must be greater than zero"));
        }
        if self.connect_timeout.is_zero() {
            return Err(Error::config("connect_timeout must be greater than zero"));
        }
        if self.max_response_bytes == 0 {
            return Err(Error::config(
                "max_response_bytes must be greater than zero",
            ));
        }
        let base_url = match &self.base_url {
            None => validate_base_url(DEFAULT_BASE_URL, "the base URL", allow_insecure_http),
            Some(Setting::Given(url)) => {
                validate_base_url(url, "the base URL", allow_insecure_http)
            }
            Some(Setting::Env(url)) => validate_base_url(url, ENV_BASE_URL, allow_insecure_http),
        }?;
        let mut user_agent = format!("atlasent-rust/{}", env!("CARGO_PKG_VERSION"));
        if let Some(suffix) = self.user_agent_suffix.filter(|s| !s.is_empty()) {
            if suffix.chars().any(|c| c.is_control()) {
                return Err(Error::config(
                    "user_agent_suffix contains control characters",
                ));
            }
            user_agent.push(' ');
            user_agent.push_str(&suffix);
        }
        Ok(Config {
            api_key: ApiKey(api_key),
            base_url,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            max_retries: self.max_retries,
            retry_backoff: self.retry_backoff,
            max_backoff: self.max_backoff.max(self.retry_backoff),
            max_response_bytes: self.max_response_bytes,
            max_export_bytes: self.max_export_bytes,
            allow_insecure_http,
            user_agent,
            wire,
        })
    }
}

/// Check a base URL and return it without trailing slashes. `name` says
/// where it came from (`the base URL` or `ATLASENT_BASE_URL`) in errors.
fn validate_base_url(raw: &str, name: &str, allow_insecure_http: bool) -> Result<String, Error> {
    let trimmed = raw.trim().trim_end_matches('/');
    if let Some(err) = missing_scheme(trimmed, name) {
        return Err(err);
    }
    let url = reqwest::Url::parse(trimmed).map_err(|e| {
        Error::config(format!(
            "{name} {} is not a valid URL: {e}",
            quoted_unless_credentials(trimmed)
        ))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(credentials_in(name));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "{name} {:?} must not have a query or fragment",
            url.origin().ascii_serialization()
        )));
    }
    let host = url.host_str();
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure_http || host.is_some_and(is_loopback) => {}
        "http" => {
            return Err(Error::config(format!(
                "refusing plain http:// to {trimmed}: the API key would travel in clear text. \
                 Use https://, a loopback address, or, only inside a network you trust, \
                 .allow_insecure_http(true) on the builder or {ENV_ALLOW_INSECURE_HTTP}=1"
            )))
        }
        other => {
            return Err(Error::config(format!(
                "{name} {trimmed:?}: the scheme {other:?} is not supported; use https://"
            )))
        }
    }
    if host.is_none_or(str::is_empty) {
        return Err(Error::config(format!("{name} {trimmed:?} has no host")));
    }
    Ok(trimmed.to_owned())
}

/// The error for a base URL written without its scheme, with the fix:
/// `127.0.0.1:8787` does not parse as a URL at all ("relative URL without a
/// base"), and `localhost:8787` parses with the scheme `localhost`. `None`
/// when `value` has a scheme, or would not be a URL with one either.
fn missing_scheme(value: &str, name: &str) -> Option<Error> {
    let parsed = reqwest::Url::parse(value);
    if value.contains("://") || parsed.is_ok_and(|url| matches!(url.scheme(), "http" | "https")) {
        return None;
    }
    let url = reqwest::Url::parse(&format!("http://{value}")).ok()?;
    if !url.username().is_empty() || url.password().is_some() {
        return Some(credentials_in(name));
    }
    let host = url.host_str().filter(|h| !h.is_empty())?;
    // A local server speaks plain HTTP (allowed to loopback); anything else
    // would be refused without TLS.
    let fix = if is_loopback(host) {
        format!(
            "write {:?} (or {:?} if it speaks TLS)",
            format!("http://{value}"),
            format!("https://{value}")
        )
    } else {
        format!("write {:?}", format!("https://{value}"))
    };
    Some(Error::config(format!(
        "{name} {value:?} has no scheme: {fix}"
    )))
}

fn credentials_in(name: &str) -> Error {
    // Credentials in a URL end up in logs and error messages.
    Error::config(format!(
        "{name} must not contain credentials; pass the key with .api_key(..) or ATLASENT_API_KEY"
    ))
}

/// `value` in quotes, or a placeholder when it may hold credentials
/// (`user:key@host`): error messages never show a secret.
fn quoted_unless_credentials(value: &str) -> String {
    if value.contains('@') {
        "(not shown: it contains '@', so it may hold credentials)".to_owned()
    } else {
        format!("{value:?}")
    }
}

/// `localhost`, 127.0.0.0/8 or ::1.
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
