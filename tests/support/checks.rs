//! Checks shared by the root package's tests and the server's
//! (`atlasent-server/tests/common` includes this file).
#![allow(dead_code, unreachable_pub)]

use std::path::Path;

use atlasent::actions::ActionManifest;
use atlasent_server::policy::CoverageProblemKind;
use atlasent_server::testing::{check_policies_cover, CoverageReport};

/// `text` contains every one of `needles`; the failure names the one it
/// lacks.
#[track_caller]
pub fn assert_contains_all(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }
}

/// The action and key of each of `report`'s missing-required-key problems.
pub fn missing_keys(report: &CoverageReport) -> Vec<(&str, Option<&str>)> {
    report
        .problems()
        .iter()
        .filter(|p| p.kind == CoverageProblemKind::MissingRequiredKey)
        .map(|p| (p.action.as_str(), p.key.as_deref()))
        .collect()
}

/// The report on the policies at `path`, which must not cover this test
/// binary's registered actions (`why` says what they miss).
pub fn uncovered(path: impl AsRef<Path>, why: &str) -> CoverageReport {
    check_policies_cover([path], &ActionManifest::from_registered()).expect_err(why)
}
