//! The one error type of the SDK, and the contract's error codes.
//!
//! Every way authorization can fail to be confirmed is an [`Error`]; there is
//! no "denied" value to forget to check on the fail-closed entry points
//! ([`protect`](crate::Client::protect), [`gate`](crate::Client::gate)).

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::deny_code::DenyCode;
use crate::display::printable;

/// The contract's coarse error category (`vectors/errors.json`), shared by
/// every AtlaSent SDK. Callers may `match` on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// HTTP 401: the API key is missing, wrong, expired or revoked.
    InvalidApiKey,
    /// HTTP 403: the key is valid but may not do this.
    Forbidden,
    /// HTTP 429: the key's rate limit is exhausted; see [`Error::retry_after`].
    RateLimited,
    /// No complete answer arrived within the configured timeout.
    Timeout,
    /// The connection could not be made or broke before the answer was complete.
    Network,
    /// The server answered something that is not a valid reply: not JSON,
    /// a missing or mistyped field, too large, an unexpected status.
    BadResponse,
    /// HTTP 4xx other than 401, 403 and 429: the server refused the request.
    BadRequest,
    /// HTTP 5xx, after the configured retries.
    ServerError,
}

impl ErrorCode {
    /// The contract's spelling of the code, e.g. `"invalid_api_key"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidApiKey => "invalid_api_key",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::Timeout => "timeout",
            Self::Network => "network",
            Self::BadResponse => "bad_response",
            Self::BadRequest => "bad_request",
            Self::ServerError => "server_error",
        }
    }

    /// Every code, in the contract's order.
    pub const ALL: [ErrorCode; 8] = [
        Self::InvalidApiKey,
        Self::Forbidden,
        Self::RateLimited,
        Self::Timeout,
        Self::Network,
        Self::BadResponse,
        Self::BadRequest,
        Self::ServerError,
    ];

    /// The code for a non-2xx HTTP status, as the contract maps them.
    pub(crate) fn from_status(status: u16) -> Self {
        match status {
            401 => Self::InvalidApiKey,
            403 => Self::Forbidden,
            429 => Self::RateLimited,
            500..=599 => Self::ServerError,
            400..=499 => Self::BadRequest,
            // 1xx/3xx (redirects are not followed): not a reply we understand.
            _ => Self::BadResponse,
        }
    }

    /// Whether an attempt that failed with this code may be repeated.
    pub(crate) fn is_transient(self) -> bool {
        matches!(self, Self::Timeout | Self::Network | Self::ServerError)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The policy decision carried by an evaluation, a denial or a hold.
///
/// Only [`Allow`](Decision::Allow) issues a permit. [`Hold`](Decision::Hold)
/// and [`Escalate`](Decision::Escalate) (current wire only) mean a human must
/// decide: [`Client::protect`](crate::Client::protect) fails with
/// [`Error::Held`] on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum Decision {
    /// The policy allowed the action (`permitted: true`, `decision: "allow"`).
    Allow,
    /// The policy denied the action (`permitted: false`, `decision: "deny"`).
    Deny,
    /// The action waits for a human (`decision: "hold"`); no permit.
    Hold,
    /// The action is escalated to a human (`decision: "escalate"`); no permit.
    Escalate,
}

impl Decision {
    /// `"ALLOW"`, `"DENY"`, `"HOLD"` or `"ESCALATE"`, as the contract's
    /// `sdk_output` spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "ALLOW",
            Self::Deny => "DENY",
            Self::Hold => "HOLD",
            Self::Escalate => "ESCALATE",
        }
    }

    /// Every decision.
    pub const ALL: [Decision; 4] = [Self::Allow, Self::Deny, Self::Hold, Self::Escalate];

    /// The current wire's `decision` string, also the policy's `effect`:
    /// `"allow"`, `"deny"`, `"hold"` or `"escalate"`.
    pub const fn wire_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Hold => "hold",
            Self::Escalate => "escalate",
        }
    }

    /// The current wire's `decision` string (`allow`, `deny`, `hold`,
    /// `escalate`; exactly these, lowercase); anything else is `None`, never
    /// a guess.
    ///
    /// ```
    /// use atlasent::Decision;
    /// assert_eq!(Decision::from_wire("hold"), Some(Decision::Hold));
    /// assert_eq!(Decision::from_wire("HOLD"), None);
    /// ```
    pub fn from_wire(decision: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.wire_str() == decision)
    }

    /// Whether a human must decide (hold or escalate).
    pub const fn is_held(self) -> bool {
        matches!(self, Self::Hold | Self::Escalate)
    }

    pub(crate) fn from_permitted(permitted: bool) -> Self {
        if permitted {
            Self::Allow
        } else {
            Self::Deny
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which step refused: the policy, or the verification of its permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenialStage {
    /// `/v1-evaluate` answered `permitted: false`.
    Policy,
    /// The policy allowed, but `/v1-verify-permit` answered `verified: false`
    /// (the permit was expired, consumed, revoked, mismatched, …).
    Verification,
}

/// Why an action was refused: the details of [`Error::Denied`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub(crate) stage: DenialStage,
    pub(crate) decision: Decision,
    pub(crate) reason: String,
    pub(crate) evaluation_id: String,
    pub(crate) audit_hash: String,
    pub(crate) outcome: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) deny_code: Option<DenyCode>,
    pub(crate) verify_error_code: Option<String>,
}

