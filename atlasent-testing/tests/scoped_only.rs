//! Starting a `TestServer` turns off the process-wide fallback client: a
//! guarded call that escaped every `with_client` scope fails with a
//! configuration error naming `with_client`, instead of reaching the
//! client of `atlasent::configure` (or one built from `ATLASENT_API_KEY`).
//! Its own binary: the switch is process-wide and for good.

use atlasent_testing::{Policy, Rule, TestServer};

#[tokio::test]
async fn an_unscoped_call_fails_instead_of_using_the_process_wide_client() {
    let server = TestServer::start(Policy::new("p").rule(Rule::allow("deploy"))).await;
    // A process-wide client that would allow: an escaped call must not use it.
    atlasent::configure(server.client());

    let err = atlasent::protect("deploy-bot", "deploy", &())
        .await
        .expect_err("no client in scope");
    assert!(
        matches!(err, atlasent::Error::Config { .. }),
        "not a configuration error: {err:?}"
    );
    assert!(err.to_string().contains("with_client"), "{err}");
    server.assert_no_decisions().await;

    // Inside a scope, the scope's client answers.
    atlasent::with_client(
        server.client(),
        atlasent::protect("deploy-bot", "deploy", &()),
    )
    .await
    .expect("allowed");
}
