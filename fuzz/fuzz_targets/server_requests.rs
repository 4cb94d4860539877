//! The server's request handling through its real router, in-process: the
//! router of `Server::builder().into_router()` (in-memory store, the demo
//! policy and the current wire's demo policy, a key of a second
//! organization) is built once and driven with `tower::ServiceExt::oneshot`.
//! The harness keeps what it saw across the whole run (the permits issued,
//! to which organization and for what; the ones used, through which door;
//! the ones revoked), so that replies are judged against history.
//!
//! Input: 6 header bytes chosen with `arbitrary` (endpoint, Authorization
//! variant, X-Request-ID variant, Content-Length variant, client address
//! variant, permit id variant), then the body. For `GET /v1-audit/events`
//! and `GET /v1/permits` the body is the query string. The permit id variant
//! (a fresh random-looking id; one of the last permits the harness saw in
//! allow replies, or the newest of them not yet used or revoked; the id of
//! a recent deny, hold or escalate; a malformed one
//! with `%2F`, `..`, `%00`, invalid UTF-8; a 300-character one) is the `{id}`
//! of the `/v1/permits/{id}` paths, and replaces every `@PERMIT@` in the
//! body (so that a verify or revoke body can name a real permit). The
//! client address is one shared address (its budget of failed
//! authentications runs out: 429) or a fresh one per request.
//!
//! Invariants (a violation panics):
//! - No panic; no 5xx status other than 503.
//! - Error replies of the contract's statuses (401, 403, 404, 409, 413, 422,
//!   429) are JSON objects with a string `code`.
//! - A POST without a valid key gets 401 (or 413/429) whatever its body:
//!   authentication comes before the body is judged.
//! - A 200 evaluate reply is in the request's shape, and its decision is
//!   what the policies decide for *this* body (no stored reply replayed
//!   onto another request): agent/action/context for the 1.4.1 shape;
//!   actor_id/action_type and the context merged with top-level
//!   `environment`/`resource_id`/`amount` (when the context lacks them) for
//!   the current one; `require_approval: true` turns an allow into a deny
//!   (`INSUFFICIENT_APPROVALS`). Its reason and code are the policies' too.
//!   An allow (`"decision":"allow"` / `permitted:true`) only for a key that
//!   may decide (not the auditor's); a hold or escalate never carries
//!   `permit_token` and always an `escalation_id`.
//! - A verify reply `valid:true` / `verified:true` (either door) only for a
//!   key that may decide, for a permit the harness saw issued to that key's
//!   organization, not revoked, matching what the request restates (actor,
//!   action, environment, `execution_hash`, 1.4.1 context), never with
//!   `require_approval`; and at most once per permit across the whole run
//!   and both doors (`/v1-verify-permit` and `/v1/permits/{id}/verify`): a
//!   second valid reply must be the byte-identical stored reply of a retry.
//! - `/v1/permits/{id}/verify`: an issued, unused, unrevoked permit of the
//!   caller's organization verifies.
//! - The permit endpoints answer 200 only to a key that may verify (not
//!   the auditor's). Permit records (get, list, verify by id, revoke by id)
//!   belong to the caller's organization, are permits the harness saw
//!   issued there (never a deny, hold or escalate), have the actor, action,
//!   environment and `payload_hash` of that evaluation (the
//!   `execution_hash` of its agent, action and the context the permit is
//!   bound to, top-level members merged), and the status history says: `consumed`
//!   after a use through `/v1-verify-permit`, `verified` after one by id,
//!   `revoked` after a revocation, `issued` otherwise. `GET
//!   /v1/permits/{id}` of such a permit is never a 404.
//! - A revocation (`revoked:true`, or a `revoked` record) only of a permit
//!   of the caller's organization that was not used.
#![no_main]

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use atlasent_fuzz::{member, replace_all, runtime};
use atlasent_server::policy::Effect;
use atlasent_server::{Policy, PolicySet, Server};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, Uri};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use tower::ServiceExt;

const API_KEY: &str = "ask_local_fuzz";
const AUDIT_KEY: &str = "ask_local_fuzz_auditor";
const OTHER_KEY: &str = "ask_local_fuzz_other";
/// The server's default organization (the full key's and the auditor's).
const ORG: &str = "local";
const OTHER_ORG: &str = "fuzz-other";
const DEMO_POLICY: &str = include_str!("../../examples/policies/demo.json");
const CURRENT_POLICY: &str = include_str!("../../examples/policies/current.json");
/// A permit older than this may have expired (the server's TTL is one
/// hour): its status is not predicted.
const FRESH_FOR: Duration = Duration::from_secs(50 * 60);
/// The placeholder of a body that the permit id variant replaces.
const PLACEHOLDER: &str = "@PERMIT@";

