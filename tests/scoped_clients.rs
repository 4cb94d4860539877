//! `atlasent::with_client` and `atlasent::blocking::with_client`: a client
//! per task (per thread for blocking code) behind the free functions and
//! `#[protect]`, so that parallel tests with different policies do not
//! interfere. Two real servers on loopback, one allowing and one denying.

use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "support/scoped.rs"]
mod scoped;

use atlasent_server::RunningServer;
use scoped::{client, server, KEY};

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[atlasent::protect(action = "deploy", agent = "deploy-bot")]
async fn deploy(permit: atlasent::Permit) -> Result<String, atlasent::Error> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(permit.permit_id().to_owned())
}

#[atlasent::protect(action = "deploy", agent = "deploy-bot")]
fn deploy_blocking(permit: atlasent::Permit) -> Result<String, atlasent::Error> {
    Ok(permit.permit_id().to_owned())
}

async fn evaluations(server: &RunningServer) -> usize {
    client(server)
        .list_audit_events(&atlasent::audit::AuditEventQuery::new())
        .await
        .expect("events")
        .events
        .iter()
        .filter(|e| {
            e.event_type
                .as_deref()
                .is_some_and(|t| t.starts_with("evaluate."))
        })
        .count()
}

#[tokio::test]
async fn each_scope_uses_its_own_server() {
    let (allowing, denying) = (server("allow").await, server("deny").await);
    let id = atlasent::with_client(client(&allowing), deploy())
        .await
        .expect("the allowing server allows");
    assert!(id.starts_with("dec_"));
    let denied = atlasent::with_client(client(&denying), deploy())
        .await
        .expect_err("the denying server denies");
    assert!(matches!(denied, atlasent::Error::Denied(_)), "{denied:?}");
    // Free functions too.
    let permit = atlasent::with_client(
        client(&allowing),
        atlasent::protect("deploy-bot", "deploy", &()),
    )
    .await
    .expect("allowed");
    assert_eq!(permit.action(), "deploy");
    assert_eq!(evaluations(&allowing).await, 2);
    assert_eq!(evaluations(&denying).await, 1);
}

#[tokio::test]
async fn the_innermost_scope_wins_and_ends_with_its_future() {
    let (allowing, denying) = (server("allow").await, server("deny").await);
    let deny_client = client(&denying);
    let outcome = atlasent::with_client(client(&allowing), async move {
        let inner = atlasent::with_client(deny_client, deploy()).await;
        let outer = deploy().await;
        (inner, outer)
    })
    .await;
    assert!(matches!(outcome.0, Err(atlasent::Error::Denied(_))));
    assert!(outcome.1.is_ok(), "{:?}", outcome.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scopes_do_not_see_each_other() {
    let (allowing, denying) = (server("allow").await, server("deny").await);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (target, allow) = if i % 2 == 0 {
            (client(&allowing), true)
        } else {
            (client(&denying), false)
        };
        tasks.push(tokio::spawn(async move {
            let outcome = atlasent::with_client(target, async {
                tokio::task::yield_now().await;
                deploy().await
            })
            .await;
            (allow, outcome.is_ok())
        }));
    }
    for task in tasks {
        let (expected, got) = task.await.expect("task");
        assert_eq!(expected, got);
    }
    assert_eq!(evaluations(&allowing).await, 10);
    assert_eq!(evaluations(&denying).await, 10);
}

#[tokio::test]
async fn a_spawned_task_does_not_inherit_the_scope() {
    let allowing = server("allow").await;
    let escaped = atlasent::with_client(client(&allowing), async {
        // Runs outside the scope: the process-wide client (none configured
        // in this test binary, and no ATLASENT_API_KEY) decides, so it
        // fails closed instead of borrowing the test's server.
        tokio::spawn(async { atlasent::default_client().is_ok() })
            .await
            .expect("task")
    })
    .await;
    if std::env::var_os("ATLASENT_API_KEY").is_none() {
        assert!(!escaped, "a spawned task found a client it was not given");
    }
    assert_eq!(evaluations(&allowing).await, 0);
}

#[test]
fn blocking_scopes_nest_and_end_even_on_panic() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (allowing, denying) = rt.block_on(async { (server("allow").await, server("deny").await) });
    let blocking = |server: &RunningServer| {
        atlasent::blocking::Client::builder()
            .api_key(KEY)
            .base_url(server.base_url())
            .build()
            .expect("client")
    };
    let (allow_client, deny_client) = (blocking(&allowing), blocking(&denying));
    atlasent::blocking::with_client(allow_client.clone(), || {
        assert!(deploy_blocking().is_ok());
        atlasent::blocking::with_client(deny_client.clone(), || {
            assert!(matches!(deploy_blocking(), Err(atlasent::Error::Denied(_))));
        });
        assert!(deploy_blocking().is_ok(), "the outer scope is back");
    });
    // A panic inside a scope ends it.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        atlasent::blocking::with_client(allow_client.clone(), || panic!("test body failed"))
    }));
    assert!(panicked.is_err());
    if std::env::var_os("ATLASENT_API_KEY").is_none() {
        assert!(
            atlasent::blocking::default_client().is_err(),
            "the panicked scope's client outlived it"
        );
    }
    // Another thread has no scope of this one.
    let other = std::thread::spawn(|| atlasent::blocking::default_client().is_ok());
    atlasent::blocking::with_client(allow_client, || {
        let seen = other.join().expect("thread");
        if std::env::var_os("ATLASENT_API_KEY").is_none() {
            assert!(!seen);
        }
    });
}
