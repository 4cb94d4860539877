//! Expansion snapshots: the tests of `expand` and `action` compare what the
//! macros generate with `tests/expand/<name>.expanded` through `expect-test`.
//! (Rust source, pretty-printed; not `.rs` so that no tool takes generated
//! code for code of ours.)
//!
//! Each case names its file with
//! `expect_file!["../tests/expand/<name>.expanded"]` (relative to the source
//! file of the test). After a deliberate change of an
//! expansion, regenerate the files with
//! `UPDATE_EXPECT=1 cargo test -p atlasent-macros` and review the diff (by
//! hand only, never in CI).

pub(crate) use expect_test::{expect_file, ExpectFile};

/// One `#[test]` per case comparing `$expand(attr, item)` with
/// `tests/expand/<file>.expanded`:
/// `snapshot_tests!(expand => name: "file" => (attr) { item } …)`.
macro_rules! snapshot_tests {
    ($expand:path => $($name:ident: $file:literal => ($($attr:tt)*) { $($item:tt)* })*) => {$(
        #[test]
        fn $name() {
            $crate::snapshot::assert_snapshot(
                $crate::snapshot::expect_file![concat!("../tests/expand/", $file, ".expanded")],
                $expand(::quote::quote!($($attr)*), ::quote::quote!($($item)*)),
            );
        }
    )*};
}
pub(crate) use snapshot_tests;

/// Pretty-print `tokens` (an expansion) as a file and compare it with
/// `expected`.
pub(crate) fn assert_snapshot(expected: ExpectFile, tokens: proc_macro2::TokenStream) {
    let got = prettyplease::unparse(
        &syn::parse2::<syn::File>(tokens).expect("expansion parses as a file"),
    );
    expected.assert_eq(&got);
}
