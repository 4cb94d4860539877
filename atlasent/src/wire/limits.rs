//! Every length and size limit of the contract, written once: the SDK
//! checks them before sending and the server refuses what exceeds them.
//!
//! Lengths are counted in characters (Unicode scalar values), not bytes.

/// The longest agent/actor, action/action type, environment, evaluation
/// profile, decision id or permit token (1 to this many characters;
/// cross-check members may be empty).
pub const MAX_NAME_CHARS: usize = 256;

/// The longest permit id in a `/v1/permits/{id}` path, or named by a
/// permit-list cursor (the ids are names, see [`MAX_NAME_CHARS`]).
pub const MAX_PERMIT_ID_CHARS: usize = MAX_NAME_CHARS;

/// The longest revocation reason.
pub const MAX_REASON_CHARS: usize = 1024;

/// The longest `resource_id` of a current-wire evaluation.
pub const MAX_RESOURCE_ID_CHARS: usize = 512;

/// The longest audit-export filter member (`types`, `actor_id`, `from`,
/// `to`).
pub const MAX_EXPORT_FILTER_CHARS: usize = 4096;

/// The largest page of `GET /v1-audit/events` (`limit` is 1 to this).
pub const MAX_EVENTS_PAGE: u32 = 500;

/// The page size of `GET /v1-audit/events` when `limit` is not given.
pub const DEFAULT_EVENTS_PAGE: u32 = 50;

/// The largest page of `GET /v1/permits` (`limit` is 1 to this).
pub const MAX_PERMITS_PAGE: u32 = 200;

/// The page size of `GET /v1/permits` when `limit` is not given.
pub const DEFAULT_PERMITS_PAGE: u32 = 50;

/// The deepest nesting of arrays and objects a JSON body may have (the
/// limit of `serde_json`'s parser, which both sides read bodies with).
pub const MAX_JSON_DEPTH: usize = 128;

/// The largest request body our server accepts by default (64 KiB; its
/// `max_body_bytes` setting moves it within [`MAX_BODY_BYTES_RANGE`]).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// The range of the server's `max_body_bytes` setting: 1 KiB to 16 MiB.
pub const MAX_BODY_BYTES_RANGE: std::ops::RangeInclusive<usize> = 1024..=16 << 20;

/// The largest reply the SDK reads by default (1 MiB; its
/// `max_response_bytes` setting).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The largest audit listing or export the SDK reads by default (256 MiB;
/// its `max_export_bytes` setting).
pub const DEFAULT_MAX_EXPORT_BYTES: usize = 256 << 20;
