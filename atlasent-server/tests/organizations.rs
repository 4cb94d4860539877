//! Keys belong to organizations: a permit can be verified, revoked or read
//! only with a key of the organization that issued it; each organization
//! has its own audit chain. Keys come from a keys file or the environment.

mod common;

use std::path::PathBuf;

use atlasent_server::{RunningServer, Server};
use common::policy_path;
use serde_json::{json, Value};

const ACME: &str = "ask_test_acme_key";
const GLOBEX: &str = "ask_test_globex_key";

async fn two_orgs() -> RunningServer {
    Server::builder()
        .policy_file(policy_path("finance_wire_transfer.json"))
        .org_api_key("acme", ACME)
        .org_api_key("globex", GLOBEX)
        .start()
        .await
        .expect("server")
}

async fn call(
    server: &RunningServer,
    key: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", server.base_url());
    let req = if method == "GET" {
        client.get(url)
    } else {
        client.post(url).body(body.to_string())
    };
    let resp = req
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .send()
        .await
        .expect("sent");
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_slice(&resp.bytes().await.expect("body")).unwrap_or(Value::Null),
    )
}

/// A 1.4.1 `POST path` naming `permit` (`/v1-verify-permit`,
/// `/v1-revoke-permit`) with `key`.
async fn on_permit(server: &RunningServer, key: &str, path: &str, permit: &str) -> (u16, Value) {
    call(server, key, "POST", path, json!({ "decision_id": permit })).await
}

