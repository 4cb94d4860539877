#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod assert;
mod decisions;
mod policy;
mod proxy;
mod server;

pub use assert::{assert_denied, assert_denied_by, assert_denied_fail_closed_by, BodyProbe};
pub use atlasent_server::testing::{assert_policies_cover, check_policies_cover};
pub use decisions::RecordedDecision;
pub use policy::{Policy, Rule};
pub use proxy::Fault;
pub use server::{
    Error, PolicySource, TestServer, TestServerBuilder, CLIENT_TIMEOUT, DEFAULT_API_KEY,
};