const ENDPOINTS: [(&str, &str); 14] = [
    ("POST", "/v1-evaluate"),
    ("POST", "/v1-verify-permit"),
    ("POST", "/v1-revoke-permit"),
    ("GET", "/v1-api-key-self"),
    ("GET", "/v1-audit/events"),
    ("POST", "/v1-audit/exports"),
    ("GET", "/v1-signing-keys"),
    ("GET", "/health"),
    ("GET", "/v1-evaluate"),
    ("POST", "/v1-nowhere"),
    ("GET", "/v1/permits"),
    ("GET", "/v1/permits/{id}"),
    ("POST", "/v1/permits/{id}/verify"),
    ("POST", "/v1/permits/{id}/revoke"),
];

/// Malformed ids as they go into the path, with the id the server decodes
/// (`None`: not predicted).
const MALFORMED: [(&str, Option<&str>); 8] = [
    ("dec_x%2F..%2Fy", Some("dec_x/../y")),
    ("..", Some("..")),
    ("%2E%2E", Some("..")),
    ("dec_%2F", Some("dec_/")),
    ("%C3%A9", Some("\u{e9}")),
    ("a%00b", Some("a\u{0}b")),
    ("%ZZ", None),
    ("%FF", None),
];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    endpoint: u8,
    auth: u8,
    request_id: u8,
    content_length: u8,
    addr: u8,
    permit: u8,
    body: &'a [u8],
}

/// Through which door a permit was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Door {
    /// `POST /v1-verify-permit` (either shape): status `consumed`.
    Verify,
    /// `POST /v1/permits/{id}/verify`: status `verified`.
    ById,
}

/// A permit the harness saw issued.
struct Issued {
    org: &'static str,
    agent: String,
    action: String,
    environment: Option<String>,
    execution_hash: String,
    /// A hash of the canonical JSON of the context it is bound to.
    context: Option<u64>,
    /// That context, for messages (cut at 200 bytes).
    context_text: String,
    at: Instant,
}

/// What the run has seen so far.
#[derive(Default)]
struct History {
    issued: HashMap<String, Issued>,
    /// Ids of decisions that issued no permit.
    refused: HashSet<String>,
    /// The last permits issued, newest first.
    ring: VecDeque<String>,
    /// The last refusals, newest first.
    refused_ring: VecDeque<String>,
    /// Used permits: the door, and the reply of the valid verification
    /// (empty for a permit burned by `require_approval`).
    used: HashMap<String, (Door, Vec<u8>)>,
    revoked: HashSet<String>,
    fresh: u64,
}

struct Harness {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    policies: PolicySet,
    history: Mutex<History>,
}

fn policy(text: &str) -> Policy {
    let doc: Value = serde_json::from_str(text).expect("an example policy is JSON");
    Policy::from_value(&doc).expect("an example policy compiles")
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let rt = runtime();
        let router = {
            let _guard = rt.enter();
            Server::builder()
                .api_key(API_KEY)
                .audit_key(AUDIT_KEY)
                .org_api_key(OTHER_ORG, OTHER_KEY)
                .policy(policy(DEMO_POLICY))
                .policy(policy(CURRENT_POLICY))
                .rate_limit_per_minute(1_000_000)
                .into_router()
                .expect("router")
        };
        let policies =
            PolicySet::new(vec![policy(DEMO_POLICY), policy(CURRENT_POLICY)]).expect("policy set");
        Harness {
            rt,
            router,
            policies,
            history: Mutex::new(History::default()),
        }
    })
}

/// Whom an Authorization header (or a body's `api_key`) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// No valid key.
    Nobody,
    /// The auditor's key: valid, but it may not decide.
    Auditor,
    /// The full key of the default organization.
    Client,
    /// The full key of the other organization.
    Other,
}

impl Who {
    /// The organization of a valid key.
    fn org(self) -> Option<&'static str> {
        match self {
            Who::Nobody => None,
            Who::Auditor | Who::Client => Some(ORG),
            Who::Other => Some(OTHER_ORG),
        }
    }

    /// Whether the key may decide (evaluate, verify, revoke).
    fn decides(self) -> bool {
        matches!(self, Who::Client | Who::Other)
    }
}

