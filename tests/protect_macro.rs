//! `#[atlasent::protect]` at run time: against the real local server the body
//! runs exactly once on allow and never on deny; against a fault server it
//! never runs on failed verification, timeout or 5xx; the caller gets the
//! error through its own type; the permit in the body is the one the server
//! issued; the context reaches the wire exactly as written.

#[path = "support/server.rs"]
mod server;
#[path = "../atlasent/tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use atlasent::{DenialStage, ErrorCode, Permit};
use atlasent_server::RunningServer;
use serde_json::json;
use support::{FaultServer, Reply};

const KEY: &str = "ask_local_macro_tests";

#[derive(Debug)]
enum PayError {
    Unauthorized(atlasent::Error),
}

impl From<atlasent::Error> for PayError {
    fn from(e: atlasent::Error) -> Self {
        PayError::Unauthorized(e)
    }
}

impl PayError {
    fn inner(&self) -> &atlasent::Error {
        match self {
            PayError::Unauthorized(e) => e,
        }
    }
}

struct Treasury {
    client: atlasent::Client,
    runs: AtomicUsize,
    seen: std::sync::Mutex<Option<(String, String, String)>>,
}

impl Treasury {
    fn new(client: atlasent::Client) -> Self {
        Self {
            client,
            runs: AtomicUsize::new(0),
            seen: std::sync::Mutex::new(None),
        }
    }

    #[atlasent::protect(
        action = "wire_transfer",
        agent = "finance-agent",
        context = json!({ "amount_usd": amount, "counterparty_id": to, "memo": memo }),
        client = self.client,
    )]
    async fn wire(
        &self,
        amount: u64,
        to: &str,
        memo: &str,
        permit: &Permit,
    ) -> Result<u64, PayError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        *self.seen.lock().expect("lock") = Some((
            permit.permit_id().to_owned(),
            permit.agent().to_owned(),
            permit.action().to_owned(),
        ));
        Ok(amount)
    }
}

impl Treasury {
    /// A transfer of `amount` to `cp-1`.
    async fn pay(&self, amount: u64, memo: &str) -> Result<u64, PayError> {
        self.wire(amount, "cp-1", memo).await
    }

    /// What the body last saw: the permit's id, agent and action.
    fn last_seen(&self) -> (String, String, String) {
        let seen = self.seen.lock().expect("lock").clone();
        seen.expect("body saw a permit")
    }
}

async fn real_server() -> RunningServer {
    server::policy_server(server::FINANCE_POLICY, KEY).await
}

/// A generous timeout: only the stall case wants one to fire (it sets its
/// own), and a loaded machine must not turn any other case into a timeout.
fn client_for(url: &str) -> atlasent::Client {
    client_with_timeout(url, Duration::from_secs(10))
}

fn client_with_timeout(url: &str, timeout: Duration) -> atlasent::Client {
    atlasent::Client::builder()
        .api_key(KEY)
        .base_url(url)
        .retry_backoff(Duration::from_millis(2))
        .max_retries(1)
        .timeout(timeout)
        .build()
        .expect("client")
}

/// A real server and a treasury whose client talks to it.
async fn treasury() -> (RunningServer, Treasury) {
    let server = real_server().await;
    let treasury = Treasury::new(client_for(&server.base_url()));
    (server, treasury)
}

#[tokio::test]
async fn allow_runs_the_body_once_with_the_issued_permit() {
    let (_server, treasury) = treasury().await;
    let sent = treasury.pay(500, "invoice 7").await.expect("allowed");
    assert_eq!(sent, 500);
    assert_eq!(treasury.runs.load(Ordering::SeqCst), 1);
    let (id, agent, action) = treasury.last_seen();
    assert_eq!(
        (agent.as_str(), action.as_str()),
        ("finance-agent", "wire_transfer")
    );
    // The id is the one the server issued and logged.
    let page = treasury
        .client
        .list_audit_events(&atlasent::audit::AuditEventQuery::new().types(["evaluate.allow"]))
        .await
        .expect("events");
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].payload["decision_id"], id.as_str());
}

#[tokio::test]
async fn deny_never_runs_the_body_and_reaches_the_caller_as_its_error() {
    let (_server, treasury) = treasury().await;
    let err = treasury.pay(50_000, "too much").await.expect_err("denied");
    let denial = err.inner().denial().expect("a denial");
    assert_eq!(denial.stage(), DenialStage::Policy);
    assert!(
        denial.reason().contains("deny_high_value"),
        "{}",
        denial.reason()
    );
    // Missing memo: no allow rule fires, default deny.
    let err = treasury.pay(5, "").await.expect_err("denied");
    assert!(err.inner().is_denied());
    assert_eq!(
        treasury.runs.load(Ordering::SeqCst),
        0,
        "the body never ran"
    );
}

