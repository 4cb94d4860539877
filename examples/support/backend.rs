//! Shared by the examples: talk to the AtlaSent API named by the environment,
//! or, with no `ATLASENT_API_KEY`, to the embedded local server started
//! in-process with the demo policy of `examples/policies/demo.json`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use atlasent::audit::VerifyingKey;
use atlasent_server::{RunningServer, Server};

/// The key of the embedded server (only valid on loopback, in this process).
pub(crate) const DEMO_KEY: &str = "ask_test_quickstart_demo";

/// Where decisions come from.
pub(crate) struct Backend {
    pub(crate) client: atlasent::Client,
    /// The embedded server, kept alive for as long as the backend is.
    pub(crate) embedded: Option<RunningServer>,
    /// One line saying which backend is in use.
    pub(crate) description: String,
}

impl Backend {
    /// The keys exports are signed with: the embedded server's own, or the
    /// API's `GET /v1-signing-keys`.
    pub(crate) async fn signing_keys(&self) -> Result<Vec<VerifyingKey>, atlasent::Error> {
        match &self.embedded {
            Some(server) => Ok(vec![VerifyingKey::from_spki_pem(server.public_key_pem())
                .expect("the embedded server's key is valid")
                .with_id(server.signing_key_id())]),
            None => self.client.signing_keys().await,
        }
    }
}

/// What every example's failure looks like: the error and its causes on
/// stderr as sentences, not a `Debug` dump, and exit status 1.
pub(crate) fn exit_status(result: Result<(), BoxError>) -> ExitCode {
    let Err(err) = result else {
        return ExitCode::SUCCESS;
    };
    eprint!("error: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        eprint!(": {cause}");
        source = cause.source();
    }
    eprintln!();
    ExitCode::FAILURE
}

/// What an example's body returns: any error, shown by [`exit_status`].
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The whole of a service example's `main`: connect as the environment
/// says (telling stderr which backend is in use), give `serve` the client,
/// and exit as [`exit_status`] says. The backend, with the embedded server
/// in it, lives until `serve` returns.
pub(crate) async fn serve(
    serve: impl AsyncFnOnce(atlasent::Client) -> Result<(), BoxError>,
) -> ExitCode {
    let served = async {
        let backend = connect().await?;
        eprintln!("{}", backend.description);
        serve(backend.client.clone()).await
    };
    exit_status(served.await)
}

/// The address a service example listens on: its first argument, or
/// `default`.
pub(crate) fn listen_addr(default: &str) -> String {
    std::env::args().nth(1).unwrap_or_else(|| default.into())
}

/// Why a service example cannot listen on `addr`, and how to run it on
/// another address instead (`command`, such as
/// `cargo run --example axum_service -- 127.0.0.1:3001`).
pub(crate) fn cannot_listen(addr: &str, err: std::io::Error, command: &str) -> String {
    format!("cannot listen on {addr} ({err}); pass another address: {command}")
}

/// The demo policy's path, for the embedded server.
pub(crate) fn demo_policy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/policies/demo.json")
}

/// Connect as the environment says; must run inside a tokio runtime.
pub(crate) async fn connect() -> Result<Backend, BoxError> {
    if std::env::var_os(atlasent::ENV_API_KEY).is_some_and(|k| !k.is_empty()) {
        let client = atlasent::Client::from_env()?;
        let description = format!(
            "Using the AtlaSent API at {} (ATLASENT_API_KEY is set).",
            client.config().base_url()
        );
        return Ok(Backend {
            client,
            embedded: None,
            description,
        });
    }
    let server = Server::builder()
        .policy_file(demo_policy())
        .api_key(DEMO_KEY)
        .start()
        .await?;
    let client = atlasent::Client::builder()
        .api_key(DEMO_KEY)
        .base_url(server.base_url())
        .build()?;
    let description = format!(
        "No ATLASENT_API_KEY set: using the embedded local AtlaSent server at {} \
         (in-process, policy examples/policies/demo.json).\n\
         Set ATLASENT_API_KEY (and optionally ATLASENT_BASE_URL) to use the hosted API instead.",
        server.base_url()
    );
    Ok(Backend {
        client,
        embedded: Some(server),
        description,
    })
}