fn who(key: &str) -> Who {
    match key {
        API_KEY => Who::Client,
        AUDIT_KEY => Who::Auditor,
        OTHER_KEY => Who::Other,
        _ => Who::Nobody,
    }
}

/// The Authorization header of each variant, and whom it names.
fn authorization(variant: u8) -> (Option<Vec<u8>>, Who) {
    match variant % 9 {
        0 => (None, Who::Nobody),
        1 => (Some(format!("Bearer {API_KEY}").into_bytes()), Who::Client),
        2 => (
            Some(format!("Bearer  {API_KEY} ").into_bytes()),
            Who::Client,
        ),
        3 => (Some(b"Bearer ask_local_wrong".to_vec()), Who::Nobody),
        4 => (Some(b"Bearer \xff\xfe".to_vec()), Who::Nobody),
        5 => (
            Some(b"Basic YWxhZGRpbjpvcGVuc2VzYW1l".to_vec()),
            Who::Nobody,
        ),
        6 => (
            Some(format!("Bearer {AUDIT_KEY}").into_bytes()),
            Who::Auditor,
        ),
        7 => (Some(format!("Bearer {API_KEY}x").into_bytes()), Who::Nobody),
        _ => (Some(format!("Bearer {OTHER_KEY}").into_bytes()), Who::Other),
    }
}

/// The client address of a request: a shared one for a quarter of the
/// variants, else a fresh one each time.
fn client_addr(variant: u8) -> SocketAddr {
    static NEXT: AtomicU32 = AtomicU32::new(0x0a00_0001);
    let ip = if variant % 4 == 0 {
        Ipv4Addr::new(192, 0, 2, 1)
    } else {
        Ipv4Addr::from(NEXT.fetch_add(1, Ordering::Relaxed))
    };
    SocketAddr::from((ip, 40000))
}