async fn issue(server: &RunningServer, key: &str) -> String {
    let (status, reply) = call(
        server,
        key,
        "POST",
        "/v1-evaluate",
        json!({"agent": "finance-agent", "action": "wire_transfer",
               "context": {"amount_usd": 10, "counterparty_id": "c", "memo": "m"}}),
    )
    .await;
    assert_eq!(
        (status, &reply["permitted"]),
        (200, &json!(true)),
        "{reply}"
    );
    reply["decision_id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn another_organization_cannot_verify_or_revoke_a_permit() {
    let server = two_orgs().await;
    let permit = issue(&server, ACME).await;

    let (status, reply) = on_permit(&server, GLOBEX, "/v1-verify-permit", &permit).await;
    assert_eq!(status, 200);
    assert_eq!(reply["verified"], false);
    // Exactly as for an id that does not exist: nothing tells the two apart.
    assert_eq!(reply["outcome"], "not_found");

    let (status, reply) = on_permit(&server, GLOBEX, "/v1-revoke-permit", &permit).await;
    assert_eq!(status, 200);
    assert_eq!(reply["revoked"], false);

    // The permit is untouched for its own organization.
    let (_, reply) = on_permit(&server, ACME, "/v1-verify-permit", &permit).await;
    assert_eq!(reply["outcome"], "verified", "{reply}");
}

#[tokio::test]
async fn each_organization_sees_and_exports_only_its_own_chain() {
    let server = two_orgs().await;
    let acme_permit = issue(&server, ACME).await;
    issue(&server, GLOBEX).await;
    issue(&server, GLOBEX).await;
    on_permit(&server, GLOBEX, "/v1-verify-permit", &acme_permit).await;

    let (_, acme) = call(&server, ACME, "GET", "/v1-audit/events", Value::Null).await;
    let (_, globex) = call(&server, GLOBEX, "GET", "/v1-audit/events", Value::Null).await;
    assert_eq!(acme["total"], 1, "{acme}");
    assert_eq!(globex["total"], 3, "{globex}");
    for event in globex["events"].as_array().expect("events") {
        assert_eq!(event["org_id"], "globex");
        assert_eq!(event["payload"]["org_id"], "globex");
    }

    let key = atlasent::audit::VerifyingKey::from_spki_pem(server.public_key_pem()).expect("key");
    for (org, api_key, count) in [("acme", ACME, 1), ("globex", GLOBEX, 3)] {
        // The signature covers the bundle's exact text: verify what was sent.
        let text = common::export_text(&server.base_url(), api_key).await;
        let bundle: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(bundle["org_id"], org);
        assert_eq!(bundle["event_count"], count);
        let result = atlasent::audit::verify_audit_bundle(&text, std::slice::from_ref(&key))
            .expect("bundle");
        assert!(result.verified(), "{org}: {result:?}");
    }

    let (_, me) = call(&server, GLOBEX, "GET", "/v1-api-key-self", Value::Null).await;
    assert_eq!(me["organization_id"], "globex");
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("orgs-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[cfg(unix)]
fn private(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

#[cfg(unix)]
#[tokio::test]
async fn keys_come_from_a_toml_or_json_file_with_organizations_and_scopes() {
    use sha2::Digest;
    let dir = scratch("keys-file");
    let digest = atlasent::audit::hex(&sha2::Sha256::digest(b"ask_test_hashed"));
    let toml_file = dir.join("keys.toml");
    private(
        &toml_file,
        &format!(
            "[[keys]]\nkey = \"{ACME}\"\norg = \"acme\"\n\n[[keys]]\nsha256 = \"{digest}\"\norg = \"acme\"\nscopes = [\"audit.read\"]\n"
        ),
    );
    let json_file = dir.join("keys.json");
    private(
        &json_file,
        &json!({"keys": [{"key": GLOBEX, "org": "globex", "scopes": ["evaluate"]}]}).to_string(),
    );
    let server = Server::builder()
        .policy_file(policy_path("finance_wire_transfer.json"))
        .keys_file(&toml_file)
        .keys_file(&json_file)
        .start()
        .await
        .expect("server");
    issue(&server, ACME).await;
    issue(&server, GLOBEX).await;
    // Scopes hold: globex may evaluate only; the hashed key may only read.
    let (status, _) = call(&server, GLOBEX, "GET", "/v1-audit/events", Value::Null).await;
    assert_eq!(status, 403);
    let (status, page) = call(
        &server,
        "ask_test_hashed",
        "GET",
        "/v1-audit/events",
        Value::Null,
    )
    .await;
    assert_eq!((status, &page["total"]), (200, &json!(1)), "{page}");
    let (status, _) = call(
        &server,
        "ask_test_hashed",
        "POST",
        "/v1-evaluate",
        json!({}),
    )
    .await;
    assert_eq!(status, 403);
}

#[cfg(unix)]
#[tokio::test]
async fn an_unusable_keys_file_is_refused_with_the_reason() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("bad-keys");
    let cases = [
        (
            "open.toml",
            format!("[[keys]]\nkey = \"{ACME}\"\norg = \"acme\"\n"),
            0o644,
            "readable by group or others",
        ),
        (
            "scope.toml",
            format!("[[keys]]\nkey = \"{ACME}\"\norg = \"acme\"\nscopes = [\"admin\"]\n"),
            0o600,
            "unknown scope \"admin\"",
        ),
        (
            "both.toml",
            format!("[[keys]]\nkey = \"{ACME}\"\nsha256 = \"00\"\norg = \"acme\"\n"),
            0o600,
            "exactly one of `key` and `sha256`",
        ),
        (
            "org.json",
            json!({"keys": [{"key": ACME, "org": "a b"}]}).to_string(),
            0o600,
            "organization \"a b\"",
        ),
        (
            "field.json",
            json!({"keys": [{"key": ACME, "org": "a", "role": "x"}]}).to_string(),
            0o600,
            "unknown field `role`",
        ),
        (
            "empty.toml",
            "keys = []\n".to_owned(),
            0o600,
            "lists no keys",
        ),
        (
            "twice.json",
            json!({"keys": [{"key": ACME, "org": "a"}, {"key": ACME, "org": "b"}]}).to_string(),
            0o600,
            "two organizations",
        ),
    ];
    let cases = cases.into_iter().chain([(
        "same.toml",
        format!("[[keys]]\nkey = \"{ACME}\"\norg = \"acme\"\nscopes = [\"audit.read\"]\n\n[[keys]]\nkey = \"{ACME}\"\norg = \"acme\"\n"),
        0o600,
        "is given twice",
    )]);
    for (name, text, mode, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, &text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let message = common::refused_start(Server::builder().keys_file(&path)).await;
        assert!(message.contains(expected), "{name}: {message}");
        assert!(!message.contains(ACME), "{name} leaks the key: {message}");
    }
}

#[cfg(unix)]
#[test]
fn the_binary_takes_keys_from_a_file_or_the_environment_not_only_argv() {
    use std::io::BufRead;
    let dir = scratch("cli-keys");
    let keys = dir.join("keys.toml");
    private(
        &keys,
        &format!("[[keys]]\nkey = \"{ACME}\"\norg = \"acme\"\n"),
    );
    for (args, env) in [
        (
            vec!["--keys-file".to_owned(), keys.display().to_string()],
            None,
        ),
        (
            vec![],
            Some(("ATLASENT_SERVER_API_KEYS", format!("{ACME},{GLOBEX}"))),
        ),
        (
            vec![],
            Some(("ATLASENT_SERVER_KEYS_FILE", keys.display().to_string())),
        ),
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_atlasent-server"));
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--allow-no-policy",
            "--signing-key",
        ])
        .arg(dir.join("k.pem"))
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        if let Some((name, value)) = &env {
            cmd.env(name, value);
        }
        let mut child = cmd.spawn().expect("spawn");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening")
            .to_owned();
        let status = reqwest::blocking::Client::new()
            .get(format!("{base}/v1-api-key-self"))
            .header("authorization", format!("Bearer {ACME}"))
            .send()
            .expect("sent")
            .status()
            .as_u16();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(status, 200, "{args:?} {env:?}");
    }
}

#[tokio::test]
async fn a_keys_or_policy_file_must_be_a_regular_file() {
    let err = common::refused_start(Server::builder().keys_file("/dev/zero")).await;
    assert!(err.contains("not a regular file"), "{err}");
    let err =
        atlasent_server::Policy::from_file(std::path::Path::new("/dev/zero")).expect_err("refused");
    assert!(err.to_string().contains("not a regular file"), "{err}");
}
