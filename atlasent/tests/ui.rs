//! The compile-time guarantees of `#[atlasent::protect]` and of `Permit`,
//! pinned by trybuild. `.stderr` files are committed and reviewed; regenerate
//! them only by hand (`TRYBUILD=overwrite`), never in CI.
//!
//! The suite runs with every feature (`cargo test --all-features`: `pass`,
//! `fail`, `pass-blocking`). Without the `blocking` feature only
//! `fail-no-blocking` runs (the test script's second command): rustc words
//! some diagnostics differently when the dependency graph changes (it trims
//! a type name like `atlasent::Client` to `Client` only when no other crate
//! in the graph has a `Client`), so each `.stderr` is pinned to one feature
//! set.

#[cfg(feature = "macros")]
#[test]
fn ui() {
    let every_feature = cfg!(all(
        feature = "blocking",
        feature = "axum",
        feature = "actix",
        feature = "http2",
        feature = "rustls"
    ));
    if cfg!(feature = "blocking") && !every_feature {
        eprintln!("ui: the pinned diagnostics need --all-features (or no `blocking`); skipped");
        return;
    }
    let t = trybuild::TestCases::new();
    if every_feature {
        t.pass("tests/ui/pass/*.rs");
        t.compile_fail("tests/ui/fail/*.rs");
        t.pass("tests/ui/pass-blocking/*.rs");
    } else {
        t.compile_fail("tests/ui/fail-no-blocking/*.rs");
    }
}
