//! Two `atlasent-server serve` processes on one PostgreSQL database behave
//! as one server: a permit issued on one node verifies (once) on the other,
//! revocation, expiry and retried requests are seen by both, both append to
//! one audit chain, and killing either node (or PostgreSQL itself) under load
//! loses nothing that was acknowledged.
//!
//! Each test starts its own PostgreSQL (`postgres/cluster.rs`); a machine
//! without one fails with the reason (`scripts/test.sh` installs it).

mod common;

#[path = "postgres/cluster.rs"]
mod cluster;

// The interop helpers this file does not call stay unused.
#[allow(dead_code)]
#[path = "python/venv.rs"]
mod venv;

#[path = "../../atlasent/tests/support/standalone.rs"]
mod standalone;

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use atlasent::audit::{verify_audit_bundle, VerifyingKey};
use atlasent::{PermitStatus, VerifyResult};
use cluster::PgCluster;
use common::KEY;
use serde_json::{json, Value};
use standalone::Rng;

/// How long a node may take to say where it listens, or to exit when it
/// must: only there to fail a hung test, never asserted.
const PATIENCE: Duration = Duration::from_secs(30);

/// One `serve` process; killed (and reaped) on drop. Its standard error
/// goes to a log file of its own, shown when the test fails.
struct Node {
    child: Child,
    url: String,
    spec: Spec,
}

/// How a node is started (again).
struct Spec {
    db: String,
    key: PathBuf,
    extra: Vec<String>,
    pgpassword: Option<String>,
    log: PathBuf,
}

impl Node {
    /// `serve --db db` signing with the key file `key`, once it listens.
    fn start(db: &str, key: &Path, extra: &[&str]) -> Node {
        Node::start_with(db, key, extra, None)
    }

    /// [`Node::start`] with `PGPASSWORD` set to `pgpassword` (else unset).
    fn start_with(db: &str, key: &Path, extra: &[&str], pgpassword: Option<&str>) -> Node {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let log = key.with_file_name(format!(
            "serve-{}.log",
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let spec = Spec {
            db: db.to_owned(),
            key: key.to_owned(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            pgpassword: pgpassword.map(str::to_owned),
            log,
        };
        let (child, url) = spawn(&spec);
        Node { child, url, spec }
    }

    /// SIGKILL, then start again on the same database (on a new port).
    fn kill_and_restart(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
        (self.child, self.url) = spawn(&self.spec);
    }

    fn client(&self) -> atlasent::Client {
        client(&self.url)
    }

    /// Whether the process still runs, for failure messages.
    fn state(&mut self) -> String {
        match self.child.try_wait() {
            Ok(None) => format!("{} runs", self.url),
            Ok(Some(status)) => format!("{} exited: {status}", self.url),
            Err(e) => format!("{}: {e}", self.url),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}: {}", self.url, log_tail(&self.spec.log));
        }
    }
}

/// The last lines of a node's log, with its name.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    format!("{}:\n{tail}", log.display())
}

/// `common::serve_command` as `spec` says, its standard error appended to
/// its log: the child and the URL of its `listening on` line.
fn spawn(spec: &Spec) -> (Child, String) {
    let extra: Vec<&str> = spec.extra.iter().map(String::as_str).collect();
    let mut command = common::serve_command(Path::new(&spec.db), &spec.key, &extra);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log)
        .expect("the node's log");
    command.stderr(log).env_remove("PGPASSWORD");
    if let Some(password) = &spec.pgpassword {
        command.env("PGPASSWORD", password);
    }
    let mut child = command.spawn().expect("the server binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // Keep the pipe open (and drained) for as long as the node lives.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let db = &spec.db;
    let line = match rx.recv_timeout(PATIENCE) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve --db {db} did not say where it listens within {PATIENCE:?}; {}",
                log_tail(&spec.log)
            );
        }
    };
    match line.trim().strip_prefix("listening on ") {
        Some(url) => (child, url.to_owned()),
        None => {
            let _ = child.kill();
            let status = child.wait().expect("reaped");
            panic!(
                "serve --db {db} did not start ({status}): first line {line:?}; {}",
                log_tail(&spec.log)
            )
        }
    }
}