impl Denial {
    /// The step that refused.
    pub fn stage(&self) -> DenialStage {
        self.stage
    }

    /// The policy decision (`Deny` for a policy denial; the evaluation's
    /// `Allow` when verification failed afterwards).
    pub fn decision(&self) -> Decision {
        self.decision
    }

    /// The server's explanation, e.g. the deciding policy and rule; for a
    /// failed verification, `Permit failed verification (<outcome>)`.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The evaluation (decision) id, the `decision_id` on the wire: the id
    /// a permit would have had (the crate docs' "One id, its names").
    pub fn evaluation_id(&self) -> &str {
        &self.evaluation_id
    }

    /// The audit-trail hash of the decision, when the server sent one.
    pub fn audit_hash(&self) -> &str {
        &self.audit_hash
    }

    /// The verification outcome (`expired`, `consumed`, `revoked`, …) for a
    /// [`DenialStage::Verification`] denial.
    pub fn outcome(&self) -> Option<&str> {
        self.outcome.as_deref()
    }

    /// The `X-Request-ID` of the request that was refused.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The policy's machine-readable reason for a [`DenialStage::Policy`]
    /// denial, when the server sent one (current wire: `denial.code` or
    /// `deny_code`). Branch on this, not on [`reason`](Self::reason).
    pub fn deny_code(&self) -> Option<&DenyCode> {
        self.deny_code.as_ref()
    }

    /// The verifier's code for a [`DenialStage::Verification`] denial, when
    /// the server sent one (current wire: `PERMIT_CONSUMED`,
    /// `PERMIT_EXPIRED`, `ACTOR_MISMATCH`, …).
    pub fn verify_error_code(&self) -> Option<&str> {
        self.verify_error_code.as_deref()
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The server's words, printed safely (a hostile server's escape
        // sequences must not reach a terminal or a log as such).
        f.write_str("action denied")?;
        if !self.reason.is_empty() {
            write!(f, ": {}", printable(&self.reason))?;
        }
        if !self.evaluation_id.is_empty() {
            write!(f, " (evaluation {})", printable(&self.evaluation_id))?;
        }
        Ok(())
    }
}

/// A decision that a human must make (hold or escalate): the details of
/// [`Error::Held`]. No permit was issued; evaluate again once a human has
/// decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub(crate) decision: Decision,
    pub(crate) reason: String,
    pub(crate) deny_code: Option<DenyCode>,
    pub(crate) escalation_id: Option<String>,
    pub(crate) evaluation_id: String,
    pub(crate) audit_hash: String,
    pub(crate) request_id: Option<String>,
}

impl Held {
    /// [`Decision::Hold`] or [`Decision::Escalate`].
    pub fn decision(&self) -> Decision {
        self.decision
    }

    /// The server's explanation.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The machine-readable reason (`ACTOR_HELD`, `ESCALATE_REQUIRED`, …),
    /// when the server sent one.
    pub fn deny_code(&self) -> Option<&DenyCode> {
        self.deny_code.as_ref()
    }

    /// The id of the escalation a human will decide, when the server sent
    /// one (`esc_…` on our server).
    pub fn escalation_id(&self) -> Option<&str> {
        self.escalation_id.as_deref()
    }

    /// The evaluation (decision) id: the id a permit would have had (the
    /// crate docs' "One id, its names").
    pub fn evaluation_id(&self) -> &str {
        &self.evaluation_id
    }

    /// The audit-trail hash of the decision, when the server sent one.
    pub fn audit_hash(&self) -> &str {
        &self.audit_hash
    }

