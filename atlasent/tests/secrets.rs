//! The API key never reaches tracing output, `Debug` or `Display` of the
//! client, its configuration, its builder, or any error — even when a server
//! echoes the key back in an error message.
//!
//! This binary holds exactly one test, on purpose: `tracing` caches each
//! callsite's interest process-wide, and a test on another thread creating
//! the same spans with no subscriber can race the registration and leave a
//! span of this test disabled (its fields then never reach the capture).
//! The echo-redaction check lives in `faults_surface.rs`.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use support::{refused_url, FaultServer, Reply};

const SECRET: &str = "ask_live_SUPERSECRET_9f8e7d6c5b4a";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn builder(url: &str) -> atlasent::ClientBuilder {
    atlasent::Client::builder()
        .api_key(SECRET)
        .base_url(url)
        .retry_backoff(Duration::from_millis(1))
        .max_retries(1)
        .timeout(Duration::from_millis(300))
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} leaks the key: {text}");
    assert!(
        !text.contains("SUPERSECRET"),
        "{what} leaks part of the key: {text}"
    );
}

#[test]
fn no_trace_of_the_key_anywhere() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();

    // Every reply a server can give, one path at a time: the key is in every
    // request this client sends, and one server echoes it back.
    let replies = vec![
        Reply::json(200, &json!({ "permitted": true, "decision_id": "d1" })),
        Reply::json(
            200,
            &json!({ "permitted": false, "decision_id": "d2", "reason": "no" }),
        ),
        // A server echoing the key into a denial's id and reason, a hold's
        // escalation id and reason (found by the sdk_replies fuzz target).
        Reply::json(
            200,
            &json!({ "permitted": false, "decision_id": format!("e{SECRET}"),
                     "reason": format!("no {SECRET}"), "audit_hash": SECRET }),
        ),
        Reply::json(
            200,
            &json!({ "decision": "deny", "evaluation_id": "d3",
                     "denial": { "reason": format!("r {SECRET}"), "code": SECRET } }),
        ),
        Reply::json(
            200,
            &json!({ "decision": "hold", "escalation_id": format!("esc_{SECRET}"),
                     "reasons": [format!("held {SECRET}")],
                     "denial": { "reason": format!("held {SECRET}"), "code": "ACTOR_HELD" } }),
        ),
        Reply::json(
            401,
            &json!({ "message": format!("Invalid API key {SECRET}") }),
        ),
        Reply::text(500, &format!("stack trace mentioning Bearer {SECRET}")),
        Reply::json(429, &json!({ "message": "slow" })).with_header("Retry-After", "1"),
        Reply::text(200, &format!("not json {SECRET}")),
        Reply::Stall,
        Reply::ResetMidBody {
            declared: 90,
            sent: 10,
        },
    ];

    let mut errors: Vec<atlasent::Error> = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        let rt = support::rt();
        for reply in replies {
            let server = FaultServer::start(move |req, _| {
                if req.path == "/v1-verify-permit" {
                    Reply::json(200, &json!({ "verified": false, "outcome": "revoked" }))
                } else {
                    reply.clone()
                }
            });
            let client = builder(&server.url()).build().expect("client");
            assert_clean("Client Debug", &format!("{client:?}"));
            assert_clean("Config Debug", &format!("{:?}", client.config()));
            let err = rt
                .block_on(client.protect("agent-1", "deploy", &json!({ "k": "v" })))
                .expect_err("every case fails");
            errors.push(err);
            if let Ok(result) = rt.block_on(client.authorize("agent-1", "deploy", &())) {
                assert_clean("AuthorizationResult Debug", &format!("{result:?}"));
            }
        }
        let client = builder(&refused_url()).build().expect("client");
        errors.push(
            rt.block_on(client.evaluate("a", "b", &()))
                .expect_err("refused"),
        );
        errors.push(
            rt.block_on(client.evaluate("", "b", &()))
                .expect_err("invalid"),
        );
        let blocking = atlasent::blocking::Client::from_async(client).expect("blocking");
        assert_clean("blocking Client Debug", &format!("{blocking:?}"));
        errors.push(
            rt.block_on(async { blocking.evaluate("a", "b", &()) })
                .expect_err("inside a runtime"),
        );
    });

    // Configuration errors, which are about the key and the URL.
    for (key, url, why) in [
        (format!("{SECRET} with space"), None, "bad key"),
        (
            SECRET.to_owned(),
            Some(format!("https://user:{SECRET}@example.com")),
            "credentials in URL",
        ),
        (
            SECRET.to_owned(),
            Some(format!("http://example.com/?key={SECRET}")),
            "query in URL",
        ),
    ] {
        let builder = atlasent::Client::builder().api_key(key);
        let builder = match url {
            Some(url) => builder.base_url(url),
            None => builder,
        };
        errors.push(builder.build().expect_err(why));
    }
    assert_clean(
        "ClientBuilder Debug",
        &format!("{:?}", builder("http://127.0.0.1:1")),
    );

    let mut kinds = std::collections::HashSet::new();
    for err in &errors {
        kinds.insert(std::mem::discriminant(err));
        assert_clean("Error Display", &err.to_string());
        assert_clean("Error Debug", &format!("{err:?}"));
        assert_clean("Error alternate Debug", &format!("{err:#?}"));
        let mut source = std::error::Error::source(err);
        while let Some(inner) = source {
            assert_clean("error source", &inner.to_string());
            source = inner.source();
        }
    }
    assert_eq!(kinds.len(), 5, "every Error variant was checked");
    let codes: std::collections::HashSet<_> = errors.iter().filter_map(|e| e.code()).collect();
    assert!(codes.len() >= 6, "many codes were checked: {codes:?}");

    let logs = String::from_utf8(capture.0.lock().expect("lock").clone()).expect("utf8");
    assert!(
        logs.contains("atlasent.protect"),
        "spans were captured: {logs}"
    );
    assert!(
        logs.contains("request_id"),
        "request ids are logged: {logs}"
    );
    assert_clean("tracing output", &logs);
    // Context values are not logged by default.
    assert!(!logs.contains("\"k\""), "context leaked into logs");
}
