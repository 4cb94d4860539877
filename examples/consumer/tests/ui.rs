//! What the compiler refuses about this crate's own guarded functions,
//! pinned by trybuild: `tests/ui/fail/*.rs` must fail to compile with the
//! error in the `.stderr` next to them, `tests/ui/pass/*.rs` must compile.
//! Each case uses this crate as a caller would (`use
//! atlasent_consumer_example::...`), so a change to a guarded fn that
//! reopened a hole fails here.
//!
//! The `.stderr` files are committed and reviewed. Regenerate them only by
//! hand, after a deliberate change or a new rustc that words an error
//! differently: `TRYBUILD=overwrite cargo test --test ui`, then read every
//! changed file (the diff must still say what the case's header says) and
//! commit it. Never set `TRYBUILD=overwrite` in CI: it turns every
//! failure into a pass.
//!
//! rustc words some errors after the whole dependency graph (it writes
//! `atlasent::Client` as `Client` only while no other crate in the graph
//! has a `Client`). trybuild builds each case against this crate's
//! `[dependencies]` and `[dev-dependencies]` with the features written in
//! `Cargo.toml`, whatever features the outer `cargo test` was given, so the
//! pinned output holds for `cargo test` and for the workspace's
//! `cargo test --workspace --all-features` alike. Change a dependency or
//! its features, and regenerate.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
