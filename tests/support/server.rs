//! Shared by the end-to-end tests: a real decision server serving a policy
//! file of this repository, and a plain client for it.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use atlasent_server::{RunningServer, Server, ServerBuilder};

/// `relative` to the repository's root (a policy file, a vector).
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A server builder serving the policy file at `policy` (relative to the
/// repository's root) and accepting `key`.
pub fn policy_builder(policy: &str, key: &str) -> ServerBuilder {
    Server::builder()
        .policy_file(repo_path(policy))
        .api_key(key)
}

/// Start `builder` on loopback.
pub async fn start(builder: ServerBuilder) -> RunningServer {
    builder.start().await.expect("server")
}

/// A server serving `policy` (relative to the repository's root) and
/// accepting `key`.
pub async fn policy_server(policy: &str, key: &str) -> RunningServer {
    start(policy_builder(policy, key)).await
}

/// The finance policy of the contract vectors (`wire_transfer`: allowed up to
/// a limit, denied above it).
pub const FINANCE_POLICY: &str = "tests/contract/vectors/policies/finance_wire_transfer.json";

/// The examples' demo policy.
pub const DEMO_POLICY: &str = "examples/policies/demo.json";
