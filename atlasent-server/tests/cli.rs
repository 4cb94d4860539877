//! `atlasent-server audit verify`: exit 0 and "verified" for a good bundle;
//! non-zero, naming what failed, otherwise.

use std::path::PathBuf;
use std::process::Command;

fn bundles() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/contract/vectors/audit-bundles")
}

fn verify(bundle: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_atlasent-server"))
        .args(["audit", "verify"])
        .arg(bundles().join(bundle))
        .arg("--key")
        .arg(bundles().join("signing-key.pub.pem"))
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_valid_bundle_verifies() {
    let (ok, out) = verify("valid.json");
    assert!(ok, "{out}");
    assert!(out.contains("verified") && !out.contains("FAIL"), "{out}");
}

#[test]
fn each_broken_bundle_fails_and_says_what_failed() {
    for (bundle, needle) in [
        ("bad-signature.json", "FAIL signature"),
        ("wrong-key.json", "FAIL signature"),
        ("broken-chain.json", "FAIL every event links"),
        ("tampered-event.json", "tampered events: evt-2"),
    ] {
        let (ok, out) = verify(bundle);
        assert!(!ok, "{bundle} passed: {out}");
        assert!(out.contains(needle), "{bundle}: {out}");
        assert!(out.contains("NOT VERIFIED"), "{bundle}: {out}");
    }
}

#[test]
fn an_unreadable_key_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_atlasent-server"))
        .args(["audit", "verify"])
        .arg(bundles().join("valid.json"))
        .arg("--key")
        .arg(bundles().join("valid.json"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: key"));
}
