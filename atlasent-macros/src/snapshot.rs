//! Expansion snapshots: the tests of `expand` and `action` compare what the
//! macros generate with `tests/expand/<name>.rs`.

/// Compare `got` with `tests/expand/<name>.rs`; `UPDATE_SNAPSHOTS=1` rewrites
/// it (by hand only, never in CI).
pub(crate) fn assert_snapshot(name: &str, got: &str) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/expand/{name}.rs"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, got).expect("write snapshot");
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}; run with UPDATE_SNAPSHOTS=1 and review it",
            path.display()
        )
    });
    assert_eq!(
        got, want,
        "expansion of {name} changed; review and update the snapshot"
    );
}
