//! HTTP mechanics: one request with its retries, headers, body cap and the
//! mapping of every failure onto an [`ErrorCode`].

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::config::Config;
use crate::error::{Error, ErrorCode, RequestError};
use crate::results::RateLimit;
use crate::wire::{paths, ErrorResponse, ReplyBody};

/// Header names built once: looking a header up (or adding one) by a `&str`
/// parses the name each time, and a name outside the standard set is copied.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// The endpoints of the API. Those under `/v1/permits/{id}` take the id
/// from the [`Target`] of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Evaluate,
    Verify,
    Revoke,
    KeySelf,
    AuditEvents,
    AuditExports,
    SigningKeys,
    Permits,
    Permit,
    PermitVerify,
    PermitRevoke,
}

impl Endpoint {
    const ALL: [Endpoint; 11] = [
        Self::Evaluate,
        Self::Verify,
        Self::Revoke,
        Self::KeySelf,
        Self::AuditEvents,
        Self::AuditExports,
        Self::SigningKeys,
        Self::Permits,
        Self::Permit,
        Self::PermitVerify,
        Self::PermitRevoke,
    ];

    /// The path, as messages name it (`{id}` for the permit's id).
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::Evaluate => paths::EVALUATE,
            Self::Verify => paths::VERIFY_PERMIT,
            Self::Revoke => paths::REVOKE_PERMIT,
            Self::KeySelf => paths::API_KEY_SELF,
            Self::AuditEvents => paths::AUDIT_EVENTS,
            Self::AuditExports => paths::AUDIT_EXPORTS,
            Self::SigningKeys => paths::SIGNING_KEYS,
            Self::Permits => paths::PERMITS,
            Self::Permit => paths::PERMIT,
            Self::PermitVerify => paths::PERMIT_VERIFY,
            Self::PermitRevoke => paths::PERMIT_REVOKE,
        }
    }

    /// The path with `id` percent-encoded into it (every byte outside
    /// RFC 3986's unreserved set), for the endpoints that take one.
    fn path_with(self, id: &str) -> String {
        paths::with_id(self.path(), &percent_encode(id))
    }

    fn takes_id(self) -> bool {
        matches!(self, Self::Permit | Self::PermitVerify | Self::PermitRevoke)
    }

    /// The largest reply accepted on this endpoint, and the setting that
    /// raises it: audit listings and exports can be large.
    fn reply_cap(self, config: &Config) -> (usize, &'static str) {
        match self {
            Self::AuditEvents | Self::AuditExports => (config.max_export_bytes, "max_export_bytes"),
            _ => (config.max_response_bytes, "max_response_bytes"),
        }
    }

    fn is_post(self) -> bool {
        !matches!(
            self,
            Self::KeySelf | Self::AuditEvents | Self::SigningKeys | Self::Permits | Self::Permit
        )
    }
}

/// Where one call goes: an endpoint, and the id for those that take one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) endpoint: Endpoint,
    pub(crate) id: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// `endpoint` about the record `id`.
    pub(crate) fn by_id(endpoint: Endpoint, id: &'a str) -> Self {
        Self {
            endpoint,
            id: Some(id),
        }
    }
}

impl From<Endpoint> for Target<'_> {
    fn from(endpoint: Endpoint) -> Self {
        Self { endpoint, id: None }
    }
}

/// `id` with every byte outside `A-Z a-z 0-9 - . _ ~` written `%XX`, so that
/// it stays one path segment (`/`, `?`, `#`, `%` are encoded). The caller
/// refuses `.` and `..`, which a URL parser would resolve away.
pub(crate) fn percent_encode(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push_str(&hex::encode_upper([byte]));
        }
    }
    out
}

/// A parsed reply and what its headers said.
pub(crate) struct Reply<T> {
    pub(crate) body: T,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) request_id: String,
}

/// The HTTP client of one [`Client`](crate::Client), shared by its clones.
pub(crate) struct Transport {
    http: reqwest::Client,
    pub(crate) config: Config,
    urls: [reqwest::Url; Endpoint::ALL.len()],
}