    /// The `X-Request-ID` of the evaluation.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.decision {
            Decision::Escalate => f.write_str("action escalated: a human must decide")?,
            _ => f.write_str("action held: a human must decide")?,
        }
        if !self.reason.is_empty() {
            write!(f, ": {}", printable(&self.reason))?;
        }
        if let Some(id) = &self.escalation_id {
            write!(f, " (escalation {})", printable(id))?;
        }
        Ok(())
    }
}

impl std::error::Error for Held {}

/// A request that did not produce a usable answer: the details of
/// [`Error::Request`].
#[derive(Debug)]
pub struct RequestError {
    pub(crate) code: ErrorCode,
    pub(crate) status: Option<u16>,
    pub(crate) message: String,
    pub(crate) request_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) attempts: u32,
    pub(crate) source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl RequestError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            status: None,
            message: message.into(),
            request_id: None,
            retry_after: None,
            attempts: 1,
            source: None,
        }
    }

    /// The contract's error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The server's message (`message`, else `reason`), or a description of
    /// the transport failure.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How many attempts were made, retries included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, printable(&self.message))?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {}]", printable(id))?;
        }
        Ok(())
    }
}

/// Everything that can stop an authorization. Any `Err` means: do not act.
///
/// Branch on the variant, or on [`code`](Error::code) for request failures:
///
/// ```
/// # fn handle(err: atlasent::Error) {
/// match &err {
///     atlasent::Error::Denied(denial) => eprintln!("refused: {}", denial.reason()),
///     _ if err.code() == Some(atlasent::ErrorCode::RateLimited) => {
///         eprintln!("slow down, retry in {:?}", err.retry_after())
///     }
///     _ => eprintln!("could not confirm authorization: {err}"),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The policy denied the action, or its permit failed verification.
    #[error("{0}")]
    Denied(Box<Denial>),
    /// The policy answered hold or escalate: a human must decide, and no
    /// permit was issued. Not a denial ([`is_denied`](Error::is_denied) is
    /// false), not a failure to get an answer.
    #[error("{0}")]
    Held(Box<Held>),
    /// The request failed: an HTTP error status, a transport failure, a
    /// timeout or a malformed reply. [`code`](Error::code) says which.
    #[error("{0}")]
    Request(Box<RequestError>),
    /// The client is not usable as configured (no API key, a bad base URL,
    /// a blocking call on an async runtime's worker thread, …). Nothing was sent.
    #[error("atlasent configuration error: {message}")]
    Config {
        /// What is wrong, and how to fix it.
        message: String,
    },
    /// An argument was refused before anything was sent (an empty action,
    /// a context that is not a JSON object, …).
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// What is wrong with which argument.
        message: String,
    },
}

impl Error {
    /// The contract's error code, for request failures; `None` for a denial,
    /// a hold, and configuration or argument errors (nothing reached the
    /// server).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Request(e) => Some(e.code),
            _ => None,
        }
    }

    /// The HTTP status the server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Request(e) => e.status,
            _ => None,
        }
    }

    /// The `X-Request-ID` the SDK sent (the same on every retry of a call;
    /// for a denial or hold, that of the request that answered it): quote it
    /// to correlate with server logs.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Request(e) => e.request_id.as_deref(),
            Self::Denied(d) => d.request_id.as_deref(),
            Self::Held(h) => h.request_id.as_deref(),
            _ => None,
        }
    }

    /// For a 429, how long the server asked to wait (from `Retry-After`,
    /// delta-seconds or HTTP-date).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Request(e) => e.retry_after,
            _ => None,
        }
    }

    /// The denial details, when the action was refused.
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Self::Denied(d) => Some(d),
            _ => None,
        }
    }

    /// Whether the policy (or verification) refused, as opposed to a failure
    /// to get an answer.
    pub fn is_denied(&self) -> bool {
        matches!(self, Self::Denied(_))
    }

    /// The hold details, when the policy answered hold or escalate.
    pub fn held(&self) -> Option<&Held> {
        match self {
            Self::Held(h) => Some(h),
            _ => None,
        }
    }

    /// Whether the policy answered hold or escalate: a human must decide.
    pub fn is_held(&self) -> bool {
        matches!(self, Self::Held(_))
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config {
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            message: message.into(),
        }
    }
}

impl std::error::Error for RequestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl std::error::Error for Denial {}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        Self::Request(Box::new(e))
    }
}

impl From<Denial> for Error {
    fn from(d: Denial) -> Self {
        Self::Denied(Box::new(d))
    }
}

impl From<Held> for Error {
    fn from(h: Held) -> Self {
        Self::Held(Box::new(h))
    }
}
