//! A stub AtlaSent API for the SDK overhead bench and `examples/sdk_overhead`:
//! canned, valid allow and verify replies to `/v1-evaluate` and
//! `/v1-verify-permit` on both wires (current, as Python 2.18 and our
//! default speak it; legacy, as Python 1.4.1), each echoing the request's
//! `X-Request-ID` and carrying the rate-limit headers our server sends.
//! It does no policy work, so a client's time and CPU against it are the
//! client's own plus loopback HTTP.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// The permit every evaluate allows and every verify confirms.
pub const PERMIT: &str = "dec_stub_allow_001";

/// The agent, action and context every client of the bench sends: the
/// context of the contract's `current_protect_permit` vector (a nested
/// object, an array, a float, non-ASCII text and an `environment`); the
/// action in the dot notation Python 2.18 requires.
pub const AGENT: &str = "deploy-bot";
/// See [`AGENT`].
pub const ACTION: &str = "deploy.production";

/// See [`AGENT`].
pub fn context() -> serde_json::Value {
    serde_json::json!({
        "environment": "production",
        "change": { "id": "CHG-42", "files": 3, "risk": 0.25 },
        "approved_by": ["alice", "bob"],
        "note": "caf\u{e9} \u{2713} \"quoted\"",
        "amount": 1250.0
    })
}

/// Bind `addr` (port 0 for any) and serve forever on a thread of its own
/// (a current-thread runtime, so the stub never shares a thread with the
/// client measured); returns the base URL.
pub fn spawn(addr: SocketAddr) -> String {
    let listener = std::net::TcpListener::bind(addr).expect("bind the stub");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    std::thread::Builder::new()
        .name("stub".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("stub runtime");
            rt.block_on(serve(listener));
        })
        .expect("stub thread");
    url
}

/// Serve the stub on `listener` until the process ends.
pub async fn serve(listener: std::net::TcpListener) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let app = axum::Router::new()
        .route("/v1-evaluate", post(evaluate))
        .route("/v1-verify-permit", post(verify));
    axum::serve(listener, app).await.expect("stub serves");
}

/// Both wires' requests name the agent: the current one as `actor_id`.
fn is_current(body: &[u8]) -> bool {
    body.windows(10).any(|w| w == b"\"actor_id\"")
}

async fn evaluate(headers: HeaderMap, body: Bytes) -> Response {
    let id = request_id(&headers);
    let reply = if is_current(&body) {
        format!(
            r#"{{"decision":"allow","permit_token":"{PERMIT}","evaluation_id":"{PERMIT}","expires_at":"2099-01-01T00:05:00.000Z","reasons":["allowed by policy deploys, rule ship-it"],"request_id":"{id}","audit_hash":"hash_stub_001","timestamp":"2026-04-17T10:00:00.000Z"}}"#
        )
    } else {
        format!(
            r#"{{"permitted":true,"decision_id":"{PERMIT}","reason":"allowed by policy deploys, rule ship-it","audit_hash":"hash_stub_001","timestamp":"2026-04-17T10:00:00Z"}}"#
        )
    };
    json_reply(&headers, reply)
}

async fn verify(headers: HeaderMap, body: Bytes) -> Response {
    let id = request_id(&headers);
    let reply = if body.windows(14).any(|w| w == b"\"permit_token\"") {
        format!(
            r#"{{"valid":true,"outcome":"verified","reason":"permit verified","consumed":true,"permit_token":"{PERMIT}","expires_at":"2099-01-01T00:05:00.000Z","permit_hash":"permit_hash_001","audit_hash":"hash_stub_v001","timestamp":"2026-04-17T10:00:05.000Z","request_id":"{id}"}}"#
        )
    } else {
        r#"{"verified":true,"outcome":"verified","permit_hash":"permit_hash_001","timestamp":"2026-04-17T10:00:01Z"}"#.to_owned()
    };
    json_reply(&headers, reply)
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn json_reply(headers: &HeaderMap, body: String) -> Response {
    let mut response = (
        [
            ("content-type", "application/json"),
            ("x-ratelimit-limit", "1000000"),
            ("x-ratelimit-remaining", "999999"),
            ("x-ratelimit-reset", "4102444800"),
        ],
        body,
    )
        .into_response();
    if let Some(id) = headers.get("x-request-id") {
        response.headers_mut().insert("x-request-id", id.clone());
    }
    response
}