impl Transport {
    pub(crate) fn new(config: Config) -> Result<Self, Error> {
        let mut auth = HeaderValue::try_from(format!("Bearer {}", config.api_key.expose()))
            .map_err(|_| Error::config("the API key is not a valid HTTP header value"))?;
        // Keeps the key out of hyper's and reqwest's own Debug output.
        auth.set_sensitive(true);
        let mut headers = HeaderMap::with_capacity(2);
        headers.insert(header::AUTHORIZATION, auth);
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));

        let is_loopback = reqwest::Url::parse(&config.base_url)
            .ok()
            .and_then(|u| u.host_str().map(crate::config::is_loopback))
            .unwrap_or(false);
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(config.user_agent.clone())
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            // A redirect could carry the key to another host; the API never redirects.
            .redirect(reqwest::redirect::Policy::none());
        if is_loopback {
            // A proxy from HTTP_PROXY must not intercept a local server.
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| Error::config(format!("could not build the HTTP client: {e}")))?;

        // Endpoints that take an id get theirs per call; their entry here is
        // only a placeholder that proves the base URL forms URLs at all.
        let urls = Endpoint::ALL
            .map(|endpoint| {
                reqwest::Url::parse(&format!("{}{}", config.base_url, endpoint.path_with("x")))
            })
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .ok()
            .and_then(|urls| urls.try_into().ok())
            .ok_or_else(|| Error::config("the base URL does not form valid endpoint URLs"))?;
        Ok(Self { http, config, urls })
    }

    /// The URL of one call; refused before anything is sent if it cannot be
    /// formed (never the case for an encoded id under a valid base URL).
    fn url(&self, target: Target<'_>) -> Result<Cow<'_, reqwest::Url>, Error> {
        let endpoint = target.endpoint;
        match (endpoint.takes_id(), target.id) {
            (false, _) => Ok(Cow::Borrowed(&self.urls[endpoint as usize])),
            (true, Some(id)) => reqwest::Url::parse(&format!(
                "{}{}",
                self.config.base_url,
                endpoint.path_with(id)
            ))
            .map(Cow::Owned)
            .map_err(|e| Error::invalid(format!("{} could not form a URL: {e}", endpoint.path()))),
            (true, None) => Err(Error::invalid(format!(
                "{} needs a permit id",
                endpoint.path()
            ))),
        }
    }

    /// Send one call, retrying transient failures with the same request id,
    /// and parse the reply strictly as `T`.
    pub(crate) async fn send<'a, T: ReplyBody>(
        &self,
        target: impl Into<Target<'a>>,
        body: Option<Vec<u8>>,
        query: &[(&str, String)],
    ) -> Result<Reply<T>, Error> {
        let target = target.into();
        self.send_with(target, body, query, |bytes| {
            parse_strict::<T>(target.endpoint, bytes)
        })
        .await
    }

    /// Send one call and convert a 2xx body with `parse`; transient failures
    /// (including a body cut off mid-way) are retried with the same request id.
    pub(crate) async fn send_with<'a, T>(
        &self,
        target: impl Into<Target<'a>>,
        body: Option<Vec<u8>>,
        query: &[(&str, String)],
        parse: impl Fn(&[u8]) -> Result<T, RequestError>,
    ) -> Result<Reply<T>, Error> {
        let target = target.into();
        let endpoint = target.endpoint;
        let url = self.url(target)?;
        let request_id = new_request_id();
        tracing::Span::current().record("request_id", request_id.as_str());
        let body = body.map(bytes::Bytes::from);
        let max_attempts = self.config.max_retries.saturating_add(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self
                .attempt(endpoint, &url, body.clone(), query, &request_id)
                .await;
            let failure = match outcome {
                Ok((bytes, rate_limit)) => match parse(&bytes) {
                    Ok(body) => {
                        return Ok(Reply {
                            body,
                            rate_limit,
                            request_id,
                        })
                    }
                    Err(failure) => failure,
                },
                Err(failure) => failure,
            };
            if failure.code.is_transient() && attempt < max_attempts {
                let delay = self.backoff(attempt, failure.retry_after);
                tracing::warn!(
                    endpoint = endpoint.path(),
                    attempt,
                    code = failure.code.as_str(),
                    delay_ms = delay.as_millis() as u64,
                    "transient failure, retrying"
                );
                tokio::time::sleep(delay).await;
                continue;
            }
            return Err(self.finish(failure, attempt, request_id));
        }
    }

    /// One attempt: the raw body of a 2xx reply, or the failure.
    async fn attempt(
        &self,
        endpoint: Endpoint,
        url: &reqwest::Url,
        body: Option<bytes::Bytes>,
        query: &[(&str, String)],
        request_id: &str,
    ) -> Result<(bytes::Bytes, Option<RateLimit>), RequestError> {
        let url = url.clone();
        let mut request = if endpoint.is_post() {
            self.http
                .post(url)
                .header(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )
                .body(body.unwrap_or_default())
        } else {
            self.http.get(url)
        };
        request = request.header(X_REQUEST_ID, request_id);
        if !query.is_empty() {
            request = request.query(query);
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_failure(endpoint, e))?;
        // Before anything of the reply is read; dropping it unread also
        // closes the connection instead of pooling one that is out of step.
        check_request_id(endpoint, response.headers(), request_id)?;
        let status = response.status().as_u16();
        let rate_limit = parse_rate_limit(response.headers());
        let retry_after = parse_retry_after(response.headers(), SystemTime::now());
        let bytes = self.read_capped(endpoint, response).await?;
        if (200..300).contains(&status) {
            return Ok((bytes, rate_limit));
        }
        Err(status_failure(status, &bytes, retry_after))
    }

    /// Read a body, refusing it once it exceeds the configured cap. A body
    /// that arrives in one chunk (a small reply) is that chunk, not a copy.
    async fn read_capped(
        &self,
        endpoint: Endpoint,
        mut response: reqwest::Response,
    ) -> Result<bytes::Bytes, RequestError> {
        let (cap, setting) = endpoint.reply_cap(&self.config);
        let too_large = || {
            RequestError::new(
                ErrorCode::BadResponse,
                format!(
                    "{} reply is larger than the {cap}-byte limit ({setting})",
                    endpoint.path()
                ),
            )
        };
        let declared = response.content_length().unwrap_or(0);
        if declared > cap as u64 {
            return Err(too_large());
        }
        let Some(first) = self.next_chunk(endpoint, &mut response).await? else {
            return Ok(bytes::Bytes::new());
        };
        if first.len() > cap {
            return Err(too_large());
        }
        let Some(second) = self.next_chunk(endpoint, &mut response).await? else {
            return Ok(first);
        };
        let mut buf = Vec::with_capacity((declared as usize).max(first.len() + second.len()));
        buf.extend_from_slice(&first);
        let mut chunk = Some(second);
        while let Some(part) = chunk {
            if buf.len() + part.len() > cap {
                return Err(too_large());
            }
            buf.extend_from_slice(&part);
            chunk = self.next_chunk(endpoint, &mut response).await?;
        }
        Ok(buf.into())
    }

    async fn next_chunk(
        &self,
        endpoint: Endpoint,
        response: &mut reqwest::Response,
    ) -> Result<Option<bytes::Bytes>, RequestError> {
        response
            .chunk()
            .await
            .map_err(|e| self.transport_failure(endpoint, e))
    }

    fn transport_failure(&self, endpoint: Endpoint, e: reqwest::Error) -> RequestError {
        let (code, message) = if e.is_timeout() {
            (
                ErrorCode::Timeout,
                format!(
                    "no complete reply from {} within {:?}",
                    endpoint.path(),
                    self.config.timeout
                ),
            )
        } else if e.is_connect() {
            (
                ErrorCode::Network,
                format!(
                    "could not connect to {}: {}",
                    self.config.base_url,
                    root_cause(&e)
                ),
            )
        } else {
            (
                ErrorCode::Network,
                format!(
                    "connection to {} failed during {}: {}",
                    self.config.base_url,
                    endpoint.path(),
                    root_cause(&e)
                ),
            )
        };
        let mut failure = RequestError::new(code, message);
        failure.source = Some(Box::new(e));
        failure
    }

    /// Exponential backoff with jitter in the upper half, capped; a server's
    /// `Retry-After` (on a 503, say) lengthens it up to the same cap.
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let cap = self.config.max_backoff;
        let base = self
            .config
            .retry_backoff
            .saturating_mul(1u32 << (attempt - 1).min(20))
            .min(cap);
        let half = base / 2;
        let jitter = half.mul_f64(random_unit());
        let delay = half + jitter;
        match retry_after {
            Some(wanted) => delay.max(wanted.min(cap)),
            None => delay,
        }
    }

    /// Stamp the final failure with its attempt count and request id, and make
    /// sure no server echo of the key survives in its message.
    fn finish(&self, mut failure: RequestError, attempts: u32, request_id: String) -> Error {
        failure.attempts = attempts;
        failure.request_id = Some(request_id);
        let key = self.config.api_key.expose();
        if failure.message.contains(key) {
            failure.message = failure.message.replace(key, "[REDACTED]");
        }
        failure.into()
    }
}

