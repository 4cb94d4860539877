//! Policies: validation with JSON paths ([`Policy::from_value`],
//! [`LintErrors`]), compilation (regexes built once, rules indexed by
//! action), evaluation ([`PolicySet::evaluate`]), and
//! [warnings](PolicySet::warnings) about allow rules that leave a gap in a
//! deny, hold or escalate rule, and [coverage](PolicySet::coverage) of a
//! program's actions. The language reference below is
//! `docs/policy-language.md` of this crate; its examples run as doctests.
//!
#![doc = include_str!("../docs/policy-language.md")]

use std::path::{Path, PathBuf};

use serde_json::Value;

mod compile;
mod coverage;
mod index;
mod lint;
mod matcher;
mod warnings;
pub use coverage::{CoverageProblem, CoverageProblemKind, RuleRef};
pub use index::{Decision, PolicySet};
pub use lint::{LintError, LintErrors};
pub use warnings::LintWarning;

/// A rule's effect, a policy's default (`Allow` or `Deny` only) and a
/// decision's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Permit the action: the only effect that issues a permit.
    Allow,
    /// Refuse the action.
    Deny,
    /// Hold the request for review: a human must release it. No permit.
    Hold,
    /// Send the request to a higher-authority reviewer, who must decide. No
    /// permit.
    Escalate,
}

impl Effect {
    /// The wire and policy spelling: `"allow"`, `"deny"`, `"hold"` or
    /// `"escalate"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Hold => "hold",
            Self::Escalate => "escalate",
        }
    }

    /// Whether a decision with this effect issues a permit: only
    /// [`Allow`](Self::Allow) does. Hold and escalate are refusals too.
    pub fn issues_permit(self) -> bool {
        self == Self::Allow
    }

    /// The verb of a reason: `denied by policy P rule R`.
    fn past_tense(self) -> &'static str {
        match self {
            Self::Allow => "allowed",
            Self::Deny => "denied",
            Self::Hold => "held",
            Self::Escalate => "escalated",
        }
    }

    /// The code of a decision by a rule of this effect that names none.
    fn default_code(self) -> Option<&'static str> {
        match self {
            Self::Allow => None,
            Self::Deny => Some(DENY_POLICY),
            Self::Hold => Some(ACTOR_HELD),
            Self::Escalate => Some(ESCALATE_REQUIRED),
        }
    }
}

// The default codes (module docs, "Codes"); all but MISSING_REQUIRED_CONTEXT
// are reason codes of the AtlaSent taxonomy (Python SDK 2.18 `taxonomy.py`).
const DENY_POLICY: &str = "DENY_POLICY";
const ACTOR_HELD: &str = "ACTOR_HELD";
const ESCALATE_REQUIRED: &str = "ESCALATE_REQUIRED";
const NO_TEMPLATE_MATCH: &str = "NO_TEMPLATE_MATCH";
const MISSING_REQUIRED_CONTEXT: &str = "MISSING_REQUIRED_CONTEXT";

/// The largest policy file read (16 MiB).
pub const MAX_POLICY_FILE_BYTES: u64 = 16 << 20;

/// A policy file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{path}: not valid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why (a member name repeated in one object, after decoding
        /// escapes, is refused too: it would be read two ways).
        source: atlasent::wire::StrictJsonError,
    },
    /// The policy breaks the language's rules.
    #[error("{}: {errors}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        errors: LintErrors,
    },
    /// Two loaded policies share a `policy_id`.
    #[error("policy_id {0:?} is defined twice")]
    Duplicate(String),
}

/// A validated, compiled policy.
#[derive(Debug)]
pub struct Policy {
    id: String,
    version: String,
    default: Effect,
    rules: Vec<matcher::Rule>,
}

impl Policy {
    /// The `policy_id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The `version`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Validate and compile a policy document; every problem is reported,
    /// each with its JSON path.
    pub fn from_value(doc: &Value) -> Result<Policy, LintErrors> {
        compile::compile(doc)
    }

    /// Read, validate and compile one policy file.
    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let text = crate::keys::read_bounded(path, MAX_POLICY_FILE_BYTES).map_err(|why| {
            PolicyError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, why),
            }
        })?;
        let doc: Value = atlasent::wire::from_slice_strict(text.as_bytes()).map_err(|source| {
            PolicyError::Json {
                path: path.to_owned(),
                source,
            }
        })?;
        Policy::from_value(&doc).map_err(|errors| PolicyError::Invalid {
            path: path.to_owned(),
            errors,
        })
    }

    /// Load a file, or every `*.json` file of a folder (sorted by name).
    pub fn load(path: &Path) -> Result<Vec<Policy>, PolicyError> {
        if !path.is_dir() {
            return Ok(vec![Policy::from_file(path)?]);
        }
        let io = |source| PolicyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
            .collect();
        files.sort();
        files.iter().map(|f| Policy::from_file(f)).collect()
    }
}

/// A value as a lint error names it: a scalar with its value (`the string
/// "x"`, `the number 5`), else its JSON type (`an array`).
fn describe(v: &Value) -> String {
    atlasent::wire::describe_json(v, usize::MAX)
}
