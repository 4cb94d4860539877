//! `atlasent::scoped_clients_only`: in a test process, a call that escaped
//! its test's `with_client` scope fails closed instead of reaching the
//! process-wide client (here one configured for an allowing server, standing
//! in for whatever `ATLASENT_API_KEY` points at). Its own test binary: the
//! switch is process-wide and cannot be turned off.

#[path = "support/scoped.rs"]
mod scoped;

use scoped::{client, server, KEY};

#[atlasent::protect(action = "deploy", agent = "deploy-bot")]
async fn deploy(permit: atlasent::Permit) -> Result<String, atlasent::Error> {
    Ok(permit.permit_id().to_owned())
}

fn is_scope_refusal(e: &atlasent::Error) -> bool {
    matches!(e, atlasent::Error::Config { .. }) && e.to_string().contains("atlasent::with_client")
}

#[test]
fn escaped_calls_fail_closed_and_scoped_calls_work() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (production, denying) =
        rt.block_on(async { (server("allow").await, server("deny").await) });
    // The process-wide client would allow: before the switch, it does.
    atlasent::configure(client(&production));
    assert!(rt.block_on(deploy()).is_ok());

    atlasent::scoped_clients_only();
    let unscoped = rt.block_on(deploy()).expect_err("no scope");
    assert!(is_scope_refusal(&unscoped), "{unscoped}");

    // Inside a denying scope, a spawned task escapes the scope: refused,
    // never allowed by the process-wide client.
    let (inside, escaped) = rt.block_on(atlasent::with_client(client(&denying), async {
        let inside = deploy().await;
        let escaped = tokio::spawn(deploy()).await.expect("task");
        (inside, escaped)
    }));
    assert!(
        matches!(inside, Err(atlasent::Error::Denied(_))),
        "{inside:?}"
    );
    assert!(
        is_scope_refusal(escaped.as_ref().expect_err("escaped")),
        "{escaped:?}"
    );

    // A future driven on a thread inside blocking::with_client uses its client.
    let blocking = atlasent::blocking::Client::builder()
        .api_key(KEY)
        .base_url(production.base_url())
        .build()
        .expect("client");
    let driven = atlasent::blocking::with_client(blocking.clone(), || rt.block_on(deploy()));
    assert!(driven.is_ok(), "{driven:?}");
    // And the blocking free functions.
    let permit = atlasent::blocking::with_client(blocking, || {
        atlasent::blocking::protect("deploy-bot", "deploy", &())
    });
    assert!(permit.is_ok(), "{permit:?}");
    let unscoped = atlasent::blocking::protect("deploy-bot", "deploy", &()).expect_err("no scope");
    assert!(is_scope_refusal(&unscoped), "{unscoped}");
}
