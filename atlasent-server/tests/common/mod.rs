//! Shared helpers: a real server in-process, SDK clients and raw HTTP.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::time::Duration;

use atlasent::audit::{verify_audit_bundle, BundleVerification, VerifyingKey};
use atlasent_server::{RunningServer, Server};
use serde_json::Value;

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
    atlasent::Client::builder()
        .wire(wire)
        .api_key(KEY)
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

pub async fn get(server: &RunningServer, path_and_query: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{}{path_and_query}", server.base_url()))
        .header("authorization", format!("Bearer {KEY}"))
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
    let resp = reqwest::Client::new()
        .post(format!("{}/v1-audit/exports", server.base_url()))
        .header("authorization", format!("Bearer {key}"))
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.expect("body");
    let key = VerifyingKey::from_spki_pem(server.public_key_pem()).expect("key");
    let result = verify_audit_bundle(&text, &[key]).expect("a bundle");
    (text, result)
}
