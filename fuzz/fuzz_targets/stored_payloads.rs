//! The SQLite store's compact form of event payloads
//! (`atlasent_server::store::compact`), on arbitrary bytes both ways.
//!
//! Input: any bytes. They are expanded as a stored compact payload (what a
//! tampered or damaged database file holds), and, read as text (lossy
//! UTF-8), compacted — as they are, and made canonical when they are a JSON
//! object (what the server's payloads are).
//!
//! Invariants (a violation panics):
//! - `expand` never panics; what it makes is at most `MAX_EXPANSION` times
//!   the input plus `EXPANSION_SLACK` bytes.
//! - `compact` never panics; bytes it gives expand to exactly its text.
//! - What `expand` made, compacted again, expands to the same text.
#![no_main]

use atlasent_server::store::compact::{compact, expand, EXPANSION_SLACK, MAX_EXPANSION};
use libfuzzer_sys::fuzz_target;

fn round_trip(text: &str) {
    if let Some(bytes) = compact(text) {
        assert_eq!(expand(&bytes).as_deref(), Ok(text), "compact lost {text:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = expand(data) {
        assert!(
            text.len() <= data.len() * MAX_EXPANSION + EXPANSION_SLACK,
            "{} bytes expanded to {}",
            data.len(),
            text.len()
        );
        round_trip(&text);
    }
    let text = String::from_utf8_lossy(data);
    round_trip(&text);
    if text.starts_with('{') {
        if let Ok(canonical) = atlasent::audit::canonical_json(&text) {
            round_trip(&canonical);
        }
    }
});
