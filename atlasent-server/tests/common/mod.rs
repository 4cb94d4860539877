//! Shared helpers: a real server in-process, SDK clients and raw HTTP.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::time::Duration;

use atlasent::audit::{verify_audit_bundle, BundleVerification, VerifyingKey};
use atlasent_server::{RunningServer, Server};
use serde_json::Value;

#[path = "../../../tests/support/checks.rs"]
mod checks;
#[allow(unused_imports)]
pub use checks::{assert_contains_all, missing_keys, uncovered};

pub const KEY: &str = "ask_local_test_key";

pub fn policy_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/contract/vectors/policies")
        .join(name)
}

/// A server with both contract policies and [`KEY`].
pub async fn start() -> RunningServer {
    start_with(|b| b).await
}

pub async fn start_with(
    customize: impl FnOnce(atlasent_server::ServerBuilder) -> atlasent_server::ServerBuilder,
) -> RunningServer {
    let builder = Server::builder()
        .policy_file(policy_path("clinical_phi_access.json"))
        .policy_file(policy_path("finance_wire_transfer.json"))
        .api_key(KEY);
    customize(builder).start().await.expect("server starts")
}

/// An SDK client on the default (current) wire.
pub fn client(server: &RunningServer) -> atlasent::Client {
    client_on(server, atlasent::Wire::default())
}

/// An SDK client speaking `wire`.
pub fn client_on(server: &RunningServer, wire: atlasent::Wire) -> atlasent::Client {
    client_as(server, KEY, wire)
}

/// An SDK client with `key`, speaking `wire`.
pub fn client_as(server: &RunningServer, key: &str, wire: atlasent::Wire) -> atlasent::Client {
    atlasent::Client::builder()
        .wire(wire)
        .api_key(key)
        .base_url(server.base_url())
        .retry_backoff(Duration::from_millis(5))
        .max_response_bytes(64 << 20)
        .build()
        .expect("client")
}

/// A raw POST: status, headers and parsed body.
pub async fn post(
    server: &RunningServer,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", server.base_url()))
        .header("content-type", "application/json");
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let resp = req.body(body).send().await.expect("sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, value)
}

/// A raw evaluate with the `authorization` header given: status, headers
/// and parsed body.
pub async fn evaluate_authorized(
    server: &RunningServer,
    authorization: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    post(
        server,
        "/v1-evaluate",
        &[("authorization", authorization)],
        body,
    )
    .await
}

pub async fn get(server: &RunningServer, path_and_query: &str) -> (u16, Value) {
    get_as(server, KEY, path_and_query).await
}

/// A GET with `key`: status and parsed body.
pub async fn get_as(server: &RunningServer, key: &str, path_and_query: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{}{path_and_query}", server.base_url()))
        .header("authorization", format!("Bearer {key}"))
        .send()
        .await
        .expect("sent");
    let status = resp.status().as_u16();
    let value = serde_json::from_slice(&resp.bytes().await.expect("body")).unwrap_or(Value::Null);
    (status, value)
}

/// Export everything and verify it with the SDK's offline verifier.
pub async fn export_and_verify(server: &RunningServer) -> (String, BundleVerification) {
    export_and_verify_with(server, KEY).await
}

/// Export everything `key`'s organization holds and verify it offline.
pub async fn export_and_verify_with(
    server: &RunningServer,
    key: &str,
) -> (String, BundleVerification) {
    let text = export_text(&server.base_url(), key).await;
    let key = VerifyingKey::from_spki_pem(server.public_key_pem()).expect("key");
    let result = verify_audit_bundle(&text, &[key]).expect("a bundle");
    (text, result)
}

/// Export everything `key`'s organization holds from the server at
/// `base_url`: the bundle's exact text (the signature covers it).
pub async fn export_text(base_url: &str, key: &str) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{base_url}/v1-audit/exports"))
        .header("authorization", format!("Bearer {key}"))
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 200);
    resp.text().await.expect("body")
}

