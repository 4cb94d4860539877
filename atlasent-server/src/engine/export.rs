//! A signed export bundle: the envelope (what is signed) and the bundle
//! (the envelope, its signature and the signing key's id).

use serde::Serialize;
use serde_json::value::RawValue;

use super::{ids, EngineError};
use crate::keys::Signer;

/// What a signed export covers, in the contract's key order.
#[derive(Serialize)]
struct Envelope<'a> {
    export_id: &'a str,
    org_id: &'a str,
    chain_head_hash: &'a str,
    event_count: usize,
    signed_at: &'a str,
    events: &'a [Box<RawValue>],
}

#[derive(Serialize)]
struct Bundle<'a> {
    #[serde(flatten)]
    envelope: Envelope<'a>,
    signature: String,
    signing_key_id: &'a str,
}

/// The signed bundle of `events` (JSON text); `last_hash` is the last
/// event's hash (`None`: no events, the chain head is the genesis hash).
pub(super) fn bundle(
    org_id: &str,
    signer: &Signer,
    events: &[Box<RawValue>],
    last_hash: Option<String>,
    signed_at: &str,
) -> Result<String, EngineError> {
    let head = last_hash.unwrap_or_else(|| atlasent::audit::GENESIS_HASH.to_owned());
    let export_id = ids::random_id("exp_")?;
    let envelope = Envelope {
        export_id: &export_id,
        org_id,
        chain_head_hash: &head,
        event_count: events.len(),
        signed_at,
        events,
    };
    let unwritable =
        |e: serde_json::Error| EngineError::Storage(format!("cannot serialize the export: {e}"));
    let signed = serde_json::to_vec(&envelope).map_err(unwritable)?;
    let bundle = Bundle {
        envelope,
        signature: signer.sign_b64url(&signed),
        signing_key_id: signer.key_id(),
    };
    serde_json::to_string(&bundle).map_err(unwritable)
}