fn request_id(variant: u8) -> Option<String> {
    match variant % 4 {
        0 => None,
        // Few distinct ids, so that retried ids (and reused ones) are common.
        1 => Some(format!("fuzz-rid-{}", (variant >> 2) % 8)),
        2 => Some("r".repeat(200)),
        _ => Some(format!("fuzz rid {variant}")),
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The permit id of a variant: as it goes into a path, and as the server
/// decodes it (`None`: not predicted).
fn permit_id(variant: u8, history: &mut History) -> (String, Option<String>) {
    let pick = usize::from(variant >> 3);
    let plain = |id: String| (id.clone(), Some(id));
    let from = |ring: &VecDeque<String>, i: usize| ring.get(i % ring.len().max(1)).cloned();
    let fresh = |history: &mut History| {
        history.fresh += 1;
        let n = history.fresh;
        format!("dec_{:016x}{:016x}", splitmix(n), splitmix(!n))
    };
    match variant % 8 {
        0 => plain(fresh(history)),
        1 => plain(from(&history.ring, 0).unwrap_or_else(|| fresh(history))),
        2 => plain(from(&history.ring, pick).unwrap_or_else(|| fresh(history))),
        3 => plain(from(&history.refused_ring, pick).unwrap_or_else(|| fresh(history))),
        4 => {
            let (raw, decoded) = MALFORMED[pick % MALFORMED.len()];
            (raw.to_owned(), decoded.map(str::to_owned))
        }
        5 => plain("d".repeat(300)),
        6 => {
            let id = from(&history.ring, 0).unwrap_or_else(|| fresh(history));
            (format!("{id}%2F.."), Some(format!("{id}/..")))
        }
        _ => {
            let unused = history
                .ring
                .iter()
                .find(|id| !history.used.contains_key(*id) && !history.revoked.contains(*id))
                .cloned();
            plain(unused.unwrap_or_else(|| fresh(history)))
        }
    }
}

/// `body` with every placeholder replaced by `id` (JSON-escaped, so that
/// it stays inside a string).
fn substitute(body: &[u8], id: &str) -> Vec<u8> {
    let needle = PLACEHOLDER.as_bytes();
    if !body.windows(needle.len()).any(|w| w == needle) {
        return body.to_vec();
    }
    let escaped = serde_json::to_string(id).expect("a string serializes");
    let escaped = &escaped.as_bytes()[1..escaped.len() - 1];
    replace_all(body, needle, escaped)
}

fn hash_of(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

fn context_key(context: &Map<String, Value>) -> Option<u64> {
    atlasent::audit::canonical_json_of(context)
        .ok()
        .map(|c| hash_of(&c))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn string(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// Which shape a body speaks, as the server detects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Legacy,
    Current,
}

fn shape(map: &Map<String, Value>, legacy: &[&str], current: &[&str]) -> Option<Shape> {
    let has = |marks: &[&str]| marks.iter().any(|m| map.contains_key(*m));
    match (has(legacy), has(current)) {
        (true, true) => None,
        (false, true) => Some(Shape::Current),
        _ => Some(Shape::Legacy),
    }
}

/// An evaluate request as the policies read it.
struct Evaluation {
    shape: Shape,
    agent: String,
    action: String,
    /// What the policies read and the permit is bound to: the context, plus
    /// (current shape) the top-level `environment`, `resource_id` and
    /// `amount` it lacks.
    context: Map<String, Value>,
    environment: Option<String>,
    require_approval: bool,
}

/// Whether two values given for one policy input agree (numbers by value).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// The evaluate request of a body the server accepted; `None` when the
/// harness cannot tell (the server refuses such a body anyway).
fn evaluation(map: &Map<String, Value>) -> Option<Evaluation> {
    let shape = shape(
        map,
        &["action", "agent", "api_key", "decision_id"],
        &["action_type", "actor_id"],
    )?;
    let context = match map.get("context") {
        Some(Value::Object(c)) => c.clone(),
        _ => Map::new(),
    };
    Some(match shape {
        Shape::Legacy => Evaluation {
            shape,
            agent: string(map, "agent")?,
            action: string(map, "action")?,
            environment: string(&context, "environment"),
            context,
            require_approval: false,
        },
        Shape::Current => {
            let environment =
                string(map, "environment").or_else(|| string(&context, "environment"));
            let mut merged = context;
            for name in ["environment", "resource_id", "amount"] {
                let Some(top) = map.get(name) else { continue };
                match merged.get(name) {
                    Some(inner) if !same(inner, top) => return None,
                    Some(_) => {}
                    None => {
                        merged.insert(name.to_owned(), top.clone());
                    }
                }
            }
            Evaluation {
                shape,
                agent: string(map, "actor_id")?,
                action: string(map, "action_type")?,
                environment,
                context: merged,
                require_approval: map.get("require_approval") == Some(&Value::Bool(true)),
            }
        }
    })
}

/// What the server must decide for `e`: effect, code, reason.
fn expected(policies: &PolicySet, e: &Evaluation) -> (Effect, Option<String>, String) {
    let d = policies.evaluate(&e.agent, &e.action, &e.context);
    if e.require_approval && d.effect == Effect::Allow {
        return (
            Effect::Deny,
            Some("INSUFFICIENT_APPROVALS".to_owned()),
            "approval required, and this server has no approval workflow".to_owned(),
        );
    }
    (d.effect, d.code, d.reason)
}

fn effect_named(name: &str) -> Option<Effect> {
    [Effect::Allow, Effect::Deny, Effect::Hold, Effect::Escalate]
        .into_iter()
        .find(|e| e.as_str() == name)
}

fn push_ring(ring: &mut VecDeque<String>, id: &str, size: usize) {
    if ring.front().map(String::as_str) != Some(id) {
        ring.push_front(id.to_owned());
        ring.truncate(size);
    }
}

/// A 200 evaluate reply against the policies and the caller.
fn check_evaluate(h: &Harness, history: &mut History, caller: Who, body: &[u8], reply: &[u8]) {
    let Ok(Value::Object(sent)) = serde_json::from_slice::<Value>(body) else {
        panic!("an evaluate body that is not a JSON object got 200");
    };
    let Ok(Value::Object(got)) = serde_json::from_slice::<Value>(reply) else {
        panic!(
            "an evaluate reply that is not a JSON object: {}",
            text(reply)
        );
    };
    let e = evaluation(&sent)
        .unwrap_or_else(|| panic!("200 to an evaluate body the server must refuse"));
    let (effect, code, reason) = expected(&h.policies, &e);
    let id = match e.shape {
        Shape::Current => {
            let decision = string(&got, "decision").unwrap_or_else(|| {
                panic!(
                    "a current-shape evaluate answered without `decision`: {}",
                    text(reply)
                )
            });
            let got_effect =
                effect_named(&decision).unwrap_or_else(|| panic!("unknown decision {decision:?}"));
            assert_eq!(
                got_effect,
                effect,
                "the decision is not the policies' for this body (a stored reply replayed?): {}",
                text(reply)
            );
            assert!(
                !got.contains_key("permitted"),
                "a current reply with `permitted`"
            );
            let evaluation_id = string(&got, "evaluation_id").expect("an evaluation_id");
            let denial = got.get("denial");
            if effect == Effect::Allow {
                assert_eq!(
                    string(&got, "permit_token").as_deref(),
                    Some(evaluation_id.as_str()),
                    "an allow whose permit_token is not its evaluation_id"
                );
                assert!(denial.is_none(), "an allow with a denial");
                assert!(
                    string(&got, "expires_at").is_some(),
                    "an allow without expiry"
                );
                assert!(
                    !got.contains_key("escalation_id"),
                    "an allow with an escalation id"
                );
            } else {
                assert!(
                    !got.contains_key("permit_token"),
                    "a {decision} reply carries a permit_token: {}",
                    text(reply)
                );
                assert!(
                    !got.contains_key("expires_at"),
                    "a {decision} with an expiry"
                );
                let denial = denial.and_then(Value::as_object).expect("a denial object");
                assert_eq!(
                    string(denial, "code"),
                    code,
                    "the code is not the policies'"
                );
                assert_eq!(string(denial, "reason").as_deref(), Some(reason.as_str()));
                let escalation = string(&got, "escalation_id");
                if matches!(effect, Effect::Hold | Effect::Escalate) {
                    assert!(
                        escalation
                            .as_deref()
                            .is_some_and(|id| id.starts_with("esc_")),
                        "a {decision} without an escalation_id"
                    );
                } else {
                    assert!(escalation.is_none(), "a deny with an escalation_id");
                }
            }
            let reasons = got.get("reasons").and_then(Value::as_array);
            let want: Vec<Value> = Some(reason.clone())
                .filter(|r| !r.is_empty())
                .map(Value::from)
                .into_iter()
                .collect();
            assert_eq!(
                reasons,
                Some(&want),
                "reasons are not the decision's reason"
            );
            evaluation_id
        }
        Shape::Legacy => {
            let permitted = got
                .get("permitted")
                .and_then(Value::as_bool)
                .unwrap_or_else(|| {
                    panic!(
                        "a 1.4.1-shape evaluate answered without `permitted`: {}",
                        text(reply)
                    )
                });
            assert!(
                !got.contains_key("decision"),
                "a 1.4.1 reply with `decision`"
            );
            assert_eq!(
                permitted,
                effect == Effect::Allow,
                "permitted is not the policies' decision for this body (a replayed reply?): {}",
                text(reply)
            );
            assert_eq!(string(&got, "reason").as_deref(), Some(reason.as_str()));
            string(&got, "decision_id").expect("a decision_id")
        }
    };
    if effect != Effect::Allow {
        history.refused.insert(id.clone());
        push_ring(&mut history.refused_ring, &id, 4);
        return;
    }
    assert!(caller.decides(), "an evaluate was allowed to {caller:?}");
    let org = caller.org().expect("a deciding key has an organization");
    let issued = Issued {
        org,
        agent: e.agent.clone(),
        action: e.action.clone(),
        environment: e.environment.clone(),
        execution_hash: atlasent::wire::execution_hash(&e.action, &e.agent, &e.context),
        context: context_key(&e.context),
        context_text: serde_json::to_string(&e.context)
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect(),
        at: Instant::now(),
    };
    if let Some(before) = history.issued.get(&id) {
        // A retry answered with the stored reply: the same permit.
        assert_eq!(before.org, org, "one permit id issued to two organizations");
        assert_eq!(before.execution_hash, issued.execution_hash);
    } else {
        history.issued.insert(id.clone(), issued);
    }
    push_ring(&mut history.ring, &id, 8);
}

/// A valid verification of `id` through `door` by `caller`; `reply` is its
/// text (a second valid reply must be the stored reply of a retry).
impl History {
    /// The permit `id` names, which `caller`'s organization must have been
    /// issued; `found` (a permit verified, a permit record) and `reply` say
    /// what came with that id, should it not be.
    fn issued_to(&self, id: &str, caller: Who, found: &str, reply: &[u8]) -> &Issued {
        let Some(issued) = self.issued.get(id) else {
            let what = if self.refused.contains(id) {
                "the id of a decision that issued no permit"
            } else {
                "an id the harness never saw issued"
            };
            panic!("{found} for {what} ({id:?}): {}", text(reply));
        };
        assert_eq!(
            Some(issued.org),
            caller.org(),
            "{found} of another organization: {}",
            text(reply)
        );
        issued
    }
}

fn check_valid(history: &mut History, caller: Who, id: &str, door: Door, reply: &[u8]) {
    assert!(caller.decides(), "a permit verified for {caller:?}");
    history.issued_to(id, caller, "a permit verified", reply);
    assert!(
        !history.revoked.contains(id),
        "a revoked permit verified: {}",
        text(reply)
    );
    match history.used.get(id) {
        None => {
            history.used.insert(id.to_owned(), (door, reply.to_vec()));
        }
        Some((first_door, first)) => assert!(
            *first_door == door && first.as_slice() == reply,
            "a permit verified twice (first through {first_door:?}, now through {door:?}): {}",
            text(reply)
        ),
    }
}

/// A 200 from `/v1-verify-permit`.
fn check_verify(history: &mut History, caller: Who, body: &[u8], reply: &[u8]) {
    let Ok(Value::Object(sent)) = serde_json::from_slice::<Value>(body) else {
        panic!("a verify body that is not a JSON object got 200");
    };
    let Ok(Value::Object(got)) = serde_json::from_slice::<Value>(reply) else {
        panic!("a verify reply that is not a JSON object: {}", text(reply));
    };
    let shape = shape(
        &sent,
        &["decision_id", "action", "agent", "api_key", "context"],
        &["permit_token", "action_type", "actor_id", "execution_hash"],
    )
    .unwrap_or_else(|| panic!("200 to a verify body mixing the shapes"));
    let (id_name, valid_name, agent_name, action_name) = match shape {
        Shape::Current => ("permit_token", "valid", "actor_id", "action_type"),
        Shape::Legacy => ("decision_id", "verified", "agent", "action"),
    };
    let id = string(&sent, id_name).expect("a permit id was sent");
    assert_eq!(
        string(&got, id_name).as_deref(),
        Some(id.as_str()),
        "a verify reply about another permit: {}",
        text(reply)
    );
    let valid = got
        .get(valid_name)
        .and_then(Value::as_bool)
        .unwrap_or_else(|| panic!("a verify reply without `{valid_name}`: {}", text(reply)));
    if shape == Shape::Current && !valid && got.get("consumed") == Some(&Value::Bool(true)) {
        // require_approval burned it.
        assert_eq!(sent.get("require_approval"), Some(&Value::Bool(true)));
        history
            .used
            .entry(id.clone())
            .or_insert((Door::Verify, Vec::new()));
    }
    if !valid {
        return;
    }
    check_valid(history, caller, &id, Door::Verify, reply);
    let issued = &history.issued[&id];
    for (name, held) in [(agent_name, &issued.agent), (action_name, &issued.action)] {
        if let Some(asked) = string(&sent, name).filter(|s| !s.is_empty()) {
            assert_eq!(
                &asked, held,
                "verified though `{name}` differs from the permit's"
            );
        }
    }
    match shape {
        Shape::Current => {
            if let Some(env) = sent.get("environment").and_then(Value::as_str) {
                assert_eq!(
                    Some(env),
                    issued.environment.as_deref(),
                    "verified though `environment` differs from the permit's"
                );
            }
            if let Some(hash) = sent.get("execution_hash").and_then(Value::as_str) {
                assert_eq!(
                    hash, issued.execution_hash,
                    "verified though `execution_hash` differs from the evaluated request's"
                );
            }
            assert_ne!(
                sent.get("require_approval"),
                Some(&Value::Bool(true)),
                "verified though approval was required"
            );
            assert_eq!(got.get("consumed"), Some(&Value::Bool(true)));
        }
        Shape::Legacy => {
            if let Some(Value::Object(context)) = sent.get("context") {
                if !context.is_empty() {
                    if let (Some(asked), Some(held)) = (context_key(context), issued.context) {
                        assert_eq!(asked, held, "verified though the context differs");
                    }
                }
            }
        }
    }
}

/// The status history predicts for a permit of the harness, if any.
fn predicted_status(history: &History, id: &str) -> Option<&'static str> {
    let issued = history.issued.get(id)?;
    if let Some((door, _)) = history.used.get(id) {
        return Some(match door {
            Door::Verify => "consumed",
            Door::ById => "verified",
        });
    }
    if history.revoked.contains(id) {
        return Some("revoked");
    }
    (issued.at.elapsed() < FRESH_FOR).then_some("issued")
}

/// A permit record the caller was shown.
fn check_record(history: &History, caller: Who, record: &Map<String, Value>, raw: &[u8]) {
    let id = string(record, "id").unwrap_or_else(|| panic!("a record without id: {}", text(raw)));
    assert_eq!(
        string(record, "org_id").as_deref(),
        caller.org(),
        "a record of another organization: {}",
        text(raw)
    );
    let issued = history.issued_to(&id, caller, "a permit record", raw);
    assert_eq!(string(record, "actor_id"), Some(issued.agent.clone()));
    assert_eq!(string(record, "action_id"), Some(issued.action.clone()));
    assert_eq!(
        string(record, "environment"),
        issued.environment,
        "a record whose environment is not the evaluated request's"
    );
    if let Some(hash) = string(record, "payload_hash") {
        assert_eq!(
            hash,
            issued.execution_hash,
            "a record's payload_hash is not the execution_hash of the evaluated request \
             (action {:?}, actor {:?}, context {:?}): {}",
            issued.action,
            issued.agent,
            issued.context_text,
            text(raw)
        );
    }
    if let Some(status) = predicted_status(history, &id) {
        assert_eq!(
            string(record, "status").as_deref(),
            Some(status),
            "a record whose status is not what happened to it: {}",
            text(raw)
        );
    }
}

fn object(bytes: &[u8], what: &str) -> Map<String, Value> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => map,
        _ => panic!("a {what} reply that is not a JSON object: {}", text(bytes)),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let h = harness();
    let mut history = h.history.lock().unwrap_or_else(PoisonError::into_inner);
    let (method, pattern) = ENDPOINTS[usize::from(input.endpoint) % ENDPOINTS.len()];
    let (raw_id, decoded_id) = permit_id(input.permit, &mut history);
    let body = substitute(input.body, decoded_id.as_deref().unwrap_or(&raw_id));
    let path = pattern.replace("{id}", &raw_id);
    let with_query = matches!(pattern, "/v1-audit/events" | "/v1/permits") && !body.is_empty();
    let uri = if with_query {
        std::str::from_utf8(&body)
            .ok()
            .and_then(|q| Uri::try_from(format!("{path}?{q}")).ok())
    } else {
        Uri::try_from(path.as_str()).ok()
    };
    let Some(uri) = uri.or_else(|| Uri::try_from(pattern).ok()) else {
        return;
    };
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(uri);
    let (auth, header_who) = authorization(input.auth);
    if let Some(auth) = &auth {
        builder = builder.header("authorization", auth.as_slice());
    }
    if let Some(rid) = request_id(input.request_id) {
        builder = builder.header("x-request-id", rid);
    }
    match input.content_length % 4 {
        1 => builder = builder.header("content-length", body.len().to_string()),
        2 => builder = builder.header("content-length", "99999999999"),
        3 => builder = builder.header("content-length", "-1"),
        _ => {}
    }
    let Ok(mut request) = builder.body(Body::from(body.clone())) else {
        return;
    };
    request
        .extensions_mut()
        .insert(ConnectInfo(client_addr(input.addr)));

    let (status, bytes) = h.rt.block_on(async {
        let response = h
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a reply body");
        (status, bytes)
    });

    assert!(
        !(500..600).contains(&status) || status == 503,
        "HTTP {status} for {method} {path}: {}",
        text(&bytes)
    );
    if matches!(status, 401 | 403 | 404 | 409 | 413 | 422 | 429) {
        assert!(
            matches!(member(&bytes, "code"), Some(Value::String(_))),
            "HTTP {status} without the contract's error shape: {}",
            text(&bytes)
        );
    }

    // Who the request names: a GET only by its header; a POST by its header
    // or, without one, by the body's `api_key` (a reader taking the last
    // copy sees it; a repeated member is refused with 401 anyway).
    let caller = match (&auth, method) {
        (Some(_), _) | (None, "GET") => header_who,
        (None, _) => match member(&body, "api_key") {
            Some(Value::String(k)) => who(&k),
            _ => Who::Nobody,
        },
    };
    if method == "POST" && pattern != "/v1-nowhere" && caller == Who::Nobody {
        assert!(
            matches!(status, 401 | 413 | 429),
            "a POST {path} without a valid key got HTTP {status}: {}",
            text(&bytes)
        );
    }
    if pattern.starts_with("/v1/permits") && status == 200 {
        assert!(
            caller.decides(),
            "{method} {path} answered 200 to {caller:?}: {}",
            text(&bytes)
        );
    }
    let history = &mut *history;
    match (pattern, status) {
        ("/v1-evaluate", 200) if method == "POST" => {
            check_evaluate(h, history, caller, &body, &bytes);
        }
        ("/v1-verify-permit", 200) => check_verify(history, caller, &body, &bytes),
        ("/v1-revoke-permit", 200) => {
            let got = object(&bytes, "revoke");
            if got.get("revoked") == Some(&Value::Bool(true)) {
                let id = string(&got, "decision_id").expect("a decision_id");
                assert_eq!(member(&body, "decision_id"), Some(Value::from(id.as_str())));
                assert!(
                    history.issued.get(&id).map(|p| p.org) == caller.org(),
                    "revoked: a permit not of the caller's organization: {}",
                    text(&bytes)
                );
                assert!(
                    !history.used.contains_key(&id),
                    "revoked: a permit already used"
                );
                history.revoked.insert(id);
            }
        }
        ("/v1/permits", 200) => {
            let got = object(&bytes, "permit list");
            let permits = got
                .get("permits")
                .and_then(Value::as_array)
                .expect("a permits array");
            let total = got.get("total").and_then(Value::as_u64).expect("a total");
            assert!(total >= permits.len() as u64, "total below the page");
            for record in permits {
                let record = record.as_object().expect("a record object");
                check_record(history, caller, record, &bytes);
            }
        }
        ("/v1/permits/{id}", 200) => {
            let got = object(&bytes, "permit");
            if let Some(id) = &decoded_id {
                assert_eq!(string(&got, "id").as_deref(), Some(id.as_str()));
            }
            check_record(history, caller, &got, &bytes);
        }
        ("/v1/permits/{id}", 404) => {
            if let Some(id) = &decoded_id {
                assert!(
                    !(history.issued.get(id).map(|p| p.org) == caller.org()
                        && caller.org().is_some()),
                    "GET of a permit of the caller's organization is a 404: {id:?}"
                );
            }
        }
        ("/v1/permits/{id}/verify", 200) => {
            let got = object(&bytes, "verify by id");
            let id = string(&got, "id").expect("an id");
            let evidence = got
                .get("evidence")
                .and_then(Value::as_object)
                .expect("evidence");
            assert_eq!(string(evidence, "permit_id").as_deref(), Some(id.as_str()));
            if let Some(asked) = &decoded_id {
                assert_eq!(&id, asked, "a verification of another permit");
            }
            let valid = got
                .get("valid")
                .and_then(Value::as_bool)
                .expect("a valid member");
            if valid {
                check_valid(history, caller, &id, Door::ById, &bytes);
                assert_eq!(string(&got, "status").as_deref(), Some("verified"));
                check_record(history, caller, &got, &bytes);
            } else {
                let live = history
                    .issued
                    .get(&id)
                    .is_some_and(|p| p.at.elapsed() < FRESH_FOR)
                    && !history.used.contains_key(&id)
                    && !history.revoked.contains(&id);
                assert!(
                    !live,
                    "an issued, unused permit did not verify by id: {}",
                    text(&bytes)
                );
                check_record(history, caller, &got, &bytes);
            }
        }
        ("/v1/permits/{id}/revoke", 200) => {
            let got = object(&bytes, "revoke by id");
            let id = string(&got, "id").expect("an id");
            if let Some(asked) = &decoded_id {
                assert_eq!(&id, asked, "a revocation of another permit");
            }
            assert_eq!(string(&got, "status").as_deref(), Some("revoked"));
            assert!(
                !history.used.contains_key(&id),
                "a used permit was revoked: {}",
                text(&bytes)
            );
            history.revoked.insert(id);
            check_record(history, caller, &got, &bytes);
        }
        _ => {}
    }
});