/// An empty scratch directory of its own, `prefix-name-<pid>` under the
/// target's temporary directory (tests of one binary run at once).
pub fn scratch_dir(prefix: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{prefix}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The seconds of a rate-limited reply's `Retry-After`, checked to be within
/// the minute's window.
pub fn retry_after_secs(headers: &reqwest::header::HeaderMap) -> u64 {
    let wait: u64 = headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    wait
}

/// `atlasent-server serve` on the database `db`, signing with `key`: on a
/// free loopback port, with [`KEY`] (and the `extra` arguments), the finance
/// policy, no rate limit to speak of, and its standard output piped (its
/// first line says where it listens).
pub fn serve_command(
    db: &std::path::Path,
    key: &std::path::Path,
    extra: &[&str],
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_atlasent-server"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--api-key", KEY])
        .args(["--rate-limit-per-minute", "1000000"])
        .args(extra)
        .arg("--policy")
        .arg(policy_path("finance_wire_transfer.json"))
        .arg("--db")
        .arg(db)
        .arg("--signing-key")
        .arg(key)
        .stdout(std::process::Stdio::piped());
    command
}

/// Run `command`, which must succeed: its standard output (UTF-8).
pub fn stdout_of(command: &mut std::process::Command) -> String {
    let out = command.output().expect("the command runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{command:?} failed: {stderr}");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Start `builder`, which must be refused: the error's message.
pub async fn refused_start(builder: atlasent_server::ServerBuilder) -> String {
    builder.start().await.err().expect("refused").to_string()
}

/// Every item of a listing read with `key`, following `next_cursor` from
/// `first` (a path with its query, e.g. `/v1/permits?limit=2`): each page is
/// a 200 counting `total` matches, and its items are under `list`.
pub async fn all_pages(
    server: &RunningServer,
    key: &str,
    first: &str,
    list: &str,
    total: u64,
) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{first}&cursor={c}"),
            None => first.to_owned(),
        };
        let (status, page) = get_as(server, key, &path).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert_eq!(page["total"], total, "{path}");
        seen.extend(page[list].as_array().expect(list).iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    seen
}

/// Policy documents compiled into one set (each must be valid).
pub fn policy_set(docs: &[Value]) -> atlasent_server::policy::PolicySet {
    let policies = docs
        .iter()
        .map(|d| {
            atlasent_server::policy::Policy::from_value(d).unwrap_or_else(|e| panic!("{d}: {e:?}"))
        })
        .collect();
    atlasent_server::policy::PolicySet::new(policies).expect("distinct ids")
}

/// A JSON POST with [`KEY`] to the server at `base_url`: status and body
/// text.
pub async fn post_text(base_url: &str, path: &str, body: String) -> (u16, String) {
    post_text_as(base_url, KEY, path, body).await
}

