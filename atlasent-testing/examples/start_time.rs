//! How long a `TestServer` takes to start and stop (the figure in
//! BENCHMARKS.md): `cargo run --release -p atlasent-testing --example start_time`.

use std::time::{Duration, Instant};

use atlasent_testing::{Policy, Rule, TestServer};

#[tokio::main]
async fn main() {
    let policy = Policy::new("deploys").rule(Rule::allow("deploy"));
    let mut starts = Vec::new();
    let mut firsts = Vec::new();
    for _ in 0..50 {
        let begin = Instant::now();
        let server = TestServer::start(policy.clone()).await;
        starts.push(begin.elapsed());
        let client = server.client();
        let begin = Instant::now();
        client
            .protect("deploy-bot", "deploy", &())
            .await
            .expect("allowed");
        firsts.push(begin.elapsed());
        drop(server);
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "50 servers: start median {:?} (max {:?}); first protect median {:?}",
        median(&mut starts),
        starts.iter().max().copied().unwrap_or_default(),
        median(&mut firsts)
    );
}
