//! The actix-web example over real HTTP: allow → 200 with the permit id;
//! deny → 403 with the reason; decision server down → 503; rate limited →
//! 429 with `Retry-After`; no handler body ever runs without a permit.

#[path = "../examples/actix_service.rs"]
#[allow(dead_code, unreachable_pub)]
mod actix_service;

#[path = "support/http.rs"]
mod http;
#[path = "support/server.rs"]
mod server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::{client, decision_server, post, refused_url};

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