/// An SDK client of the node at `url`, on the current wire, that retries
/// nothing: every answer counted is the first one.
fn client(url: &str) -> atlasent::Client {
    atlasent::Client::builder()
        .api_key(KEY)
        .base_url(url)
        .max_retries(0)
        .timeout(Duration::from_secs(10))
        .max_response_bytes(64 << 20)
        .build()
        .expect("client")
}

/// A fresh cluster with the database `name`, and a scratch directory for
/// the signing key both nodes share (it does not exist yet: the first node
/// writes it).
fn setup(name: &str) -> (PgCluster, String, PathBuf) {
    let cluster = PgCluster::start();
    cluster.create_database(name);
    let url = cluster.url(name);
    let key = common::scratch_dir("pg", name).join("signing-key.pem");
    (cluster, url, key)
}

/// Two nodes on `db`, A first (it writes the signing key B then reads).
fn two_nodes(db: &str, key: &Path, extra: &[&str]) -> [Node; 2] {
    let a = Node::start(db, key, extra);
    let b = Node::start(db, key, extra);
    [a, b]
}

fn small_transfer(memo: &str) -> Value {
    json!({ "amount_usd": 100, "counterparty_id": "cp-1", "memo": memo })
}

/// An evaluate the policy allows, answered by `node`: the permit id.
async fn allowed_permit(node: &Node, memo: &str) -> String {
    let reply = node
        .client()
        .evaluate("finance-agent", "wire_transfer", &small_transfer(memo))
        .await
        .expect("an answer");
    assert!(reply.permitted, "{reply:?}");
    reply.permit_id
}

/// Verify `permit` (issued for [`small_transfer`] of `memo`) on `node`.
async fn verify_on(node: &Node, permit: &str, memo: &str) -> VerifyResult {
    node.client()
        .verify(
            permit,
            "finance-agent",
            "wire_transfer",
            &small_transfer(memo),
        )
        .await
        .expect("an answer")
}

/// The status of `permit` as `node` reads it (`GET /v1/permits/{id}`).
async fn status_of(node: &Node, permit: &str) -> PermitStatus {
    match node.client().get_permit(permit).await {
        Ok(record) => record.status,
        Err(e) => panic!("{permit} on {}: {e}", node.url),
    }
}

/// A raw POST to `url`: the status and the exact body.
async fn post_raw(url: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Vec<u8>) {
    let mut request = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let reply = request.body(body.to_owned()).send().await.expect("sent");
    let status = reply.status().as_u16();
    (status, reply.bytes().await.expect("body").to_vec())
}

