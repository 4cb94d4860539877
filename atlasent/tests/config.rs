//! Configuration: defaults, validation, the environment, the base URL rules
//! and the global client.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use atlasent::{Client, ClientBuilder, Error};
use serde_json::json;
use support::{FaultServer, Reply};

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

#[test]
fn clients_are_send_sync_and_clone() {
    assert_send_sync_clone::<atlasent::Client>();
    assert_send_sync_clone::<atlasent::blocking::Client>();
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<atlasent::Error>();
    assert_send_sync::<atlasent::Permit>();
}

#[test]
fn the_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let client = support::client("http://127.0.0.1:9");
    let ctx = json!({});
    assert_send(&client.protect("a", "b", &ctx));
    assert_send(&client.authorize("a", "b", &ctx));
    assert_send(&atlasent::protect("a", "b", &ctx));
}

#[test]
fn defaults_are_the_python_sdks() {
    let client = Client::builder().api_key("k").build().expect("client");
    let config = client.config();
    assert_eq!(config.base_url(), "https://api.atlasent.io");
    assert_eq!(config.timeout(), Duration::from_secs(10));
    assert_eq!(config.max_retries(), 2);
    assert_eq!(config.retry_backoff(), Duration::from_millis(500));
    assert!(config.user_agent().starts_with("atlasent-rust/"));
}

fn config_error(builder: ClientBuilder) -> String {
    match builder.build() {
        Err(err @ Error::Config { .. }) => err.to_string(),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn a_missing_key_says_how_to_provide_one() {
    let message = config_error(Client::builder());
    assert!(message.contains("ATLASENT_API_KEY"), "{message}");
    let message = config_error(Client::builder().api_key("   "));
    assert!(message.contains("no API key"), "{message}");
}

#[test]
fn the_environment_is_read_through_a_lookup() {
    let env: HashMap<&str, &str> = [
        ("ATLASENT_API_KEY", "ask_env_key"),
        ("ATLASENT_BASE_URL", "http://127.0.0.1:8123/"),
    ]
    .into();
    let client = ClientBuilder::from_lookup(|name| env.get(name).map(|v| v.to_string()))
        .build()
        .expect("client");
    assert_eq!(client.config().base_url(), "http://127.0.0.1:8123");

    let empty = ClientBuilder::from_lookup(|name| (name == "ATLASENT_API_KEY").then(String::new));
    assert!(config_error(empty).contains("ATLASENT_API_KEY"));
}

#[test]
fn plain_http_only_to_loopback_unless_allowed() {
    for ok in [
        "http://127.0.0.1:8080",
        "http://127.5.6.7",
        "http://localhost:3000/",
        "http://[::1]:9000",
        "https://api.example.com",
    ] {
        Client::builder()
            .api_key("k")
            .base_url(ok)
            .build()
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    let message = config_error(Client::builder().api_key("k").base_url("http://10.0.0.5"));
    assert!(message.contains("clear text"), "{message}");
    Client::builder()
        .api_key("k")
        .base_url("http://10.0.0.5")
        .allow_insecure_http(true)
        .build()
        .expect("explicitly allowed");
    for (bad, needle) in [
        ("ftp://example.com", "scheme"),
        ("not a url", "not a valid URL"),
        ("https://example.com/?x=1", "query"),
        ("https://u:p@example.com", "credentials"),
    ] {
        let message = config_error(Client::builder().api_key("k").base_url(bad));
        assert!(message.contains(needle), "{bad}: {message}");
    }
}

#[test]
fn zero_timeouts_are_refused() {
    assert!(
        config_error(Client::builder().api_key("k").timeout(Duration::ZERO)).contains("timeout")
    );
    assert!(config_error(
        Client::builder()
            .api_key("k")
            .connect_timeout(Duration::ZERO)
    )
    .contains("connect_timeout"));
}

#[test]
fn a_base_url_path_prefix_is_kept() {
    let server = FaultServer::always(Reply::json(
        200,
        &json!({ "permitted": false, "decision_id": "d" }),
    ));
    let client = support::client(&format!("{}/gateway/atlasent/", server.url()));
    support::rt()
        .block_on(client.evaluate("a", "b", &()))
        .expect("answer");
    assert_eq!(server.requests()[0].path, "/gateway/atlasent/v1-evaluate");
}

#[test]
fn user_agent_suffix_is_appended() {
    let server = FaultServer::always(Reply::json(
        200,
        &json!({ "permitted": false, "decision_id": "d" }),
    ));
    let client = Client::builder()
        .api_key("k")
        .base_url(server.url())
        .user_agent_suffix("my-agent/2.0")
        .build()
        .expect("client");
    support::rt()
        .block_on(client.evaluate("a", "b", &()))
        .expect("answer");
    let ua = server.requests()[0]
        .header("user-agent")
        .expect("ua")
        .to_owned();
    assert_eq!(
        ua,
        format!("atlasent-rust/{} my-agent/2.0", env!("CARGO_PKG_VERSION"))
    );
}

/// The only test in this binary that touches the global client.
#[test]
fn a_later_configure_takes_effect_for_async_and_blocking_free_functions() {
    let deny = |reason: &'static str| {
        FaultServer::always(Reply::json(
            200,
            &json!({ "permitted": false, "decision_id": "d", "reason": reason }),
        ))
    };
    let first = deny("first");
    let second = deny("second");

    atlasent::configure(support::client(&first.url()));
    let rt = support::rt();
    let r = rt
        .block_on(atlasent::evaluate("a", "b", &()))
        .expect("answer");
    assert_eq!(r.reason, "first");

    atlasent::configure(support::client(&second.url()));
    let r = rt
        .block_on(atlasent::evaluate("a", "b", &()))
        .expect("answer");
    assert_eq!(r.reason, "second", "Python 1.4.1 would still use the first");
    let r = atlasent::blocking::evaluate("a", "b", &()).expect("answer");
    assert_eq!(r.reason, "second");
    let err = atlasent::blocking::protect("a", "b", &()).expect_err("denied");
    assert!(err.is_denied());
    assert_eq!((first.request_count(), second.request_count()), (1, 3));

    atlasent::reset_default_client();
    if std::env::var_os("ATLASENT_API_KEY").is_none() {
        let err = rt
            .block_on(atlasent::protect("a", "b", &()))
            .expect_err("no key");
        assert!(matches!(err, Error::Config { .. }), "{err}");
        assert!(err.to_string().contains("ATLASENT_API_KEY"));
    }
}
