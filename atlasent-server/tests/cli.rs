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

/// `lint` warns (and still exits 0) when an allow rule lacks the bound a
/// deny rule on the same action relies on, naming both rules, the key and
/// the fix.
#[test]
fn lint_warns_about_an_allow_rule_without_the_deny_rules_bound() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-lint-warning");
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("unbounded.json");
    std::fs::write(
        &file,
        r#"{ "policy_id": "wires", "version": "1.0.0", "rules": [
            { "id": "allow_any_wire", "effect": "allow", "match": { "action": "wire_transfer" } },
            { "id": "deny_high_value", "effect": "deny",
              "match": { "action": "wire_transfer", "context": { "amount_usd": { "gt": 10000 } } } }
        ] }"#,
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_atlasent-server"))
        .arg("lint")
        .arg(&file)
        .output()
        .expect("runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "warnings do not fail lint: {text}");
    assert!(text.contains("ok: wires 1.0.0"), "{text}");
    for needle in [
        "warning: wires $.rules[0]: allow rule allow_any_wire",
        "deny rule deny_high_value",
        "amount_usd",
        "\"require\": [\"amount_usd\"]",
    ] {
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }
}

#[test]
fn a_bundle_with_an_escaped_second_events_member_is_not_verified() {
    // The forgery of issue 9: a genuine export with `,"\u0065vents":[]`
    // appended; every JSON reader sees zero events.
    let text = std::fs::read_to_string(bundles().join("valid.json")).expect("fixture");
    let start = text.find("\"bundle\": ").expect("bundle") + "\"bundle\": ".len();
    let end = text
        .trim_end()
        .strip_suffix('}')
        .expect("wrapper")
        .trim_end();
    let inner = &text[start..end.len()];
    let forged = format!("{},\"\\u0065vents\":[]}}", &inner[..inner.len() - 1]);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let genuine_path = dir.join("cli-genuine-bundle.json");
    let forged_path = dir.join("cli-forged-bundle.json");
    std::fs::write(&genuine_path, inner).expect("write");
    std::fs::write(&forged_path, &forged).expect("write");

    let (ok, out) = verify(genuine_path.to_str().expect("utf-8 path"));
    assert!(ok, "the genuine bundle verifies: {out}");
    let (ok, out) = verify(forged_path.to_str().expect("utf-8 path"));
    assert!(!ok, "the forgery passed: {out}");
    assert!(out.contains("NOT VERIFIED"), "{out}");
    assert!(out.contains("duplicate member \"events\" at $"), "{out}");
    assert!(!out.lines().any(|line| line.trim() == "verified"), "{out}");
}