/// A 2xx body read strictly as `T`, or the `bad_response` saying why not.
pub(crate) fn parse_strict<T: ReplyBody>(
    endpoint: Endpoint,
    bytes: &[u8],
) -> Result<T, RequestError> {
    crate::wire::from_slice_strict::<T>(bytes).map_err(|e| malformed::<T>(endpoint, bytes, &e))
}

/// A `bad_response` for a 2xx body that is not a reply this call can use:
/// `detail` says what is wrong with it.
pub(crate) fn bad_reply(endpoint: Endpoint, detail: impl std::fmt::Display) -> RequestError {
    RequestError::new(
        ErrorCode::BadResponse,
        format!("malformed {} reply: {detail}", endpoint.path()),
    )
}

/// A `bad_response` for a 2xx body that does not parse as the expected reply
/// (or repeats a member name, which readers resolve differently).
fn malformed<T: ReplyBody>(
    endpoint: Endpoint,
    body: &[u8],
    e: &crate::wire::StrictJsonError,
) -> RequestError {
    let detail = if e.is_syntax() {
        format!("body is not valid JSON ({e})")
    } else if e.is_duplicate() {
        e.to_string()
    } else {
        crate::wire::diagnose::<T>(body).unwrap_or_else(|| e.to_string())
    };
    RequestError::new(
        ErrorCode::BadResponse,
        format!("malformed {} reply: {detail}", endpoint.path()),
    )
}

