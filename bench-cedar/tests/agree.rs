//! Both engines give every request of every case the same, expected
//! decision (behaviour only: no timing here).

#[path = "../shared/engines.rs"]
mod engines;

#[test]
fn both_engines_decide_every_request_alike() {
    let mut checked = 0;
    for case in atlasent_bench_cedar::all() {
        let engines = engines::build(&case);
        engines.check(&case.name);
        checked += engines.requests.len();
    }
    // demo: 13 requests; 6 generated cases of 4.
    assert_eq!(checked, 13 + 6 * 4);
}

#[test]
fn cedar_built_from_json_decides_as_the_prebuilt_request() {
    for case in atlasent_bench_cedar::all() {
        let engines = engines::build(&case);
        for p in &engines.requests {
            let fresh = engines.cedar_request(
                &p.request.agent,
                &p.request.action,
                p.request.context.clone(),
            );
            assert_eq!(
                engines.cedar_allows(&fresh),
                p.request.allow,
                "{}/{}",
                case.name,
                p.request.label
            );
        }
    }
}
