//! The axum and actix-web examples over real HTTP: allow → 200 with the
//! permit id; deny → 403 with the reason; decision server down → 503; rate
//! limited → 429 with `Retry-After`; and no handler body ever runs without a
//! permit.

#[path = "../examples/axum_service.rs"]
#[allow(dead_code, unreachable_pub)]
mod axum_service;

#[path = "../examples/actix_service.rs"]
#[allow(dead_code, unreachable_pub)]
mod actix_service;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use atlasent_server::{RunningServer, Server};
use serde_json::Value;

const KEY: &str = "ask_local_web_tests";

async fn decision_server(rate_limit: u32) -> RunningServer {
    let policy =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/policies/demo.json");
    Server::builder()
        .policy_file(policy)
        .api_key(KEY)
        .rate_limit_per_minute(rate_limit)
        .start()
        .await
        .expect("server")
}

fn client(url: &str) -> atlasent::Client {
    atlasent::Client::builder()
        .api_key(KEY)
        .base_url(url)
        .max_retries(0)
        .timeout(std::time::Duration::from_millis(500))
        .build()
        .expect("client")
}

fn refused_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    drop(l);
    url
}

struct Reply {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

async fn post(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = reqwest::Client::new().post(url);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let resp = req.send().await.expect("reply");
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let body = serde_json::from_slice(&resp.bytes().await.expect("body")).unwrap_or(Value::Null);
    Reply {
        status,
        retry_after,
        body,
    }
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

#[tokio::test]
async fn axum_allow_deny_unavailable_and_rate_limited() {
    let server = decision_server(600).await;
    let (url, runs) = serve_axum(client(&server.base_url())).await;

    let ok = post(
        &format!("{url}/deploy"),
        &[("x-agent-id", "deploy-bot"), ("x-environment", "staging")],
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

    let denied = post(&format!("{url}/deploy"), &[("x-agent-id", "deploy-bot")]).await;
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert!(
        denied.body["reason"]
            .as_str()
            .unwrap_or("")
            .contains("requires context approver"),
        "{}",
        denied.body
    );
    assert!(denied.body["evaluation_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("dec_")));
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
            &[("x-agent-id", "deploy-bot"), ("x-environment", "staging")],
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

async fn serve_actix(
    client: atlasent::Client,
) -> (String, Arc<AtomicUsize>, actix_web::dev::ServerHandle) {
    let runs = Arc::new(AtomicUsize::new(0));
    let state = actix_web::web::Data::new(actix_service::AppState {
        client,
        bodies_run: Arc::clone(&runs),
    });
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(state.clone())
            .configure(actix_service::routes)
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .expect("bind");
    let url = format!("http://{}", server.addrs()[0]);
    let running = server.run();
    let handle = running.handle();
    actix_web::rt::spawn(running);
    (url, runs, handle)
}

#[actix_web::test]
async fn actix_allow_deny_unavailable_and_rate_limited() {
    let server = decision_server(600).await;
    let (url, runs, handle) = serve_actix(client(&server.base_url())).await;
    let ok = post(&format!("{url}/wire/2500"), &[]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body["permit_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("dec_")));
    let denied = post(&format!("{url}/wire/50000"), &[]).await;
    assert_eq!(denied.status, 403);
    assert!(
        denied.body["reason"]
            .as_str()
            .unwrap_or("")
            .contains("deny_large_wires"),
        "{}",
        denied.body
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    handle.stop(true).await;

    let (down, down_runs, handle) = serve_actix(client(&refused_url())).await;
    let r = post(&format!("{down}/wire/5"), &[]).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(down_runs.load(Ordering::SeqCst), 0);
    handle.stop(true).await;

    let limited = decision_server(1).await;
    let (lim, lim_runs, handle) = serve_actix(client(&limited.base_url())).await;
    for _ in 0..2 {
        let r = post(&format!("{lim}/wire/5"), &[]).await;
        assert_eq!(r.status, 429, "{}", r.body);
        assert!(r.retry_after.is_some());
    }
    assert_eq!(lim_runs.load(Ordering::SeqCst), 0);
    handle.stop(true).await;
}