/// The failure for a non-2xx status, with the server's own message when it
/// sent one.
fn status_failure(status: u16, body: &[u8], retry_after: Option<Duration>) -> RequestError {
    let code = ErrorCode::from_status(status);
    let server = crate::wire::from_slice_strict::<ErrorResponse>(body).ok();
    let message = match server.as_ref().and_then(ErrorResponse::text) {
        Some(text) => text.to_owned(),
        None => match code {
            ErrorCode::InvalidApiKey => "Invalid API key".to_owned(),
            ErrorCode::Forbidden => "Access forbidden: check the API key's permissions".to_owned(),
            ErrorCode::RateLimited => "Rate limit exceeded".to_owned(),
            _ => format!("HTTP {status}: {}", snippet(body)),
        },
    };
    let mut failure = RequestError::new(code, message);
    failure.status = Some(status);
    failure.retry_after = retry_after;
    failure
}

/// Bind a reply to its request: every `X-Request-ID` it carries must be the
/// one this call sent. A reply naming another request is the answer to some
/// other call, swapped, replayed or duplicated by something between us and
/// the server (a proxy, a load balancer, a keep-alive connection out of
/// step); its `verified: true` says nothing about this permit, so it is
/// `bad_response`, whatever its status, and not retried.
///
/// A reply without the header is accepted: the contract does not require the
/// echo (our server always sends it). Such a reply is bound to its request by
/// the connection alone (one request at a time on an HTTP/1.1 connection,
/// which TLS keeps a network attacker from rearranging); an intermediary that
/// both mixes replies up and strips the header is not caught here.
fn check_request_id(
    endpoint: Endpoint,
    headers: &HeaderMap,
    sent: &str,
) -> Result<(), RequestError> {
    let Some(other) = headers
        .get_all(X_REQUEST_ID)
        .iter()
        .find(|echo| echo.as_bytes() != sent.as_bytes())
    else {
        return Ok(());
    };
    let named: String = String::from_utf8_lossy(other.as_bytes())
        .chars()
        .take(64)
        .collect();
    Err(RequestError::new(
        ErrorCode::BadResponse,
        format!(
            "{} reply answers another request: its X-Request-ID is {named:?}, this call sent {sent}",
            endpoint.path(),
        ),
    ))
}