/// A GET of `path` on `url` with [`KEY`]: the status and the parsed body.
async fn get_json(url: &str, path: &str) -> (u16, Value) {
    let reply = reqwest::Client::new()
        .get(format!("{url}{path}"))
        .header("authorization", format!("Bearer {KEY}"))
        .send()
        .await
        .expect("sent");
    let status = reply.status().as_u16();
    let bytes = reply.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The node's public signing key (PEM).
async fn public_key_pem(url: &str) -> String {
    let (status, keys) = get_json(url, "/v1-signing-keys").await;
    assert_eq!(status, 200, "{keys}");
    keys["keys"][0]["public_key_pem"]
        .as_str()
        .expect("a PEM")
        .to_owned()
}

/// An export from the node at `url`, checked: it verifies with the SDK,
/// its sequence numbers run 1..=N with no gap, and it holds every one of
/// `decisions`. The bundle's text and its events.
async fn export_checked(url: &str, decisions: &HashSet<String>) -> (String, Vec<Value>) {
    let text = common::export_text(url, KEY).await;
    let key = VerifyingKey::from_spki_pem(&public_key_pem(url).await).expect("the key");
    let verification = verify_audit_bundle(&text, &[key]).expect("a bundle");
    assert!(
        verification.verified(),
        "the export from {url} does not verify: {verification:?}"
    );
    let bundle: Value = serde_json::from_str(&text).expect("JSON");
    let events = bundle["events"].as_array().expect("events").clone();
    assert_eq!(bundle["event_count"], events.len(), "{url}");
    let sequences: Vec<u64> = events
        .iter()
        .map(|e| e["sequence"].as_u64().expect("a sequence number"))
        .collect();
    let expected: Vec<u64> = (1..=events.len() as u64).collect();
    assert!(
        sequences == expected,
        "the export from {url} is not numbered 1..={} without a gap",
        events.len()
    );
    let logged: HashSet<&str> = events
        .iter()
        .filter_map(|e| e["payload"]["decision_id"].as_str())
        .collect();
    let missing: Vec<&String> = decisions
        .iter()
        .filter(|id| !logged.contains(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "the export from {url} lacks {} acknowledged decisions: {missing:?}",
        missing.len()
    );
    (text, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permit_issued_on_one_node_is_verified_revoked_and_retried_on_the_other() {
    let (_cluster, db, key) = setup("cross_node");
    let [a, b] = two_nodes(&db, &key, &[]);

    // Issued on A, verified on B; used up for A too.
    let permit = allowed_permit(&a, "cross-1").await;
    let on_b = verify_on(&b, &permit, "cross-1").await;
    assert!(on_b.verified, "{on_b:?}");
    let again_on_a = verify_on(&a, &permit, "cross-1").await;
    assert_eq!(
        (again_on_a.verified, again_on_a.outcome.as_str()),
        (false, "permit_consumed"),
        "{again_on_a:?}"
    );

    // Revoked on B, refused on A.
    let revoked = allowed_permit(&a, "cross-2").await;
    let revocation = b
        .client()
        .revoke_permit(&revoked, Some("cross-node test"))
        .await
        .expect("revoked");
    assert!(revocation.revoked, "{revocation:?}");
    let on_a = verify_on(&a, &revoked, "cross-2").await;
    assert_eq!(
        (on_a.verified, on_a.outcome.as_str()),
        (false, "permit_revoked"),
        "{on_a:?}"
    );
    for node in [&a, &b] {
        assert_eq!(status_of(node, &revoked).await, PermitStatus::Revoked);
    }

    // A retry under the same request id: A's reply, byte for byte, from B.
    let body = json!({ "action": "wire_transfer", "agent": "finance-agent", "context": small_transfer("retry") })
        .to_string();
    let rid = [("x-request-id", "pg-cross-node-retry-1")];
    let (status_a, first) = post_raw(&a.url, "/v1-evaluate", &rid, &body).await;
    let (status_b, second) = post_raw(&b.url, "/v1-evaluate", &rid, &body).await;
    assert_eq!((status_a, status_b), (200, 200));
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second),
        "a retry on the other node gets the first reply"
    );
    let other_body = json!({ "action": "wire_transfer", "agent": "finance-agent", "context": small_transfer("another") })
        .to_string();
    let (status, conflict) = post_raw(&b.url, "/v1-evaluate", &rid, &other_body).await;
    assert_eq!(
        status,
        409,
        "the same request id with another body: {}",
        String::from_utf8_lossy(&conflict)
    );

    // One decision under that id, in the one chain both nodes export.
    let first: Value = serde_json::from_slice(&first).expect("JSON");
    let decision = first["decision_id"].as_str().expect("a decision id");
    let decisions: HashSet<String> = [&permit, &revoked, &decision.to_owned()]
        .into_iter()
        .cloned()
        .collect();
    for node in [&a, &b] {
        let (_, events) = export_checked(&node.url, &decisions).await;
        let evaluations = events
            .iter()
            .filter(|e| {
                e["payload"]["decision_id"] == decision
                    && e["type"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("evaluate"))
            })
            .count();
        assert_eq!(evaluations, 1, "the retried request was decided once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_sent_to_both_nodes_at_once_is_answered_once() {
    const REQUESTS: usize = 20;
    let (_cluster, db, key) = setup("both_at_once");
    let [a, b] = two_nodes(&db, &key, &[]);
    // Evaluate, then verify each permit, every request on both nodes at the
    // same moment under one request id.
    let mut permits = Vec::new();
    for (step, path) in ["/v1-evaluate", "/v1-verify-permit"]
        .into_iter()
        .enumerate()
    {
        let mut tasks = Vec::new();
        for i in 0..REQUESTS {
            let memo = format!("at-once-{i}");
            let mut body = json!({ "action": "wire_transfer", "agent": "finance-agent", "context": small_transfer(&memo) });
            if let Some(permit) = permits.get(i) {
                body["decision_id"] = json!(permit);
            }
            let body = body.to_string();
            let rid = format!("pg-at-once-{step}-{i}");
            let (a, b) = (a.url.clone(), b.url.clone());
            tasks.push(tokio::spawn(async move {
                let headers = [("x-request-id", rid.as_str())];
                let (on_a, on_b) = tokio::join!(
                    post_raw(&a, path, &headers, &body),
                    post_raw(&b, path, &headers, &body)
                );
                (rid.clone(), on_a, on_b)
            }));
        }
        let mut next = Vec::new();
        for task in tasks {
            let (rid, (status_a, on_a), (status_b, on_b)) = task.await.expect("task");
            let (on_a, on_b) = (
                String::from_utf8_lossy(&on_a),
                String::from_utf8_lossy(&on_b),
            );
            assert_eq!((status_a, status_b), (200, 200), "{rid}: {on_a} / {on_b}");
            assert_eq!(on_a, on_b, "{rid}: one answer on both nodes");
            let reply: Value = serde_json::from_str(&on_a).expect("JSON");
            match step {
                0 => next.push(reply["decision_id"].as_str().expect("an id").to_owned()),
                _ => assert_eq!(reply["verified"], true, "{rid}: {reply}"),
            }
        }
        if step == 0 {
            permits = next;
        }
    }
    let decisions: HashSet<String> = permits.iter().cloned().collect();
    assert_eq!(decisions.len(), REQUESTS, "one decision per request id");
    for node in [&a, &b] {
        let (_, events) = export_checked(&node.url, &decisions).await;
        assert_eq!(
            events.len(),
            2 * REQUESTS,
            "one evaluate and one verify event per request id, however many nodes answered"
        );
        assert_eq!(status_of(node, &permits[0]).await, PermitStatus::Consumed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_started_at_once_on_an_empty_database_all_serve_one_chain() {
    let (_cluster, db, key) = setup("started_at_once");
    // The signing key first (its file is not the database's to guard): a
    // node without a database writes it.
    drop(Node::start(":memory:", &key, &[]));
    let nodes: Vec<Node> = std::thread::scope(|scope| {
        let starts: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| Node::start(&db, &key, &[])))
            .collect();
        starts
            .into_iter()
            .map(|s| s.join().expect("a node starts"))
            .collect()
    });
    let mut decisions = HashSet::new();
    for (n, node) in nodes.iter().enumerate() {
        let permit = allowed_permit(node, &format!("node-{n}")).await;
        let other = &nodes[(n + 1) % nodes.len()];
        assert!(
            verify_on(other, &permit, &format!("node-{n}"))
                .await
                .verified
        );
        decisions.insert(permit);
    }
    for node in &nodes {
        let (_, events) = export_checked(&node.url, &decisions).await;
        assert_eq!(
            events.len(),
            2 * nodes.len(),
            "an evaluate and a verify per node"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permit_expired_on_one_node_is_expired_on_the_other() {
    let (_cluster, db, key) = setup("expiry");
    let [a, b] = two_nodes(&db, &key, &["--permit-ttl", "1s"]);
    let permit = allowed_permit(&a, "expiry").await;
    // Past the one-second lifetime (on the clock both nodes share).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let on_b = verify_on(&b, &permit, "expiry").await;
    assert_eq!(
        (on_b.verified, on_b.outcome.as_str()),
        (false, "permit_expired"),
        "{on_b:?}"
    );
    assert_eq!(status_of(&a, &permit).await, PermitStatus::Expired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_verifies_over_two_nodes_verify_exactly_once() {
    let (_cluster, db, key) = setup("single_use");
    let nodes = two_nodes(&db, &key, &[]);
    let permit = allowed_permit(&nodes[0], "once").await;
    let clients = [nodes[0].client(), nodes[1].client()];
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let client = clients[i % 2].clone();
            let permit = permit.clone();
            tokio::spawn(async move {
                client
                    .verify(
                        &permit,
                        "finance-agent",
                        "wire_transfer",
                        &small_transfer("once"),
                    )
                    .await
            })
        })
        .collect();
    let (mut verified, mut refused, mut errors) = (0, 0, Vec::new());
    for task in tasks {
        match task.await.expect("task") {
            Ok(v) if v.verified => verified += 1,
            Ok(v) if v.outcome == "permit_consumed" => refused += 1,
            Ok(v) => errors.push(format!("unexpected outcome {v:?}")),
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert!(
        errors.is_empty(),
        "verifies that were not answered: {errors:?}"
    );
    assert_eq!((verified, refused), (1, 49));
    for node in &nodes {
        assert_eq!(status_of(node, &permit).await, PermitStatus::Consumed);
    }

    // Through both doors too: `/v1-verify-permit` and
    // `/v1/permits/{id}/verify`, on both nodes.
    let permit = allowed_permit(&nodes[1], "both-doors").await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let client = clients[i % 2].clone();
            let permit = permit.clone();
            tokio::spawn(async move {
                if i % 4 < 2 {
                    let context = small_transfer("both-doors");
                    let v = client.verify(&permit, "finance-agent", "wire_transfer", &context);
                    v.await.map(|v| (v.verified, v.outcome))
                } else {
                    let v = client.verify_permit_by_id(&permit).await;
                    v.map(|v| (v.valid, v.permit.status.as_str().to_owned()))
                }
            })
        })
        .collect();
    let (mut verified, mut refused, mut errors) = (0, 0, Vec::new());
    for task in tasks {
        match task.await.expect("task") {
            Ok((true, _)) => verified += 1,
            Ok((false, o)) if ["permit_consumed", "consumed", "verified"].contains(&o.as_str()) => {
                refused += 1
            }
            Ok((false, o)) => errors.push(format!("unexpected outcome {o}")),
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert!(
        errors.is_empty(),
        "verifies that were not answered: {errors:?}"
    );
    assert_eq!((verified, refused), (1, 49), "through both doors");
    let used = [
        status_of(&nodes[0], &permit).await,
        status_of(&nodes[1], &permit).await,
    ];
    assert!(used[0] == used[1] && used[0].is_used(), "{used:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_nodes_append_to_one_chain_that_the_sdk_and_python_verify() {
    const PER_NODE: usize = 200;
    const TASKS_PER_NODE: usize = 4;
    let py = tokio::task::spawn_blocking(|| venv::ensure_python_sdk("1.4.1", ""));
    let (_cluster, db, key) = setup("one_chain");
    let nodes = two_nodes(&db, &key, &[]);
    let mut tasks = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        for t in 0..TASKS_PER_NODE {
            let client = node.client();
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..PER_NODE / TASKS_PER_NODE {
                    // Every third one is denied: both kinds are chained.
                    let amount = if i % 3 == 0 { 50_000 } else { 100 };
                    let context = json!({ "amount_usd": amount, "counterparty_id": format!("cp-{n}-{t}"), "memo": format!("m{i}") });
                    let reply = client
                        .evaluate("finance-agent", "wire_transfer", &context)
                        .await
                        .unwrap_or_else(|e| panic!("node {n}: {e}"));
                    ids.push(reply.permit_id);
                }
                ids
            }));
        }
    }
    let mut decisions = HashSet::new();
    for task in tasks {
        decisions.extend(task.await.expect("task"));
    }
    assert_eq!(decisions.len(), 2 * PER_NODE, "distinct decision ids");

    let work = common::scratch_dir("pg", "one_chain_exports");
    let pem_path = work.join("signing-key.pub.pem");
    std::fs::write(&pem_path, public_key_pem(&nodes[0].url).await).expect("write the PEM");
    let py = py.await.expect("the Python SDK installs");
    let mut heads = BTreeSet::new();
    for (n, node) in nodes.iter().enumerate() {
        let (text, events) = export_checked(&node.url, &decisions).await;
        assert_eq!(
            events.len(),
            2 * PER_NODE,
            "one event per decision, no other"
        );
        let bundle: Value = serde_json::from_str(&text).expect("JSON");
        heads.insert(
            bundle["chain_head_hash"]
                .as_str()
                .expect("a head")
                .to_owned(),
        );
        let path = work.join(format!("export-{n}.json"));
        std::fs::write(&path, &text).expect("write the bundle");
        let args = vec![
            path.display().to_string(),
            pem_path.display().to_string(),
            (2 * PER_NODE).to_string(),
        ];
        venv::run_interop(
            py.clone(),
            "verify_bundle_141.py",
            args,
            "BUNDLE VERIFIED",
            2,
        )
        .await;
    }
    assert_eq!(
        heads.len(),
        1,
        "both nodes export the same chain: {heads:?}"
    );
}

/// What the load saw acknowledged.
#[derive(Default)]
struct Acknowledged {
    /// Every decision id an evaluate (or protect) reply carried.
    decisions: Vec<String>,
    /// The allowed ones: permits the store must hold.
    permits: Vec<String>,
    /// Permits a verify reply said were verified: used up on every node.
    used: Vec<String>,
}

/// Evaluate, and verify every other allowed permit, or `protect`, against
/// the node whose URL is `urls[node]` (read again each time: the node moves
/// when restarted), until `stop`; only answered calls are recorded.
async fn load(
    urls: Arc<Vec<Mutex<String>>>,
    node: usize,
    worker: usize,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Acknowledged>>,
) {
    let mut current: Option<(String, atlasent::Client)> = None;
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let url = urls[node].lock().expect("lock").clone();
        if current.as_ref().is_none_or(|(at, _)| *at != url) {
            current = Some((url.clone(), client(&url)));
        }
        let sdk = &current.as_ref().expect("a client").1;
        i += 1;
        let amount = if i % 3 == 0 { 50_000 } else { 100 };
        let context = json!({ "amount_usd": amount, "counterparty_id": format!("cp-{node}-{worker}"), "memo": format!("n{i}") });
        if i % 5 == 0 {
            if let Ok(permit) = sdk
                .protect("finance-agent", "wire_transfer", &context)
                .await
            {
                let mut acked = acknowledged.lock().expect("lock");
                acked.decisions.push(permit.permit_id().to_owned());
                acked.permits.push(permit.permit_id().to_owned());
                acked.used.push(permit.permit_id().to_owned());
            }
            continue;
        }
        match sdk
            .evaluate("finance-agent", "wire_transfer", &context)
            .await
        {
            Ok(reply) => {
                {
                    let mut acked = acknowledged.lock().expect("lock");
                    acked.decisions.push(reply.permit_id.clone());
                    if reply.permitted {
                        acked.permits.push(reply.permit_id.clone());
                    }
                }
                if reply.permitted && i % 2 == 0 {
                    let verified = sdk
                        .verify(&reply.permit_id, "finance-agent", "wire_transfer", &context)
                        .await;
                    if verified.is_ok_and(|v| v.verified) {
                        acknowledged
                            .lock()
                            .expect("lock")
                            .used
                            .push(reply.permit_id);
                    }
                }
            }
            // The node (or PostgreSQL) died under us: unacknowledged work may
            // be lost, and the node must fail closed.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Wait until the node at `url` answers an evaluate again (after PostgreSQL
/// restarted under it); panics after [`PATIENCE`].
async fn wait_until_serving(url: &str) {
    let sdk = client(url);
    let deadline = Instant::now() + PATIENCE;
    loop {
        match sdk
            .evaluate("finance-agent", "wire_transfer", &small_transfer("probe"))
            .await
        {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => {
                panic!("{url} does not serve again after PostgreSQL restarted: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_either_node_and_a_postgres_restart_lose_nothing_acknowledged() {
    const KILLS: usize = 5;
    const WORKERS_PER_NODE: usize = 3;
    let started = Instant::now();
    let (cluster, db, key) = setup("crash");
    let mut nodes = two_nodes(&db, &key, &[]);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    println!("postgres crash test seed: {seed}");
    let mut rng = Rng(seed);

    let urls = Arc::new(vec![
        Mutex::new(nodes[0].url.clone()),
        Mutex::new(nodes[1].url.clone()),
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let workers: Vec<_> = (0..2 * WORKERS_PER_NODE)
        .map(|w| {
            tokio::spawn(load(
                Arc::clone(&urls),
                w % 2,
                w,
                Arc::clone(&stop),
                Arc::clone(&acknowledged),
            ))
        })
        .collect();

    for kill in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(100 + rng.below(400))).await;
        if kill == KILLS / 2 {
            // PostgreSQL itself crashes once, under both nodes.
            tokio::task::block_in_place(|| cluster.restart());
            for node in &nodes {
                wait_until_serving(&node.url).await;
            }
            println!(
                "{:?}: PostgreSQL restarted; both nodes serve again",
                started.elapsed()
            );
        }
        let node = &mut nodes[kill % 2];
        tokio::task::block_in_place(|| node.kill_and_restart());
        *urls[kill % 2].lock().expect("lock") = node.url.clone();
        let done = acknowledged.lock().expect("lock").decisions.len();
        println!(
            "{:?}: kill {kill}: node {} restarted; {done} decisions acknowledged",
            started.elapsed(),
            kill % 2
        );
    }
    // Load on the last restarted nodes too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("load task");
    }

    let acked = std::mem::take(&mut *acknowledged.lock().expect("lock"));
    assert!(
        acked.decisions.len() > KILLS * 10 && !acked.used.is_empty(),
        "the load made real progress ({} decisions, {} used permits)",
        acked.decisions.len(),
        acked.used.len()
    );
    let decisions: HashSet<String> = acked.decisions.iter().cloned().collect();
    let mut heads = BTreeSet::new();
    for node in &nodes {
        let (text, _) = export_checked(&node.url, &decisions).await;
        let bundle: Value = serde_json::from_str(&text).expect("JSON");
        heads.insert(
            bundle["chain_head_hash"]
                .as_str()
                .expect("a head")
                .to_owned(),
        );
    }
    assert_eq!(
        heads.len(),
        1,
        "both nodes export the same chain: {heads:?}"
    );

    // Every acknowledged permit is held, and every acknowledged use stuck,
    // on both nodes.
    let used: Arc<HashSet<String>> = Arc::new(acked.used.iter().cloned().collect());
    let mut checks = Vec::new();
    for node in &nodes {
        for chunk in acked.permits.chunks(acked.permits.len().div_ceil(4)) {
            let (sdk, chunk, used) = (node.client(), chunk.to_vec(), Arc::clone(&used));
            checks.push(tokio::spawn(async move {
                let mut lost = Vec::new();
                for permit in chunk {
                    let held = sdk.get_permit(&permit).await;
                    match held {
                        Ok(r) if !used.contains(&permit) || r.status == PermitStatus::Consumed => {}
                        other => lost.push(format!("{permit}: {other:?}")),
                    }
                }
                lost
            }));
        }
    }
    let mut lost = Vec::new();
    for check in checks {
        lost.extend(check.await.expect("check task"));
    }
    let states: Vec<String> = nodes.iter_mut().map(Node::state).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged permits lost or not used up (of {}; nodes: {states:?}), the first: {:?}",
        lost.len(),
        acked.permits.len(),
        &lost[..lost.len().min(5)]
    );
    println!(
        "{:?}: {} decisions, {} permits, {} used: all held by both nodes",
        started.elapsed(),
        acked.decisions.len(),
        acked.permits.len(),
        acked.used.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_can_come_from_pgpassword_and_a_wrong_one_is_not_echoed() {
    let cluster = PgCluster::start();
    cluster.create_database("pgpassword");
    let key = common::scratch_dir("pg", "pgpassword").join("signing-key.pem");
    let node = Node::start_with(
        &cluster.url_without_password("pgpassword"),
        &key,
        &[],
        Some(cluster.password()),
    );
    let permit = allowed_permit(&node, "pgpassword").await;
    assert!(verify_on(&node, &permit, "pgpassword").await.verified);

    // A wrong password in the URL: no server, and not a word of it.
    let wrong = "wrong-Pa55word-not-to-print";
    let url = cluster.url("pgpassword").replace(cluster.password(), wrong);
    let (status, stderr) = serve_that_must_exit(&url, &key);
    assert!(
        !status.success(),
        "serve started with a wrong password: {stderr}"
    );
    assert!(!stderr.contains(wrong), "the password leaked: {stderr}");
    assert!(!stderr.contains(cluster.password()), "{stderr}");
}

#[test]
fn a_database_that_cannot_be_reached_stops_serve_naming_it_not_its_password() {
    let key = common::scratch_dir("pg", "unreachable").join("signing-key.pem");
    let (status, stderr) = serve_that_must_exit("postgres://nobody@127.0.0.1:1/x", &key);
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("nobody@127.0.0.1:1/x"),
        "the message names the database: {stderr}"
    );

    let secret = "s3cret-Pa55word-not-to-print";
    let (status, stderr) =
        serve_that_must_exit(&format!("postgresql://nobody:{secret}@127.0.0.1:1/x"), &key);
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    assert!(!stderr.contains(secret), "the password leaked: {stderr}");
}

/// `serve --db db`, which must exit (within [`PATIENCE`]): its status and
/// standard error.
fn serve_that_must_exit(db: &str, key: &Path) -> (std::process::ExitStatus, String) {
    let mut child = common::serve_command(Path::new(db), key, &[])
        .env_remove("PGPASSWORD")
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary starts");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve --db {db} neither started nor exited within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, reader.join().expect("stderr read"))
}
