//! [`Permit`]: the proof that an action was authorized end to end.

use std::fmt;
use std::time::SystemTime;

use serde::Serialize;

/// Proof that AtlaSent authorized one action end to end: the policy allowed
/// it and the resulting permit verified.
///
/// A `Permit` can only be obtained from [`Client::protect`](crate::Client::protect)
/// (or the free function, the blocking client, or `#[atlasent::protect]`).
/// It cannot be forged: it has no public constructor or fields, no `Default`,
/// no `Deserialize`, and it is not `Clone`, because a permit is a single-use
/// capability; pass it by reference to code that needs to see it. It can be
/// logged: `Display` gives a one-line summary and `Serialize` every field.
///
/// ```compile_fail
/// // A permit cannot be built by hand.
/// let forged = atlasent::Permit { permit_id: "x".into() };
/// ```
///
/// ```compile_fail
/// fn copy(p: &atlasent::Permit) -> atlasent::Permit { p.clone() }
/// ```
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Permit {
    permit_id: String,
    permit_hash: String,
    audit_hash: String,
    reason: String,
    timestamp: String,
    agent: String,
    action: String,
    /// As the server wrote it (RFC 3339).
    #[serde(rename = "expires_at", skip_serializing_if = "Option::is_none")]
    expires_at_text: Option<String>,
    #[serde(skip)]
    expires_at: Option<SystemTime>,
}

impl Permit {
    /// Only the client makes permits, after a successful verification.
    pub(crate) fn new(
        permit_id: String,
        permit_hash: String,
        audit_hash: String,
        reason: String,
        timestamp: String,
        agent: String,
        action: String,
    ) -> Self {
        Self {
            permit_id,
            permit_hash,
            audit_hash,
            reason,
            timestamp,
            agent,
            action,
            expires_at_text: None,
            expires_at: None,
        }
    }

    /// The expiry the server stated, already read by the client (a reply
    /// with an unreadable one never makes a permit).
    pub(crate) fn with_expiry(mut self, text: String, at: SystemTime) -> Self {
        self.expires_at_text = Some(text);
        self.expires_at = Some(at);
        self
    }

    /// When the permit expires, as the server stated it (the current wire's
    /// `expires_at`; our server also sends it to 1.4.1 clients). `None` when
    /// the server stated none.
    ///
    /// The permit has already been verified (and, single-use, consumed): the
    /// expiry says how long the server would have honoured it, useful for
    /// logs and for deciding whether a long action should start at all.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The permit (decision) id the server issued.
    pub fn permit_id(&self) -> &str {
        &self.permit_id
    }

    /// The verification hash bound to the permit.
    pub fn permit_hash(&self) -> &str {
        &self.permit_hash
    }

    /// The audit-chain hash of the allowing decision: log it with the action.
    pub fn audit_hash(&self) -> &str {
        &self.audit_hash
    }

    /// The policy engine's explanation of the allow.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// When the permit was verified (ISO 8601, as the server sent it).
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// The agent the permit was issued to.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// The action the permit authorizes.
    pub fn action(&self) -> &str {
        &self.action
    }
}

impl fmt::Display for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "permit {} for {} to {}",
            self.permit_id, self.agent, self.action
        )
    }
}
