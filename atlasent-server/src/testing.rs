//! Test helpers: check in a test that the policies cover every action the
//! program guards.
//!
//! Every `#[atlasent::action]` type and every literal
//! `#[atlasent::protect(action = "...")]` registers itself
//! ([`atlasent::actions::registered`]); a test of the crate that declares
//! them sees them all (registrations are process-wide: a test binary sees
//! every action declared in it and in the crates it links).
//! [`assert_policies_cover`] loads the policy files as `atlasent-server
//! serve` and `lint` do and fails, naming each, for an action no allow rule
//! can ever allow and for a typed context that lacks a key an allow rule
//! needs (see [`PolicySet::coverage`](crate::PolicySet::coverage) and the
//! [`policy`](crate::policy) docs, "Checking that policies cover your
//! actions"):
//!
//! ```no_run
//! #[atlasent::action("wire_transfer")]
//! pub struct WireTransfer;
//!
//! #[test]
//! fn policies_cover_every_action() {
//!     atlasent_server::testing::assert_policies_cover(["policies/"]);
//! }
//! ```
//!
//! A CI job without Rust can run the same check on a manifest a test wrote
//! with [`write_action_manifest`]:
//! `atlasent-server lint --actions actions.json policies/`.

use std::fmt;
use std::path::Path;

use atlasent::actions::ActionManifest;

use crate::policy::{CoverageProblem, Policy, PolicyError, PolicySet};

/// Why [`check_policies_cover`] failed: the policies that did not load,
/// and every [`CoverageProblem`]. Its [`Display`](fmt::Display) lists them
/// one a line.
#[derive(Debug)]
pub struct CoverageReport {
    errors: Vec<String>,
    problems: Vec<CoverageProblem>,
}

impl CoverageReport {
    /// What stopped the check, each naming its file or policy: a policy
    /// that did not load (as `lint` prints it), two policies with one
    /// `policy_id`, no policy at all, an empty manifest. Coverage is not
    /// checked when there is one (its answers would be wrong).
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// The coverage problems, in manifest order.
    pub fn problems(&self) -> &[CoverageProblem] {
        &self.problems
    }

    /// The coverage problems, owned.
    pub fn into_problems(self) -> Vec<CoverageProblem> {
        self.problems
    }
}

/// `policies do not cover the actions (N problems):` and one line each.
impl fmt::Display for CoverageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len() + self.problems.len();
        let s = if n == 1 { "" } else { "s" };
        if self.errors.is_empty() {
            write!(f, "the policies do not cover the actions ({n} problem{s}):")?;
        } else {
            write!(f, "the policies could not be checked ({n} problem{s}):")?;
        }
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CoverageReport {}

/// Load the policies at `paths` (files, or folders of `*.json` policies)
/// as `serve` and `lint` do, and check `manifest` against them: `Ok` when
/// every action can be allowed and every typed context has the keys the
/// allow rules need, else a [`CoverageReport`] naming each problem.
///
/// ```
/// use atlasent::actions::{ActionManifest, ManifestAction};
///
/// let dir = std::env::temp_dir().join(format!("atlasent-coverage-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).expect("a folder");
/// std::fs::write(dir.join("reads.json"), r#"{ "policy_id": "reads", "version": "1.0.0",
///     "rules": [{ "id": "allow_reads", "effect": "allow", "match": { "action": { "prefix": "read_" } } }] }"#)
///     .expect("a policy");
/// let action = |name: &str| ManifestAction {
///     name: name.into(),
///     declared_by: format!("fn app::{name}"),
///     source: "src/main.rs:1".into(),
///     context: None,
/// };
///
/// let reads = ActionManifest::new(vec![action("read_logs")]);
/// assert!(atlasent_server::testing::check_policies_cover([&dir], &reads).is_ok());
///
/// let deploys = ActionManifest::new(vec![action("read_logs"), action("deploy")]);
/// let report = atlasent_server::testing::check_policies_cover([&dir], &deploys).expect_err("deploy");
/// assert_eq!(report.problems().len(), 1);
/// assert!(report.to_string().contains("action deploy (fn app::deploy, src/main.rs:1) can never be allowed"));
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn check_policies_cover<I, P>(paths: I, manifest: &ActionManifest) -> Result<(), CoverageReport>
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
{
    let mut errors = Vec::new();
    let mut policies = Vec::new();
    let mut given = Vec::new();
    for path in paths {
        let path = path.as_ref();
        given.push(path.display().to_string());
        match Policy::load(path) {
            Ok(loaded) => policies.extend(loaded),
            Err(e) => errors.push(load_error(&e)),
        }
    }
    if errors.is_empty() && policies.is_empty() {
        errors.push(if given.is_empty() {
            "no policy file given: give the files or folders `serve --policy` reads".to_owned()
        } else {
            format!(
                "{} holds no policy (a folder is read for *.json files)",
                given.join(", ")
            )
        });
    }
    if manifest.actions.is_empty() {
        errors.push(
            "the action manifest lists no actions: nothing to check (declare actions with \
             #[atlasent::action] or #[atlasent::protect(action = \"...\")])"
                .to_owned(),
        );
    }
    let set = match PolicySet::new(policies) {
        Ok(set) => Some(set),
        Err(e) => {
            errors.push(load_error(&e));
            None
        }
    };
    let problems = match set {
        Some(set) if errors.is_empty() => set.coverage(manifest),
        _ => Vec::new(),
    };
    if errors.is_empty() && problems.is_empty() {
        Ok(())
    } else {
        Err(CoverageReport { errors, problems })
    }
}

fn load_error(e: &PolicyError) -> String {
    match e {
        PolicyError::Duplicate(_) => format!("{e}; `serve` refuses this set of policies"),
        _ => e.to_string(),
    }
}

/// Check every action this program registered
/// ([`ActionManifest::from_registered`]) against the policies at `paths`
/// (files, or folders of `*.json` policies, loaded as `serve` and `lint`
/// load them), and panic listing every problem, one a line.
///
/// # Panics
///
/// When an action can never be allowed or a typed context lacks a key an
/// allow rule needs (see [`PolicySet::coverage`]); when a policy fails to
/// load (naming its file) or no policy is found; and when no action is
/// registered at all ("no actions registered…": the test links no crate
/// that declares one).
#[track_caller]
pub fn assert_policies_cover<I, P>(paths: I)
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
{
    let manifest = ActionManifest::from_registered();
    if manifest.actions.is_empty() {
        panic!(
            "no actions registered: this test binary links no #[atlasent::action] type and no \
             #[atlasent::protect(action = \"...\")] function, so there is nothing to check \
             against the policies (declare them in this crate, or in a crate the test uses)"
        );
    }
    if let Err(report) = check_policies_cover(paths, &manifest) {
        panic!("{report}");
    }
}

/// Write the manifest of every action this program registered
/// ([`ActionManifest::from_registered`]`.to_json()`) to `path`, for
/// `atlasent-server lint --actions FILE POLICIES…` in a CI job without
/// Rust.
pub fn write_action_manifest(path: impl AsRef<Path>) -> std::io::Result<()> {
    std::fs::write(path, ActionManifest::from_registered().to_json())
}