/// A JSON POST with `key` to the server at `base_url`: status and body
/// text.
pub async fn post_text_as(base_url: &str, key: &str, path: &str, body: String) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("{base_url}{path}"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("sent");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// One damaged permit row fails only the verify that reads it, not the
/// other writes of its batch. Seven permits are issued; `corrupt` damages
/// the first one's row (given its id); `stall` holds the store's write lock
/// (the guard it returns releases it when dropped) so that, behind one
/// blocked write, the verifies of all seven and four evaluations pile up
/// into the writer's next batch. The damaged one answers 503, every other
/// one succeeds, and the chain exported afterwards verifies and holds them.
/// (The waits only let the requests arrive: on a machine so loaded that one
/// reaches the writer after the release, it commits in a batch of its own
/// and the test checks less, never wrongly.)
pub async fn a_corrupt_permit_fails_alone<G>(
    server: &RunningServer,
    corrupt: impl FnOnce(&str),
    stall: impl std::future::Future<Output = G>,
) {
    let transfer = |memo: String| serde_json::json!({ "amount_usd": 100, "counterparty_id": "cp-1", "memo": memo });
    let evaluate = |memo: String| {
        serde_json::json!({ "action_type": "wire_transfer", "actor_id": "finance-agent",
                            "context": transfer(memo) })
        .to_string()
    };
    let call = |path: &'static str, body: String| {
        let url = server.base_url();
        tokio::spawn(async move {
            let (status, text) = post_text(&url, path, body).await;
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            )
        })
    };
    let mut ids = Vec::new();
    for i in 0..7 {
        let (status, reply) = call("/v1-evaluate", evaluate(format!("p{i}")))
            .await
            .expect("joined");
        assert_eq!(status, 200, "{reply}");
        ids.push(reply["permit_token"].as_str().expect("a permit").to_owned());
    }
    corrupt(&ids[0]);
    let guard = stall.await;
    let blocked = call("/v1-evaluate", evaluate("blocked".into()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let verifies: Vec<_> = ids
        .iter()
        .map(|id| call("/v1-verify-permit", format!(r#"{{"permit_token":"{id}"}}"#)))
        .collect();
    let evaluations: Vec<_> = (0..4)
        .map(|i| call("/v1-evaluate", evaluate(format!("e{i}"))))
        .collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    drop(guard);
    let mut decided = 0;
    for (i, task) in verifies.into_iter().enumerate() {
        let (status, reply) = task.await.expect("joined");
        if i == 0 {
            assert_eq!(status, 503, "the damaged permit fails closed: {reply}");
            assert_eq!(reply["code"], "server_error", "{reply}");
        } else {
            assert_eq!(status, 200, "permit {i}, beside the damaged one: {reply}");
            assert_eq!(reply["valid"], true, "permit {i}: {reply}");
            decided += 1;
        }
    }
    for task in evaluations.into_iter().chain([blocked]) {
        let (status, reply) = task.await.expect("joined");
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["decision"], "allow", "{reply}");
        decided += 1;
    }
    let (bundle, verification) = export_and_verify(server).await;
    assert!(verification.verified(), "{verification:?}");
    let bundle: Value = serde_json::from_str(&bundle).expect("a bundle");
    assert_eq!(
        bundle["events"].as_array().map_or(0, Vec::len),
        7 + decided,
        "seven evaluations, then every decision but the damaged permit's verify"
    );
}

/// The key of organization `acme` in [`two_organizations`]' servers.
pub const ACME: &str = "ask_test_acme_key";
/// The key of organization `globex` in [`two_organizations`]' servers.
pub const GLOBEX: &str = "ask_test_globex_key";

/// A server builder of two organizations, `acme` ([`ACME`]) and `globex`
/// ([`GLOBEX`]), with the finance policy.
pub fn two_organizations() -> atlasent_server::ServerBuilder {
    Server::builder()
        .policy_file(policy_path("finance_wire_transfer.json"))
        .org_api_key("acme", ACME)
        .org_api_key("globex", GLOBEX)
}

/// A legacy-wire evaluation of a small transfer with `key`, spawned: status
/// and body text.
pub fn spawn_transfer(
    server: &RunningServer,
    key: &'static str,
    memo: &str,
) -> tokio::task::JoinHandle<(u16, String)> {
    let body = serde_json::json!({ "agent": "finance-agent", "action": "wire_transfer",
        "context": { "amount_usd": 100, "counterparty_id": "cp-1", "memo": memo } });
    let (url, body) = (server.base_url(), body.to_string());
    tokio::spawn(async move { post_text_as(&url, key, "/v1-evaluate", body).await })
}

/// With `acme`'s chain head damaged: behind `stall` (released when its
/// guard drops), one evaluation of `acme` and three of `globex` pile into
/// one batch (after one blocked `globex` write). `acme`'s answers 503,
/// every `globex` one succeeds.
pub async fn a_damaged_head_fails_only_its_organization<G>(
    server: &RunningServer,
    stall: impl std::future::Future<Output = G>,
) {
    let guard = stall.await;
    let blocked = spawn_transfer(server, GLOBEX, "blocked");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let acme = spawn_transfer(server, ACME, "a1");
    let globex: Vec<_> = (0..3)
        .map(|i| spawn_transfer(server, GLOBEX, &format!("g{i}")))
        .collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    drop(guard);
    let (status, reply) = acme.await.expect("joined");
    assert_eq!(status, 503, "acme's chain head is unreadable: {reply}");
    for task in globex.into_iter().chain([blocked]) {
        let (status, reply) = task.await.expect("joined");
        assert_eq!(status, 200, "globex, beside acme's damaged head: {reply}");
    }
}