/// At most 200 characters of a body, printable.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    if out.trim().is_empty() {
        out = "(empty body)".to_owned();
    }
    out
}

/// The innermost error's message: "connection refused", not reqwest's wrapper.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub(crate) fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::try_from_secs_f64(seconds).ok())
            .flatten();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The `X-RateLimit-*` triple, or `None` if any part is missing or malformed.
pub(crate) fn parse_rate_limit(headers: &HeaderMap) -> Option<RateLimit> {
    let get = |name: HeaderName| headers.get(name)?.to_str().ok().map(str::trim);
    let limit = get(X_RATELIMIT_LIMIT)?.parse().ok()?;
    let remaining = get(X_RATELIMIT_REMAINING)?.parse().ok()?;
    let reset_at = crate::time::parse_reset(get(X_RATELIMIT_RESET)?)?;
    Some(RateLimit {
        limit,
        remaining,
        reset_at,
    })
}

/// A fresh UUID v4, the `X-Request-ID` of one call (hyphenated).
pub(crate) fn new_request_id() -> String {
    // Drawn from the OS for each id: a per-thread pool of pre-drawn bytes
    // would save a system call but hand a process forked without exec the
    // parent's next ids (a retry of the parent's requests, to the server).
    let mut b = [0u8; 16];
    fill_random(&mut b);
    let uuid = uuid::Builder::from_random_bytes(b).into_uuid();
    // Written into a stack buffer, then copied once (`to_string` would
    // grow a String through the formatter).
    let mut text = uuid::Uuid::encode_buffer();
    uuid.hyphenated().encode_lower(&mut text).to_owned()
}

/// A uniform number in [0, 1).
fn random_unit() -> f64 {
    let mut b = [0u8; 8];
    fill_random(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

fn fill_random(buf: &mut [u8]) {
    if getrandom::fill(buf).is_err() {
        // The OS generator failing is near impossible; fall back to a
        // time-and-counter mix so ids stay unique within the process.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut x = nanos ^ COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        for byte in buf.iter_mut() {
            // splitmix64 step
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *byte = (z ^ (z >> 31)) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uuid_v4_and_distinct() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:30 GMT"),
        );
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("-1"));
        assert_eq!(parse_retry_after(&h, now), None);
    }

    #[test]
    fn rate_limit_needs_all_three_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from_static("100"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("7"));
        assert_eq!(parse_rate_limit(&h), None);
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1700000000"));
        let rl = parse_rate_limit(&h).expect("parsed");
        assert_eq!((rl.limit, rl.remaining), (100, 7));
        assert_eq!(
            rl.reset_at,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("many"));
        assert_eq!(parse_rate_limit(&h), None);
    }

    #[test]
    fn status_codes_map_to_contract_codes() {
        for (status, code) in [
            (401, ErrorCode::InvalidApiKey),
            (403, ErrorCode::Forbidden),
            (429, ErrorCode::RateLimited),
            (422, ErrorCode::BadRequest),
            (404, ErrorCode::BadRequest),
            (500, ErrorCode::ServerError),
            (503, ErrorCode::ServerError),
            (302, ErrorCode::BadResponse),
        ] {
            assert_eq!(ErrorCode::from_status(status), code, "status {status}");
        }
    }

    #[test]
    fn error_body_message_then_reason_then_default() {
        let f = status_failure(422, br#"{"message":"bad field: agent"}"#, None);
        assert_eq!(f.message, "bad field: agent");
        let f = status_failure(403, br#"{"reason":"scope mismatch"}"#, None);
        assert_eq!(f.message, "scope mismatch");
        let f = status_failure(500, b"oops", None);
        assert_eq!(f.message, "HTTP 500: oops");
        let f = status_failure(401, b"", None);
        assert_eq!(f.message, "Invalid API key");
    }
}
