//! Per-decision time of atlasent-server's policy engine and of cedar-policy
//! on the same policies and requests (`src/lib.rs`): `cargo bench`.
//!
//! Inside each timed loop:
//! - `ours`: `PolicySet::evaluate(agent, action, &context)`, the context a
//!   `serde_json::Map` built beforehand (what the server holds once it has
//!   read a request's JSON body); the returned `Decision` (its reason and
//!   codes as owned strings) is part of the work.
//! - `cedar`: `Authorizer::is_authorized(&request, &policies, &entities)`,
//!   the `Request` (principal, action, resource, context) built beforehand.
//! - `cedar_from_json`: what Cedar needs per request from the same input as
//!   ours: the principal and action `EntityUid`s from the two strings,
//!   `Context::from_json_value` of the context JSON, `Request::new`, then
//!   `is_authorized`. The clone of the context JSON that `from_json_value`
//!   consumes is made outside the timing (`with_inputs`).
//!
//! Before any timing, every request of every case is checked to get the
//! same, expected decision from both engines.

use std::sync::OnceLock;

use atlasent_bench_cedar::Case;
use divan::{black_box, Bencher};

#[path = "../shared/engines.rs"]
mod engines;

use engines::{Engines, Prepared};

fn main() {
    divan::main();
}

/// The benched requests: `<case>/<request label>`.
const ARGS: &[&str] = &[
    "demo/allow",
    "demo/deny-rule",
    "demo/default-deny",
    "demo/bound",
    "per-action-10/allow",
    "per-action-10/deny-rule",
    "per-action-10/default-deny",
    "per-action-10/bound",
    "per-action-100/allow",
    "per-action-100/deny-rule",
    "per-action-100/default-deny",
    "per-action-100/bound",
    "per-action-1000/allow",
    "per-action-1000/deny-rule",
    "per-action-1000/default-deny",
    "per-action-1000/bound",
    "one-action-10/allow",
    "one-action-10/deny-rule",
    "one-action-10/default-deny",
    "one-action-10/bound",
    "one-action-100/allow",
    "one-action-100/deny-rule",
    "one-action-100/default-deny",
    "one-action-100/bound",
    "one-action-1000/allow",
    "one-action-1000/deny-rule",
    "one-action-1000/default-deny",
    "one-action-1000/bound",
];

/// Every case built by both engines and checked, once.
fn cases() -> &'static [(Case, Engines)] {
    static CASES: OnceLock<Vec<(Case, Engines)>> = OnceLock::new();
    CASES.get_or_init(|| {
        atlasent_bench_cedar::all()
            .into_iter()
            .map(|case| {
                let engines = engines::build(&case);
                engines.check(&case.name);
                (case, engines)
            })
            .collect()
    })
}

fn fixture(arg: &str) -> (&'static Engines, &'static Prepared) {
    let (case, label) = arg.split_once('/').expect("case/label");
    let (_, engines) = cases()
        .iter()
        .find(|(c, _)| c.name == case)
        .expect("a known case");
    let p = engines
        .requests
        .iter()
        .find(|p| p.request.label == label)
        .expect("a known request");
    (engines, p)
}

#[divan::bench(args = ARGS)]
fn ours(bencher: Bencher<'_, '_>, arg: &str) {
    let (e, p) = fixture(arg);
    bencher.bench_local(|| {
        e.ours.evaluate(
            black_box(&p.request.agent),
            black_box(&p.request.action),
            black_box(&p.context),
        )
    });
}

#[divan::bench(args = ARGS)]
fn cedar(bencher: Bencher<'_, '_>, arg: &str) {
    let (e, p) = fixture(arg);
    bencher.bench_local(|| {
        e.authorizer
            .is_authorized(black_box(&p.cedar), &e.cedar, &e.entities)
    });
}

#[divan::bench(args = ARGS)]
fn cedar_from_json(bencher: Bencher<'_, '_>, arg: &str) {
    let (e, p) = fixture(arg);
    bencher
        .with_inputs(|| p.request.context.clone())
        .bench_local_values(|context| {
            let request = e.cedar_request(
                black_box(&p.request.agent),
                black_box(&p.request.action),
                context,
            );
            e.authorizer.is_authorized(&request, &e.cedar, &e.entities)
        });
}
