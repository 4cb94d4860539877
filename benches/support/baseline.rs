//! The floor `protect()` is measured against: the same two POSTs written by
//! hand with reqwest, as a minimal client would write them. Same headers as
//! the SDK sends (`Authorization`, `Accept`, `User-Agent`, `Content-Type`,
//! `X-Request-ID`), the same bodies (members in the SDK's order, serialized
//! from borrowed structs, the same `execution_hash`), same client settings
//! (connection pool, HTTP/1.1, no proxy, no redirects, the same timeouts);
//! replies parsed into `serde_json::Value` and checked only for the allow
//! and the `valid`/`verified` that a caller must not skip.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::Serialize;
use serde_json::Value;

/// A hand-written client of the two endpoints.
pub struct Baseline {
    http: reqwest::Client,
    evaluate: reqwest::Url,
    verify: reqwest::Url,
}

impl Baseline {
    /// A client of the API at `base_url` sending `key`, configured as
    /// `atlasent::Client` configures its own for `config`.
    pub fn new(config: &atlasent::Config, key: &str) -> Self {
        let base_url = config.base_url();
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::try_from(format!("Bearer {key}")).expect("header value");
        auth.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, auth);
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(config.user_agent())
            .timeout(config.timeout())
            .connect_timeout(config.connect_timeout())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("reqwest client");
        Self {
            http,
            evaluate: format!("{base_url}/v1-evaluate").parse().expect("url"),
            verify: format!("{base_url}/v1-verify-permit").parse().expect("url"),
        }
    }

    async fn post(&self, url: &reqwest::Url, body: Vec<u8>) -> Value {
        let reply = self
            .http
            .post(url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-request-id", request_id())
            .body(body)
            .send()
            .await
            .expect("reply");
        assert!(reply.status().is_success(), "{}", reply.status());
        let bytes = reply.bytes().await.expect("body");
        serde_json::from_slice(&bytes).expect("JSON reply")
    }

    /// Evaluate then verify on the current wire; the permit token.
    pub async fn protect_current(&self, agent: &str, action: &str, context: &Value) -> String {
        let body = serde_json::to_vec(&CurrentEvaluate {
            action_type: action,
            actor_id: agent,
            context,
        })
        .expect("body");
        let evaluation = self.post(&self.evaluate, body).await;
        assert_eq!(evaluation["decision"], "allow");
        let token = evaluation["permit_token"]
            .as_str()
            .expect("token")
            .to_owned();
        let object = context.as_object().expect("an object");
        let body = serde_json::to_vec(&CurrentVerify {
            permit_token: &token,
            action_type: action,
            actor_id: agent,
            environment: object.get("environment").and_then(Value::as_str),
            execution_hash: &atlasent::wire::execution_hash(action, agent, object),
        })
        .expect("body");
        let verification = self.post(&self.verify, body).await;
        assert_eq!(verification["valid"], true);
        token
    }

    /// Evaluate then verify on the legacy (1.4.1) wire; the permit id.
    pub async fn protect_legacy(
        &self,
        agent: &str,
        action: &str,
        context: &Value,
        key: &str,
    ) -> String {
        let body = serde_json::to_vec(&LegacyEvaluate {
            action,
            agent,
            context,
            api_key: key,
        })
        .expect("body");
        let evaluation = self.post(&self.evaluate, body).await;
        assert_eq!(evaluation["permitted"], true);
        let id = evaluation["decision_id"].as_str().expect("id").to_owned();
        let body = serde_json::to_vec(&LegacyVerify {
            decision_id: &id,
            action,
            agent,
            context,
            api_key: key,
        })
        .expect("body");
        let verification = self.post(&self.verify, body).await;
        assert_eq!(verification["verified"], true);
        id
    }
}

#[derive(Serialize)]
struct CurrentEvaluate<'a> {
    action_type: &'a str,
    actor_id: &'a str,
    context: &'a Value,
}

#[derive(Serialize)]
struct CurrentVerify<'a> {
    permit_token: &'a str,
    action_type: &'a str,
    actor_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<&'a str>,
    execution_hash: &'a str,
}

#[derive(Serialize)]
struct LegacyEvaluate<'a> {
    action: &'a str,
    agent: &'a str,
    context: &'a Value,
    api_key: &'a str,
}

#[derive(Serialize)]
struct LegacyVerify<'a> {
    decision_id: &'a str,
    action: &'a str,
    agent: &'a str,
    context: &'a Value,
    api_key: &'a str,
}

/// A fresh 36-character request id (the SDK's is a random UUID; this one a
/// counter, which costs the baseline less).
fn request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("00000000-0000-4000-8000-{n:012x}")
}
