//! The examples' actions, declared as types (`#[atlasent::action]`): a
//! permit for one cannot be spent on another, and a wire transfer's context
//! is a `WireContext`, so a misspelt key does not compile. The policy
//! coverage test (`tests/policy_coverage.rs`) checks these against
//! `examples/policies/demo.json`.

use serde::{Deserialize, Serialize};

/// The context of a wire transfer: the keys `examples/policies/demo.json`
/// matches on (`amount_usd`) and requires (`memo`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct WireContext {
    /// Amount in US dollars.
    pub(crate) amount_usd: u64,
    /// Who receives it.
    pub(crate) counterparty_id: String,
    /// Why (the policy requires one).
    pub(crate) memo: String,
}

/// Wire money: only with a [`WireContext`].
#[atlasent::action("wire_transfer", context = WireContext)]
pub(crate) struct WireTransfer;
