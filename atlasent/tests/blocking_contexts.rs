//! Where a guarded plain fn (and the blocking client under it) may block.
//!
//! Every context where blocking is legal runs it: a fresh thread,
//! `spawn_blocking` on either runtime flavor, `block_in_place`, a future
//! driven by `Handle::block_on` on a blocking thread, the body of a
//! multi-thread `Runtime::block_on` (not a worker). A thread that runs a
//! runtime's tasks (a worker, or the thread of a current-thread runtime) gets
//! an error, before anything is sent, that names the function and the ways
//! out. The server is a loopback fault server on its own thread, so a call
//! that is allowed can always be answered.
#![cfg(all(feature = "blocking", feature = "macros"))]

mod support;

use std::time::Duration;

use atlasent::{Error, Permit};
use serde_json::json;
use support::{allow, verified, FaultServer};

/// A server that allows and verifies every call.
fn server() -> FaultServer {
    FaultServer::start(|req, _| {
        if req.path == "/v1-evaluate" {
            allow()
        } else {
            verified()
        }
    })
}

fn blocking_client(url: &str) -> atlasent::blocking::Client {
    atlasent::blocking::Client::builder()
        .api_key(support::TEST_KEY)
        .base_url(url)
        .retry_backoff(Duration::from_millis(2))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("blocking client")
}

#[atlasent::protect(action = "deploy", agent = "agent-1", context = json!({ "env": "prod" }), client = client)]
fn deploy(client: &atlasent::blocking::Client, permit: Permit) -> Result<String, Error> {
    Ok(permit.permit_id().to_owned())
}

#[atlasent::protect(action = "deploy", agent = "agent-1")]
fn deploy_on_the_default_client(_permit: Permit) -> Result<(), Error> {
    Ok(())
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The call made on a thread that runs a runtime's tasks: a task spawned
/// on `runtime`.
fn in_task<R: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    call: impl FnOnce() -> R + Send + 'static,
) -> R {
    runtime.block_on(async move { tokio::spawn(async move { call() }).await.expect("join") })
}

/// The call made on `runtime`'s blocking pool.
fn in_spawn_blocking<R: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    call: impl FnOnce() -> R + Send + 'static,
) -> R {
    runtime.block_on(async move { tokio::task::spawn_blocking(call).await.expect("join") })
}

/// Each case is a test of its own: the guarded `deploy`, made by a client
/// of a server that allows everything, runs its body in the context the
/// case's expression sets up for `call` (the call, as a closure).
macro_rules! runs_in {
    ($($(#[$doc:meta])* $name:ident(|$call:ident| $context:expr);)*) => {$(
        $(#[$doc])*
        #[test]
        fn $name() {
            let server = server();
            let client = blocking_client(&server.url());
            let $call = move || deploy(&client);
            let result: Result<String, Error> = $context;
            assert_eq!(result.expect("the guarded fn ran"), "dec_allow_1");
        }
    )*};
}

runs_in! {
    runs_on_a_fresh_thread(|call| std::thread::spawn(call).join().expect("thread"));
    runs_inside_spawn_blocking_on_a_multi_thread_runtime(|call| {
        in_spawn_blocking(&multi_thread(), call)
    });
    runs_inside_spawn_blocking_on_a_current_thread_runtime(|call| {
        in_spawn_blocking(&current_thread(), call)
    });
    runs_inside_block_in_place_in_a_task(|call| {
        in_task(&multi_thread(), || tokio::task::block_in_place(call))
    });
    /// Inside `Handle::block_on` tokio counts the thread as "in a runtime"
    /// (its own `block_on` would panic there), yet no task but this one
    /// waits on it.
    runs_inside_handle_block_on_on_a_blocking_thread(|call| {
        in_spawn_blocking(&current_thread(), || {
            tokio::runtime::Handle::current().block_on(async move { call() })
        })
    });
    /// The body of a multi-thread `Runtime::block_on` (of `#[tokio::main]`)
    /// is polled on the calling thread, not on a worker: blocking it delays
    /// that future only, while the workers keep running every task.
    runs_in_the_block_on_future_of_a_multi_thread_runtime(|call| {
        multi_thread().block_on(async move { call() })
    });
}

/// A refusal: a configuration error naming `what` and both ways out.
fn assert_refused(result: Result<impl std::fmt::Debug, Error>, what: &str) -> String {
    let err = result.expect_err("refused on a thread that runs async tasks");
    assert!(matches!(err, Error::Config { .. }), "{err}");
    let message = err.to_string();
    for needle in [what, ".await", "tokio::task::spawn_blocking"] {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
    message
}

/// The guarded `deploy`, made by a client of a server that allows
/// everything, in the context `make` sets up, is refused and sends nothing;
/// the refusal's message.
fn deploy_refused(
    make: impl FnOnce(atlasent::blocking::Client) -> Result<String, Error>,
) -> String {
    let server = server();
    let message = assert_refused(make(blocking_client(&server.url())), "`deploy`");
    assert_eq!(server.request_count(), 0, "nothing was sent");
    message
}

#[test]
fn a_task_on_a_multi_thread_worker_is_refused_by_function_name() {
    let message = deploy_refused(|client| in_task(&multi_thread(), move || deploy(&client)));
    assert!(message.contains("#[atlasent::protect]"), "{message}");
    assert!(!message.contains("current-thread"), "{message}");
}

#[test]
fn the_thread_of_a_current_thread_runtime_is_refused_and_told_why() {
    let message =
        deploy_refused(|client| current_thread().block_on(async move { deploy(&client) }));
    assert!(message.contains("current-thread runtime"), "{message}");
    assert!(message.contains("decision server"), "{message}");
}

#[test]
fn a_task_spawned_on_a_current_thread_runtime_is_refused() {
    let message = deploy_refused(|client| in_task(&current_thread(), move || deploy(&client)));
    assert!(message.contains("current-thread runtime"), "{message}");
}

#[test]
fn a_local_set_on_a_current_thread_runtime_is_refused() {
    deploy_refused(|client| {
        let local = tokio::task::LocalSet::new();
        local.block_on(&current_thread(), async move {
            tokio::task::spawn_local(async move { deploy(&client) })
                .await
                .expect("join")
        })
    });
}

/// The refusal comes before the default client is looked up, so it is the
/// error the caller sees even when no client is configured.
#[test]
fn a_guarded_fn_on_the_default_client_is_refused_by_name() {
    let result = in_task(&multi_thread(), deploy_on_the_default_client);
    assert_refused(result, "`deploy_on_the_default_client`");
}

#[test]
fn the_blocking_client_names_its_method_when_refused() {
    let server = server();
    let client = blocking_client(&server.url());
    let result = in_task(&multi_thread(), move || {
        client.evaluate("agent-1", "deploy", &())
    });
    assert_refused(result, "atlasent::blocking::Client::evaluate");
    assert_eq!(server.request_count(), 0, "nothing was sent");
}
