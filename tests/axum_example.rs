//! The axum example over real HTTP: allow → 200 with the permit id; deny →
//! 403 with the reason; decision server down → 503; rate limited → 429 with
//! `Retry-After`; no handler body ever runs without a permit; the agent is
//! who the service authenticated, never a header the client chose.

#[path = "../examples/axum_service.rs"]
#[allow(dead_code, unreachable_pub)]
mod axum_service;

#[path = "support/http.rs"]
mod http;
#[path = "support/server.rs"]
mod server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use atlasent_server::RunningServer;
use http::{client, decision_server, post, refused_url};

const AUTHENTICATED: (&str, &str) = ("authorization", "Bearer demo-deploy-bot-token");

#[test]
fn the_token_is_the_examples() {
    assert_eq!(
        AUTHENTICATED.1,
        format!("Bearer {}", axum_service::DEPLOY_BOT_TOKEN)
    );
}

async fn serve_axum(client: atlasent::Client) -> (String, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let app = axum_service::app(axum_service::AppState {
        client,
        bodies_run: Arc::clone(&runs),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (url, runs)
}

/// A decision server and the axum app guarded by a client of it.
async fn serve_axum_with_server() -> (RunningServer, String, Arc<AtomicUsize>) {
    let server = decision_server(600).await;
    let (url, runs) = serve_axum(client(&server.base_url())).await;
    (server, url, runs)
}

#[tokio::test]
async fn axum_allow_deny_unavailable_and_rate_limited() {
    let (_server, url, runs) = serve_axum_with_server().await;

    let ok = post(
        &format!("{url}/deploy"),
        &[AUTHENTICATED, ("x-environment", "staging")],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(
        ok.body["permit_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("dec_")),
        "{}",
        ok.body
    );
    let ok = post(&format!("{url}/wire/2500"), &[]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body["permit_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("dec_")));
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    let denied = post(&format!("{url}/deploy"), &[AUTHENTICATED]).await;
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert!(
        denied.body["reason"]
            .as_str()
            .unwrap_or("")
            .contains("requires context approver"),
        "{}",
        denied.body
    );
    // The request id finds the decision in the audit trail; the decision id
    // is not the client's business.
    assert!(denied.body["request_id"].is_string(), "{}", denied.body);
    assert_eq!(denied.body.get("evaluation_id"), None, "{}", denied.body);
    assert_eq!(denied.body.get("audit_hash"), None, "{}", denied.body);
    let denied = post(&format!("{url}/wire/50000"), &[]).await;
    assert_eq!(denied.status, 403);
    assert!(denied.body["reason"]
        .as_str()
        .unwrap_or("")
        .contains("deny_large_wires"));
    let anonymous = post(&format!("{url}/deploy"), &[]).await;
    assert_eq!(anonymous.status, 401, "no agent, no decision");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "no body ran without a permit"
    );

    // Decision server down: fail-closed 503 on both kinds of guard.
    let (down_url, down_runs) = serve_axum(client(&refused_url())).await;
    for path in ["/deploy", "/wire/5"] {
        let r = post(
            &format!("{down_url}{path}"),
            &[AUTHENTICATED, ("x-environment", "staging")],
        )
        .await;
        assert_eq!(r.status, 503, "{path}: {}", r.body);
        assert_eq!(r.body["code"], "network");
    }
    assert_eq!(down_runs.load(Ordering::SeqCst), 0);

    // Rate limited: 429 with Retry-After.
    let limited = decision_server(1).await;
    let (lim_url, lim_runs) = serve_axum(client(&limited.base_url())).await;
    // The first request's evaluate uses the budget, its verify is refused;
    // the second is refused at evaluate. Both answer 429.
    for _ in 0..2 {
        let r = post(&format!("{lim_url}/wire/5"), &[]).await;
        assert_eq!(r.status, 429, "{}", r.body);
        let secs: u64 = r
            .retry_after
            .expect("Retry-After")
            .parse()
            .expect("seconds");
        assert!((1..=60).contains(&secs));
    }
    assert_eq!(lim_runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn forged_agent_header_without_authentication_is_refused() {
    let (_server, url, runs) = serve_axum_with_server().await;
    // Any HTTP client can set `x-agent-id`: without credentials it must not
    // name the agent, and the guarded body must not run.
    let forged = post(
        &format!("{url}/deploy"),
        &[("x-agent-id", "deploy-bot"), ("x-environment", "staging")],
    )
    .await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    let wrong_token = post(
        &format!("{url}/deploy"),
        &[
            ("authorization", "Bearer guessed"),
            ("x-agent-id", "deploy-bot"),
            ("x-environment", "staging"),
        ],
    )
    .await;
    assert_eq!(wrong_token.status, 401, "{}", wrong_token.body);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "no body ran without a permit"
    );

    // The authenticated path still works, whatever the header says.
    let ok = post(
        &format!("{url}/deploy"),
        &[
            AUTHENTICATED,
            ("x-agent-id", "someone-else"),
            ("x-environment", "staging"),
        ],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