fn allow_reply() -> Reply {
    Reply::json(
        200,
        &json!({ "permitted": true, "decision_id": "dec_fault_1", "audit_hash": "h" }),
    )
}

#[tokio::test]
async fn failed_verification_timeout_and_5xx_never_run_the_body() {
    let cases: Vec<(&str, FaultServer, Option<ErrorCode>)> = vec![
        (
            "verification fails",
            FaultServer::start(|req, _| {
                if req.path == "/v1-evaluate" {
                    allow_reply()
                } else {
                    Reply::json(200, &json!({ "verified": false, "outcome": "revoked" }))
                }
            }),
            None,
        ),
        (
            "timeout",
            FaultServer::always(Reply::Stall),
            Some(ErrorCode::Timeout),
        ),
        (
            "5xx",
            FaultServer::always(Reply::text(503, "down")),
            Some(ErrorCode::ServerError),
        ),
        (
            "verify 5xx",
            FaultServer::start(|req, _| {
                if req.path == "/v1-evaluate" {
                    allow_reply()
                } else {
                    Reply::text(500, "db")
                }
            }),
            Some(ErrorCode::ServerError),
        ),
    ];
    for (name, server, code) in cases {
        let timeout = match code {
            Some(ErrorCode::Timeout) => Duration::from_millis(300),
            _ => Duration::from_secs(10),
        };
        let treasury = Treasury::new(client_with_timeout(&server.url(), timeout));
        let err = treasury.pay(5, "m").await.expect_err(name);
        match code {
            Some(code) => assert_eq!(err.inner().code(), Some(code), "{name}: {:?}", err.inner()),
            None => assert_eq!(
                err.inner().denial().map(|d| d.stage()),
                Some(DenialStage::Verification),
                "{name}"
            ),
        }
        assert_eq!(
            treasury.runs.load(Ordering::SeqCst),
            0,
            "{name}: the body never ran"
        );
    }
}

#[tokio::test]
async fn the_context_reaches_the_wire_exactly_as_written() {
    let server = FaultServer::start(|req, _| {
        if req.path == "/v1-evaluate" {
            allow_reply()
        } else {
            Reply::json(
                200,
                &json!({ "verified": true, "outcome": "verified", "permit_hash": "ph" }),
            )
        }
    });
    let treasury = Treasury::new(client_for(&server.url()));
    treasury
        .wire(42, "cp-9", "note \"quoted\" ✓")
        .await
        .expect("allowed");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let expected =
        json!({ "amount_usd": 42, "counterparty_id": "cp-9", "memo": "note \"quoted\" ✓" });
    // The current wire (the default): the context goes to evaluate as
    // written, and verify carries its execution hash instead.
    let (evaluate, verify) = (requests[0].json(), requests[1].json());
    assert_eq!(evaluate["context"], expected);
    let hash = atlasent::wire::execution_hash(
        "wire_transfer",
        "finance-agent",
        expected.as_object().expect("object"),
    );
    assert_eq!(verify["execution_hash"], json!(hash));
    assert!(verify.get("context").is_none(), "{verify}");
    for body in [&evaluate, &verify] {
        assert_eq!(body["actor_id"], "finance-agent");
        assert_eq!(body["action_type"], "wire_transfer");
    }
    assert_eq!(treasury.runs.load(Ordering::SeqCst), 1);
}

// The blocking form on a plain fn, with the global client configured.
static SYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[atlasent::protect(action = "wire_transfer", agent = "finance-agent", context = json!({ "amount_usd": amount, "counterparty_id": "cp-1", "memo": "cli" }))]
fn wire_from_cli(amount: u64, _permit: Permit) -> Result<u64, PayError> {
    SYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(amount)
}

#[test]
fn a_plain_fn_uses_the_blocking_client() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt.block_on(real_server());
    atlasent::configure(client_for(&server.base_url()));
    assert_eq!(wire_from_cli(10).expect("allowed"), 10);
    assert!(wire_from_cli(20_000)
        .expect_err("denied")
        .inner()
        .is_denied());
    assert_eq!(SYNC_RUNS.load(Ordering::SeqCst), 1);
    drop(server);
}
