//! The compile-time guarantees of `#[atlasent::protect]` and of `Permit`,
//! pinned by trybuild. `.stderr` files are committed and reviewed; regenerate
//! them only by hand (`TRYBUILD=overwrite`), never in CI.
//!
//! The blocking-only cases depend on the `blocking` feature: with it the
//! `pass-blocking` cases must compile; without it the `fail-no-blocking`
//! case must fail with the feature hint (the test script runs both).

#[cfg(feature = "macros")]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
    if cfg!(feature = "blocking") {
        t.pass("tests/ui/pass-blocking/*.rs");
    } else {
        t.compile_fail("tests/ui/fail-no-blocking/*.rs");
    }
}
