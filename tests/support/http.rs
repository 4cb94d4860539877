//! Shared by the web-framework example tests: a real decision server, a
//! client for it, and a raw HTTP POST. Needs `support/server.rs` as the
//! including test's `mod server`.
#![allow(dead_code, unreachable_pub)]

use atlasent_server::RunningServer;
use serde_json::Value;

pub const KEY: &str = "ask_local_web_tests";

pub async fn decision_server(rate_limit: u32) -> RunningServer {
    super::server::start(
        super::server::policy_builder(super::server::DEMO_POLICY, KEY)
            .rate_limit_per_minute(rate_limit),
    )
    .await
}

pub fn client(url: &str) -> atlasent::Client {
    atlasent::Client::builder()
        .api_key(KEY)
        .base_url(url)
        .max_retries(0)
        // Generous: nothing here waits on a stalled server, and a loaded
        // machine must not turn an answer into a timeout.
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client")
}

pub fn refused_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    drop(l);
    url
}

pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
}

pub async fn post(url: &str, headers: &[(&str, &str)]) -> Reply {
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
