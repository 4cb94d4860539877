//! [`Permit`]: the proof that an action was authorized end to end.

use std::fmt;
use std::marker::PhantomData;
use std::time::SystemTime;

use serde::Serialize;

use crate::actions::{Action, AnyAction, AnyContext};

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
///
/// # Typed permits
///
/// `Permit` is `Permit<AnyAction>`: a permit for whatever action it names.
/// `Permit<A>`, for an action type `A` ([`crate::actions`]), is a permit whose
/// verified action is `A::NAME`, made only by
/// [`Client::protect_as::<A>`](crate::Client::protect_as) (and its blocking
/// and free-function twins, and `#[atlasent::protect(action = A, ..)]`) or by
/// [`Permit::downcast`], which checks the action. A `Permit<A>` turns into a
/// `Permit` with `From`/`into()`; nothing turns a `Permit` or a `Permit<B>`
/// into a `Permit<A>` without that check.
///
/// ```compile_fail
/// #[atlasent::action("read_logs")] struct ReadLogs;
/// #[atlasent::action("deploy")] struct Deploy;
/// fn deploy(_: atlasent::Permit<Deploy>) {}
/// fn spend(p: atlasent::Permit<ReadLogs>) { deploy(p) }
/// ```
// `#[serde(bound = "")]`: the marker is never serialized, so `A` needs no
// bound.
#[derive(Serialize)]
#[serde(bound = "")]
pub struct Permit<A = AnyAction> {
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
    /// `fn() -> A`: the permit is `Send`, `Sync` and `Unpin` whatever `A` is.
    #[serde(skip)]
    action_type: PhantomData<fn() -> A>,
}

impl Permit {
    /// Only the client makes permits, after a successful verification.
    // Seven parameters, not the two replies: the trybuild cases of forged
    // permits (tests/ui/fail/forge_*) pin this private constructor's shape.
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
            action_type: PhantomData,
        }
    }

    /// This permit as a `Permit<A>`, if its action is `A::NAME`; otherwise
    /// the permit itself, unchanged, in the `Err`.
    ///
    /// Only for an action without a typed context: a `Permit<A>` of an
    /// action declared with `context = T` also says that its context was a
    /// `T`, which an untyped permit cannot show, so such a permit comes only
    /// from [`Client::protect_as`](crate::Client::protect_as) or the
    /// attribute.
    ///
    /// The action compared is the one the permit was verified for (the
    /// client only makes a permit after the server confirmed that action),
    /// so a `Permit<A>` from here is as good as one from
    /// [`Client::protect_as::<A>`](crate::Client::protect_as).
    ///
    /// ```
    /// #[atlasent::action("deploy_to_production")]
    /// struct DeployToProduction;
    ///
    /// fn deploy_if_allowed(permit: atlasent::Permit) {
    ///     match permit.downcast::<DeployToProduction>() {
    ///         Ok(typed) => println!("deploying under {}", typed.permit_id()),
    ///         Err(other) => println!("{other} is not a deploy permit"),
    ///     }
    /// }
    /// ```
    // The `Err` is the permit itself, handed back whole (as
    // `Box<dyn Any>::downcast` does): boxing it would allocate on the
    // mismatch path for nothing.
    #[allow(clippy::result_large_err)]
    pub fn downcast<A: Action<Context = AnyContext>>(self) -> Result<Permit<A>, Permit> {
        if self.action == A::NAME {
            Ok(self.retype())
        } else {
            Err(self)
        }
    }
}

impl<A: Action> From<Permit<A>> for Permit {
    /// Forget the action type; the permit is unchanged.
    fn from(permit: Permit<A>) -> Self {
        permit.retype()
    }
}

impl<A> Permit<A> {
    /// The same permit under another action type: crate-private, called only
    /// where the action was checked (`downcast`, `protect_as`) or forgotten.
    pub(crate) fn retype<B>(self) -> Permit<B> {
        Permit {
            permit_id: self.permit_id,
            permit_hash: self.permit_hash,
            audit_hash: self.audit_hash,
            reason: self.reason,
            timestamp: self.timestamp,
            agent: self.agent,
            action: self.action,
            expires_at_text: self.expires_at_text,
            expires_at: self.expires_at,
            action_type: PhantomData,
        }
    }

    /// The expiry the server stated, already read by the client (a reply
    /// with an unreadable one never makes a permit).
    pub(crate) fn with_expiry(mut self, text: String, at: SystemTime) -> Self {
        self.expires_at_text = Some(text);
        self.expires_at = Some(at);
        self
    }

    /// This permit without its action type (the same as `Permit::from`).
    pub fn into_untyped(self) -> Permit {
        self.retype()
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

impl<A> fmt::Debug for Permit<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("permit_id", &self.permit_id)
            .field("permit_hash", &self.permit_hash)
            .field("audit_hash", &self.audit_hash)
            .field("reason", &self.reason)
            .field("timestamp", &self.timestamp)
            .field("agent", &self.agent)
            .field("action", &self.action)
            .field("expires_at", &self.expires_at_text)
            .finish()
    }
}

impl<A, B> PartialEq<Permit<B>> for Permit<A> {
    /// Two permits are equal when every field the server stated is.
    fn eq(&self, other: &Permit<B>) -> bool {
        self.permit_id == other.permit_id
            && self.permit_hash == other.permit_hash
            && self.audit_hash == other.audit_hash
            && self.reason == other.reason
            && self.timestamp == other.timestamp
            && self.agent == other.agent
            && self.action == other.action
            && self.expires_at_text == other.expires_at_text
            && self.expires_at == other.expires_at
    }
}

impl<A> Eq for Permit<A> {}

impl<A> fmt::Display for Permit<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "permit {} for {} to {}",
            self.permit_id, self.agent, self.action
        )
    }
}
