//! Helpers that need no other crate, shared with the server's tests through
//! `#[path]`: a small xorshift generator for tests that print their seed
//! (`canonical_vs_node.rs`, the server's `crash.rs`) and the bundle inside
//! an audit fixture (`audit_bundles.rs`, the server's `cli.rs`).
#![allow(dead_code, unreachable_pub)]

/// xorshift64: `Rng(seed)` with a seed other than zero.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The bundle inside an SDK fixture file (`{ ..., "bundle": <bundle> }`), as
/// its exact text.
pub fn inner_bundle(fixture: &str) -> &str {
    let start = fixture.find("\"bundle\": ").expect("bundle") + "\"bundle\": ".len();
    let end = fixture
        .trim_end()
        .strip_suffix('}')
        .expect("wrapper")
        .trim_end();
    &fixture[start..end.len()]
}
