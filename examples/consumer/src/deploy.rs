//! Deploying: the guarded plain fn [`rollback`], which uses the blocking
//! client.

use std::fmt;

use atlasent::Permit;

/// Runs a deploy command: a shell in production, a fake in tests.
pub trait Runner {
    /// Run `command`; `Err` with what went wrong.
    fn run(&self, command: &str) -> Result<(), String>;
}

/// Why a deploy step did not happen.
#[derive(Debug)]
pub enum DeployError {
    /// AtlaSent did not authorize it; the body never ran.
    Unauthorized(atlasent::Error),
    /// Authorized, but the command failed.
    Failed(String),
}

impl DeployError {
    /// The refusal, when AtlaSent did not authorize the step.
    pub fn authorization(&self) -> Option<&atlasent::Error> {
        match self {
            Self::Unauthorized(e) => Some(e),
            Self::Failed(_) => None,
        }
    }
}

impl From<atlasent::Error> for DeployError {
    fn from(e: atlasent::Error) -> Self {
        Self::Unauthorized(e)
    }
}

impl fmt::Display for DeployError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthorized(e) => write!(f, "deploy step not authorized: {e}"),
            Self::Failed(why) => write!(f, "deploy step failed: {why}"),
        }
    }
}

impl std::error::Error for DeployError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unauthorized(e) => Some(e),
            Self::Failed(_) => None,
        }
    }
}

/// Roll `service` back to `version`, as `deploy-bot`, once AtlaSent has
/// allowed it (action `deploy.rollback`).
///
/// A plain fn: the attribute asks through the blocking client (the
/// thread's, see [`atlasent::blocking::with_client`], else the global
/// one), so call it from a plain thread or `tokio::task::spawn_blocking`,
/// never from an async task.
#[atlasent::protect(
    action = "deploy.rollback",
    agent = "deploy-bot",
    context = serde_json::json!({ "service": service, "version": version }),
)]
pub fn rollback(
    runner: &dyn Runner,
    service: &str,
    version: &str,
    _permit: Permit,
) -> Result<(), DeployError> {
    runner
        .run(&format!("rollback {service} {version}"))
        .map_err(DeployError::Failed)
}
