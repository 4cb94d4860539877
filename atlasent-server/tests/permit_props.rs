//! The permit state machine against a model: issue, verify (alone and
//! concurrently), retry, revoke and expire in random orders. Whatever the
//! order, the engine answers what the model says, and of any number of
//! verifies of one permit at most one ever succeeds.

use std::sync::Arc;

use atlasent_server::clock::Clock;
use atlasent_server::engine::{Caller, Engine, EngineConfig};
use atlasent_server::{Policy, PolicySet, Signer, Storage};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const TTL_MS: i64 = 1_000;

#[derive(Debug, Clone)]
enum Op {
    /// Evaluate: `allow` picks an allowed or a denied action.
    Issue {
        allow: bool,
        agent: u8,
    },
    /// `n` concurrent verifies of permit `which`, as `agent`.
    Verify {
        which: usize,
        n: usize,
        agent: u8,
    },
    /// The last verify again with its request id and body: a true retry.
    Retry,
    /// Verify an id that was never issued.
    VerifyUnknown,
    Revoke {
        which: usize,
    },
    Advance {
        ms: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<bool>(), 0u8..2).prop_map(|(allow, agent)| Op::Issue { allow, agent }),
        4 => (0usize..8, 1usize..5, 0u8..2).prop_map(|(which, n, agent)| Op::Verify { which, n, agent }),
        1 => Just(Op::Retry),
        1 => Just(Op::VerifyUnknown),
        1 => (0usize..8).prop_map(|which| Op::Revoke { which }),
        1 => prop_oneof![Just(TTL_MS / 2), Just(TTL_MS + 1)].prop_map(|ms| Op::Advance { ms }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Active,
    Consumed,
    Revoked,
    Denied,
}

struct ModelPermit {
    id: String,
    agent: u8,
    state: State,
    expires_ms: i64,
}

fn caller(request_id: &str, body: &str) -> Caller {
    Caller {
        key_id: "key_model".into(),
        org_id: "model".into(),
        request_id: request_id.into(),
        body_digest: body.into(),
    }
}

fn agent_name(agent: u8) -> String {
    format!("agent-{agent}")
}

fn engine(clock: Clock) -> Engine {
    let policy = Policy::from_value(&json!({
        "policy_id": "model", "version": "1.0.0", "default": "deny",
        "rules": [{ "id": "go", "effect": "allow", "match": { "action": "go" } }]
    }))
    .expect("policy");
    Engine::open(
        EngineConfig {
            storage: Storage::Memory,
            permit_ttl: std::time::Duration::from_millis(TTL_MS as u64),
            org_id: "model".into(),
            max_export_events: 10_000,
            clock,
        },
        Arc::new(PolicySet::new(vec![policy]).expect("set")),
        Arc::new(Signer::generate().expect("key")),
    )
    .expect("engine")
}

fn field(reply: &str, name: &str) -> Value {
    serde_json::from_str::<Value>(reply).expect("json")[name].clone()
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = Clock::manual(1_700_000_000_000);
    let engine = engine(clock.clone());
    let ctx = Map::new();
    let mut permits: Vec<ModelPermit> = Vec::new();
    let mut next_request = 0u64;
    let mut last_verify: Option<(String, String, u8, String)> = None;
    let mut verified_total = 0usize;
    let mut fresh_id = || {
        next_request += 1;
        format!("req-{next_request}")
    };
    for op in ops {
        let now = clock.now_ms();
        match op {
            Op::Issue { allow, agent } => {
                let action = if allow { "go" } else { "stop" };
                let reply = engine
                    .evaluate(
                        caller(&fresh_id(), "issue"),
                        &agent_name(agent),
                        action,
                        &ctx,
                    )
                    .await
                    .expect("evaluate");
                prop_assert_eq!(field(&reply, "permitted"), json!(allow));
                permits.push(ModelPermit {
                    id: field(&reply, "decision_id")
                        .as_str()
                        .expect("id")
                        .to_owned(),
                    agent,
                    state: if allow { State::Active } else { State::Denied },
                    expires_ms: now + TTL_MS,
                });
            }
            Op::Verify { which, n, agent } => {
                let len = permits.len().max(1);
                let Some(p) = permits.get_mut(which % len) else {
                    continue;
                };
                let expected = match p.state {
                    State::Denied => "denied",
                    State::Revoked => "revoked",
                    State::Consumed => "consumed",
                    State::Active if now > p.expires_ms => "expired",
                    State::Active if agent != p.agent => "mismatch",
                    State::Active => "verified",
                };
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        let engine = engine.clone();
                        let (rid, id) = (fresh_id(), p.id.clone());
                        tokio::spawn(async move {
                            let reply = engine
                                .verify(caller(&rid, &id), &id, &agent_name(agent), "", &Map::new())
                                .await
                                .expect("verify");
                            (rid, reply)
                        })
                    })
                    .collect();
                let mut outcomes = Vec::new();
                for t in tasks {
                    let (rid, reply) = t.await.expect("task");
                    outcomes.push(
                        field(&reply, "outcome")
                            .as_str()
                            .expect("outcome")
                            .to_owned(),
                    );
                    last_verify = Some((rid, p.id.clone(), agent, reply));
                }
                let wins = outcomes.iter().filter(|o| *o == "verified").count();
                verified_total += wins;
                if expected == "verified" {
                    prop_assert_eq!(wins, 1, "{:?}", outcomes);
                    prop_assert!(outcomes.iter().all(|o| o == "verified" || o == "consumed"));
                    p.state = State::Consumed;
                } else {
                    prop_assert!(
                        outcomes.iter().all(|o| o == expected),
                        "{} {:?}",
                        expected,
                        outcomes
                    );
                }
            }
            Op::Retry => {
                let Some((rid, id, agent, reply)) = &last_verify else {
                    continue;
                };
                let again = engine
                    .verify(caller(rid, id), id, &agent_name(*agent), "", &Map::new())
                    .await
                    .expect("retry");
                prop_assert_eq!(&again, reply);
            }
            Op::VerifyUnknown => {
                let reply = engine
                    .verify(caller(&fresh_id(), "x"), "dec_unknown", "", "", &Map::new())
                    .await
                    .expect("verify");
                prop_assert_eq!(field(&reply, "outcome"), json!("not_found"));
            }
            Op::Revoke { which } => {
                let len = permits.len().max(1);
                let Some(p) = permits.get_mut(which % len) else {
                    continue;
                };
                let reply = engine
                    .revoke(caller(&fresh_id(), &p.id), &p.id, None)
                    .await
                    .expect("revoke");
                let expected = matches!(p.state, State::Active | State::Revoked);
                prop_assert_eq!(field(&reply, "revoked"), json!(expected));
                if p.state == State::Active {
                    p.state = State::Revoked;
                }
            }
            Op::Advance { ms } => clock.advance(ms),
        }
    }
    let consumed = permits
        .iter()
        .filter(|p| p.state == State::Consumed)
        .count();
    prop_assert_eq!(verified_total, consumed);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_permit_state_machine_matches_its_model(ops in prop::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(run(ops))?;
    }
}
