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

fn env_builder(vars: &[(&str, &str)]) -> ClientBuilder {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ClientBuilder::from_lookup(move |name| env.get(name).cloned())
}

#[test]
fn a_base_url_without_a_scheme_says_which_to_add() {
    // `127.0.0.1:8787` does not parse as a URL ("relative URL without a
    // base"); `localhost:8787` parses with the scheme `localhost`.
    for (raw, fix) in [
        (
            "127.0.0.1:8787",
            "write \"http://127.0.0.1:8787\" (or \"https://127.0.0.1:8787\"",
        ),
        ("localhost:8787/", "write \"http://localhost:8787\""),
        ("[::1]:9000", "write \"http://[::1]:9000\""),
        ("api.example.com", "write \"https://api.example.com\""),
        (
            "gw.example:8443/atlasent",
            "write \"https://gw.example:8443/atlasent\"",
        ),
    ] {
        let message = config_error(Client::builder().api_key("k").base_url(raw));
        assert!(message.contains("has no scheme"), "{raw}: {message}");
        assert!(message.contains(fix), "{raw}: {message}");
        assert!(!message.contains("relative URL"), "{raw}: {message}");
        assert!(message.contains("base URL"), "{raw}: {message}");

        let message = config_error(env_builder(&[
            ("ATLASENT_API_KEY", "k"),
            ("ATLASENT_BASE_URL", raw),
        ]));
        assert!(
            message.contains("ATLASENT_BASE_URL") && message.contains(fix),
            "{raw} from the environment: {message}"
        );
    }
    // Neither a URL nor a host: said as before.
    let message = config_error(Client::builder().api_key("k").base_url("not a url"));
    assert!(message.contains("not a valid URL"), "{message}");
}

#[test]
fn credentials_in_a_base_url_are_never_echoed() {
    for raw in [
        "deploy:s3cr3t@10.0.0.5:8787",
        "https://deploy:s3cr3t@exa mple.com",
        "https://deploy:s3cr3t@example.com",
    ] {
        let message = config_error(Client::builder().api_key("k").base_url(raw));
        assert!(!message.contains("s3cr3t"), "{raw}: {message}");
        let message = config_error(env_builder(&[
            ("ATLASENT_API_KEY", "k"),
            ("ATLASENT_BASE_URL", raw),
        ]));
        assert!(!message.contains("s3cr3t"), "{raw}: {message}");
    }
}

#[test]
fn the_plain_http_refusal_names_the_builder_call_and_the_variable() {
    let message = config_error(Client::builder().api_key("k").base_url("http://10.0.0.5"));
    assert!(message.contains(".allow_insecure_http(true)"), "{message}");
    assert!(
        message.contains("ATLASENT_ALLOW_INSECURE_HTTP=1"),
        "{message}"
    );
    let message = config_error(env_builder(&[
        ("ATLASENT_API_KEY", "k"),
        ("ATLASENT_BASE_URL", "http://10.0.0.5"),
    ]));
    assert!(
        message.contains("ATLASENT_ALLOW_INSECURE_HTTP=1"),
        "{message}"
    );
}

#[test]
fn atlasent_allow_insecure_http_is_the_builder_call_from_the_environment() {
    let with = |value: &str| {
        env_builder(&[
            ("ATLASENT_API_KEY", "k"),
            ("ATLASENT_BASE_URL", "http://10.0.0.5:8787"),
            ("ATLASENT_ALLOW_INSECURE_HTTP", value),
        ])
    };
    let client = with("1").build().expect("allowed by the environment");
    assert_eq!(client.config().base_url(), "http://10.0.0.5:8787");
    with(" 1 ").build().expect("surrounding whitespace ignored");
    for off in ["0", "", "  "] {
        let message = config_error(with(off));
        assert!(message.contains("clear text"), "{off:?}: {message}");
    }
    // The builder call wins over the environment, either way.
    let message = config_error(with("1").allow_insecure_http(false));
    assert!(message.contains("clear text"), "{message}");
    with("0")
        .allow_insecure_http(true)
        .build()
        .expect("allowed by the builder");
    // Loopback needs neither, as before.
    env_builder(&[
        ("ATLASENT_API_KEY", "k"),
        ("ATLASENT_BASE_URL", "http://127.0.0.1:8787"),
        ("ATLASENT_ALLOW_INSECURE_HTTP", "0"),
    ])
    .build()
    .expect("loopback");
}

#[test]
fn atlasent_allow_insecure_http_other_than_1_or_0_is_refused_by_name() {
    // A typo must not silently keep (or drop) the protection: Python 2.x
    // reads only "1", so "true" would mean "off" there.
    for bad in ["true", "yes", "on", "2", "1 0"] {
        let message = config_error(env_builder(&[
            ("ATLASENT_API_KEY", "k"),
            ("ATLASENT_ALLOW_INSECURE_HTTP", bad),
        ]));
        assert!(
            message.contains("ATLASENT_ALLOW_INSECURE_HTTP") && message.contains("`1` or `0`"),
            "{bad}: {message}"
        );
    }
    assert_eq!(
        atlasent::ENV_ALLOW_INSECURE_HTTP,
        "ATLASENT_ALLOW_INSECURE_HTTP"
    );
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
