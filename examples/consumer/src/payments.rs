//! Moving money: the typed action [`WireTransfer`] and the guarded
//! [`wire`].

use std::fmt;

use atlasent::Permit;
use serde::Serialize;

/// What the policy sees of a wire. `Default` lets the policy coverage check
/// read its keys (`amount_usd`, `memo`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct WireContext {
    /// The amount, in whole US dollars.
    pub amount_usd: u64,
    /// Why the money moves; the policies require one.
    pub memo: String,
}

/// Wiring money out of the company's account: action `payments.wire`,
/// whose context is a [`WireContext`] and nothing else.
#[atlasent::action("payments.wire", context = WireContext)]
pub struct WireTransfer;

/// Reading the account's balance: action `payments.read_balance`.
#[atlasent::action("payments.read_balance")]
pub struct ReadBalance;

/// Where the money moves: a bank in production, a fake in tests.
pub trait PaymentRail: Send + Sync {
    /// Send `amount_usd`; the rail's reference for the transfer.
    fn send(&self, amount_usd: u64, memo: &str) -> Result<String, RailError>;

    /// The account's balance, in whole US dollars.
    fn balance(&self) -> Result<u64, RailError>;
}

/// The rail refused or failed. It has no `From<atlasent::Error>`: a
/// guarded fn returns [`PaymentError`], which carries both
/// (`tests/ui/fail/rail_error_cannot_hold_a_refusal.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RailError(pub String);

impl fmt::Display for RailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "payment rail: {}", self.0)
    }
}

impl std::error::Error for RailError {}

/// Why a payment did not happen.
#[derive(Debug)]
pub enum PaymentError {
    /// AtlaSent did not authorize it: a deny, a hold, or no answer (fail
    /// closed). The body never ran.
    Unauthorized(atlasent::Error),
    /// Authorized, but the rail failed.
    Rail(RailError),
}

impl PaymentError {
    /// The refusal, when AtlaSent did not authorize the payment.
    pub fn authorization(&self) -> Option<&atlasent::Error> {
        match self {
            Self::Unauthorized(e) => Some(e),
            Self::Rail(_) => None,
        }
    }
}

impl From<atlasent::Error> for PaymentError {
    fn from(e: atlasent::Error) -> Self {
        Self::Unauthorized(e)
    }
}

impl From<RailError> for PaymentError {
    fn from(e: RailError) -> Self {
        Self::Rail(e)
    }
}

impl fmt::Display for PaymentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthorized(e) => write!(f, "payment not authorized: {e}"),
            Self::Rail(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PaymentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unauthorized(e) => Some(e),
            Self::Rail(e) => Some(e),
        }
    }
}

/// A wire that went out, and the permit it went out under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The rail's reference.
    pub reference: String,
    /// The amount sent, in whole US dollars.
    pub amount_usd: u64,
    /// The permit that authorized it (for the audit trail).
    pub permit_id: String,
}

impl Receipt {
    /// A receipt needs a permit for [`WireTransfer`]: a permit for another
    /// action does not compile here
    /// (`tests/ui/fail/receipt_with_another_actions_permit.rs`).
    pub fn new(permit: &Permit<WireTransfer>, reference: String, amount_usd: u64) -> Self {
        Self {
            reference,
            amount_usd,
            permit_id: permit.permit_id().to_owned(),
        }
    }
}

/// Wire `amount_usd` as `agent`, once AtlaSent has authorized exactly
/// this wire. Callers pass no permit: the attribute obtains one (through
/// the task's client, see [`atlasent::with_client`], else the global one)
/// before the body starts, and returns [`PaymentError::Unauthorized`]
/// without running it on any refusal or failure.
#[atlasent::protect(
    action = WireTransfer,
    agent = agent,
    context = WireContext { amount_usd, memo: memo.to_owned() },
)]
pub async fn wire(
    rail: &dyn PaymentRail,
    agent: &str,
    amount_usd: u64,
    memo: &str,
    permit: Permit<WireTransfer>,
) -> Result<Receipt, PaymentError> {
    let reference = rail.send(amount_usd, memo)?;
    Ok(Receipt::new(&permit, reference, amount_usd))
}

/// The account's balance, read as `agent` once AtlaSent has allowed it.
#[atlasent::protect(action = ReadBalance, agent = agent)]
pub async fn balance(
    rail: &dyn PaymentRail,
    agent: &str,
    _permit: Permit<ReadBalance>,
) -> Result<u64, PaymentError> {
    Ok(rail.balance()?)
}
