//! Shared by the scoped-client tests (`scoped_clients.rs`, `scoped_only.rs`,
//! separate binaries because `scoped_clients_only` is process-wide): real
//! decision servers that allow, or deny, every `deploy`, and a client each.
#![allow(dead_code, unreachable_pub)]

use atlasent_server::{RunningServer, Server};
use serde_json::json;

pub const KEY: &str = "ask_test_scoped_clients";

/// A server whose one rule has `effect` (`allow` or `deny`) for `deploy`.
pub async fn server(effect: &str) -> RunningServer {
    let policy = json!({
        "policy_id": format!("{effect}_deploys"),
        "version": "1.0.0",
        "default": "deny",
        "rules": [{ "id": format!("{effect}_deploy"), "effect": effect, "match": { "action": "deploy" } }]
    });
    Server::builder()
        .policy(atlasent_server::Policy::from_value(&policy).expect("policy"))
        .api_key(KEY)
        .start()
        .await
        .expect("server")
}

pub fn client(server: &RunningServer) -> atlasent::Client {
    atlasent::Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .build()
        .expect("client")
}
