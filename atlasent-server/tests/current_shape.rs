//! The current wire (Python `atlasent` 2.x) over HTTP against the real
//! server: shape detection, the four decisions, verify outcomes and codes in
//! both shapes, the permit-by-id endpoints, `key_self`, and schema 3 with
//! its migrations. The 1.4.1 shape's own tests (`permits.rs`, `bad_input.rs`,
//! `python_sdk.rs`) run unchanged beside these.

mod common;

use std::path::PathBuf;

use atlasent_server::clock::Clock;
use atlasent_server::{Policy, RunningServer, Server, ServerBuilder, Storage};
use base64::Engine as _;
use serde_json::{json, Value};

const KEY: &str = "ask_test_current_key";
const ACME: &str = "ask_test_acme_key";
const GLOBEX: &str = "ask_live_globex_key";
/// 2026-01-01T00:00:00Z, the start of the manual clocks.
const T0: i64 = 1_767_225_600_000;

/// Dot-notation policies with every effect.
fn policy() -> Policy {
    Policy::from_value(&json!({
        "policy_id": "current-test",
        "version": "1.0.0",
        "default": "deny",
        "rules": [
            { "id": "allow_deploys", "effect": "allow",
              "match": { "agent": "deploy-bot", "action": "deploy.production",
                         "context": { "environment": "production" } } },
            { "id": "deny_forced", "effect": "deny",
              "match": { "action": "deploy.production", "context": { "force": true } } },
            { "id": "allow_small_wires", "effect": "allow",
              "match": { "agent": "pay-bot", "action": "payments.wire",
                         "context": { "amount_usd": { "lte": 10000 } } } },
            { "id": "hold_large_wires", "effect": "hold",
              "match": { "action": "payments.wire", "context": { "amount_usd": { "gt": 10000 } } } },
            { "id": "escalate_deletes", "effect": "escalate",
              "match": { "action": "records.delete" } },
            { "id": "allow_reads", "effect": "allow", "match": { "action": "records.read" } },
            { "id": "allow_small_refunds", "effect": "allow",
              "match": { "agent": "shop-bot", "action": "orders.refund",
                         "context": { "amount": { "lte": 100 }, "environment": "production",
                                      "resource_id": { "exists": true } } } }
        ]
    }))
    .expect("a valid policy")
}

/// A server with what `customize` gives it (no policy or key of its own).
async fn start_bare(customize: impl FnOnce(ServerBuilder) -> ServerBuilder) -> RunningServer {
    customize(Server::builder())
        .start()
        .await
        .expect("server starts")
}

async fn start_with(customize: impl FnOnce(ServerBuilder) -> ServerBuilder) -> RunningServer {
    start_bare(|b| customize(b.policy(policy()).api_key(KEY))).await
}

/// A server on a manual clock at [`T0`], and the clock.
async fn start_at_t0() -> (Clock, RunningServer) {
    let clock = Clock::manual(T0);
    let server = start_with(|b| b.clock(clock.clone())).await;
    (clock, server)
}

/// A server on the database file `db`, signing with `key_file`.
async fn start_on_file(db: &std::path::Path, key_file: &std::path::Path) -> RunningServer {
    start_with(|b| {
        b.storage(Storage::File(db.to_owned()))
            .signing_key_file(key_file)
    })
    .await
}

async fn start() -> RunningServer {
    start_with(|b| b).await
}

/// One request: status, headers and the parsed body (`Null` when not JSON).
async fn send(
    server: &RunningServer,
    key: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    request_id: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", server.base_url());
    let mut req = if method == "GET" {
        client.get(url)
    } else {
        client
            .post(url)
            .header("content-type", "application/json")
            .body(body.unwrap_or("").to_owned())
    };
    req = req.header("authorization", format!("Bearer {key}"));
    if let Some(rid) = request_id {
        req = req.header("x-request-id", rid);
    }
    let resp = req.send().await.expect("sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn post_as(server: &RunningServer, key: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, _, reply) = send(server, key, "POST", path, Some(&body.to_string()), None).await;
    (status, reply)
}

async fn post(server: &RunningServer, path: &str, body: Value) -> (u16, Value) {
    post_as(server, KEY, path, body).await
}

async fn get_as(server: &RunningServer, key: &str, path: &str) -> (u16, Value) {
    let (status, _, reply) = send(server, key, "GET", path, None, None).await;
    (status, reply)
}

async fn get(server: &RunningServer, path: &str) -> (u16, Value) {
    get_as(server, KEY, path).await
}

fn prod() -> Value {
    json!({ "environment": "production", "commit": "abc123" })
}

/// A current-shape evaluate that must allow; returns the reply.
async fn allow_as(
    server: &RunningServer,
    key: &str,
    agent: &str,
    action: &str,
    ctx: Value,
) -> Value {
    let (status, reply) = post_as(
        server,
        key,
        "/v1-evaluate",
        json!({ "action_type": action, "actor_id": agent, "context": ctx }),
    )
    .await;
    assert_eq!(
        (status, &reply["decision"]),
        (200, &json!("allow")),
        "{reply}"
    );
    reply
}

/// A deploy permit of the default key; returns its token.
async fn deploy_permit(server: &RunningServer) -> String {
    let reply = allow_as(server, KEY, "deploy-bot", "deploy.production", prod()).await;
    token(&reply)
}

fn token(reply: &Value) -> String {
    reply["permit_token"]
        .as_str()
        .expect("a permit_token")
        .to_owned()
}

/// `reply`'s member names, sorted, are `names` (space-separated, sorted).
#[track_caller]
fn assert_keys(reply: &Value, names: &str) {
    assert_eq!(keys(reply), names.split(' ').collect::<Vec<_>>(), "{reply}");
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

async fn events(server: &RunningServer, key: &str) -> Vec<Value> {
    let (status, page) = get_as(server, key, "/v1-audit/events?limit=500").await;
    assert_eq!(status, 200, "{page}");
    page["events"].as_array().expect("events").clone()
}

async fn current_verify(server: &RunningServer, body: Value) -> Value {
    let (status, reply) = post(server, "/v1-verify-permit", body).await;
    assert_eq!(status, 200, "{reply}");
    reply
}

fn hash(action: &str, agent: &str, ctx: &Value) -> String {
    atlasent::wire::execution_hash(action, agent, ctx.as_object().expect("an object"))
}

/// A POST of raw `body` with the default key (and `request_id` if given).
async fn post_raw(
    server: &RunningServer,
    path: &str,
    body: &str,
    request_id: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    send(server, KEY, "POST", path, Some(body), request_id).await
}

/// An evaluate of `body` with the default key: the reply, whatever the status.
async fn evaluate(server: &RunningServer, body: Value) -> Value {
    post(server, "/v1-evaluate", body).await.1
}

/// A `/v1-verify-permit` of `body` (either shape): the reply, whatever the
/// status.
async fn verify(server: &RunningServer, body: Value) -> Value {
    post(server, "/v1-verify-permit", body).await.1
}

/// `GET /v1/permits/{id}` with the default key: the record.
async fn permit_record(server: &RunningServer, id: &str) -> Value {
    get(server, &format!("/v1/permits/{id}")).await.1
}

/// `POST /v1/permits/{id}/{action}` (verify or revoke) with the default key.
async fn permit_post(server: &RunningServer, id: &str, action: &str, body: Value) -> (u16, Value) {
    post(server, &format!("/v1/permits/{id}/{action}"), body).await
}

/// `id` is no permit of `key`'s organization at every by-id endpoint: 404
/// `permit_not_found`.
async fn assert_no_permit_by_id(server: &RunningServer, key: &str, id: &str) {
    let (status, reply) = get_as(server, key, &format!("/v1/permits/{id}")).await;
    assert_eq!(status, 404, "{id}: {reply}");
    assert_has_in(
        &id,
        &reply,
        json!({ "code": "permit_not_found", "message": "permit not found" }),
    );
    for action in ["verify", "revoke"] {
        let (status, reply) = post_as(
            server,
            key,
            &format!("/v1/permits/{id}/{action}"),
            json!({}),
        )
        .await;
        assert_eq!(status, 404, "{id} {action}: {reply}");
        assert_has_in(
            &format!("{id} {action}"),
            &reply,
            json!({ "code": "permit_not_found" }),
        );
    }
}

/// Every member of `expect` (an object) is `reply`'s (a missing one is
/// `null`; an object, member by member).
#[track_caller]
fn assert_has(reply: &Value, expect: Value) {
    assert_has_in(&"", reply, expect);
}

/// [`assert_has`], the failure naming `case` too.
#[track_caller]
fn assert_has_in(case: &dyn std::fmt::Display, reply: &Value, expect: Value) {
    for (name, want) in expect.as_object().expect("an object") {
        match want {
            Value::Object(_) => assert_has_in(case, &reply[name], want.clone()),
            _ => assert_eq!(&reply[name], want, "{case} `{name}` of {reply}"),
        }
    }
}

/// A refusal: `status` was `want` and the message contains `expect`; `case`
/// names what was sent.
#[track_caller]
fn assert_refused(case: &dyn std::fmt::Display, reply: (u16, Value), want: u16, expect: &str) {
    let message = reply.1["message"].as_str().unwrap_or_default();
    assert_eq!(reply.0, want, "{case}: {}", reply.1);
    assert!(
        message.contains(expect),
        "{case}: {message:?} lacks {expect:?}"
    );
}

/// An evaluate that was answered 200 with `allow`.
#[track_caller]
fn assert_allowed(status: u16, reply: &Value) {
    assert_eq!(status, 200, "{reply}");
    assert_has(reply, json!({ "decision": "allow" }));
}

/// A 1.4.1-shape evaluate or verify body.
fn legacy_body(agent: &str, action: &str, context: Value) -> Value {
    json!({ "agent": agent, "action": action, "context": context })
}

/// A current-shape evaluate of a forced deploy: denied by `deny_forced`.
fn forced_deploy() -> Value {
    let context = json!({ "environment": "production", "force": true });
    current_body("deploy-bot", "deploy.production", context)
}

/// A current verify of `permit` with the members of `extra` (an object):
/// the reply, which must be a 200.
async fn verify_token(server: &RunningServer, permit: &str, extra: Value) -> Value {
    let mut body = extra;
    body["permit_token"] = json!(permit);
    current_verify(server, body).await
}

/// What a current verify answers for a permit given for something else.
fn mismatch(code: &str) -> Value {
    json!({ "valid": false, "outcome": "permit_mismatch", "verify_error_code": code })
}

/// What a current verify of a permit that is not there answers: nothing
/// about the permit.
fn not_found_verify() -> Value {
    json!({ "valid": false, "outcome": "permit_not_found", "verify_error_code": "PERMIT_NOT_FOUND",
            "expires_at": null })
}

/// A current-shape evaluate body.
fn current_body(agent: &str, action: &str, context: Value) -> Value {
    json!({ "actor_id": agent, "action_type": action, "context": context })
}

// ---------------------------------------------------------------- evaluate

#[tokio::test]
async fn a_current_evaluate_allow_is_answered_in_the_current_shape() {
    let server = start().await;
    let body = current_body("deploy-bot", "deploy.production", prod()).to_string();
    let (status, headers, reply) =
        post_raw(&server, "/v1-evaluate", &body, Some("rid-allow-1")).await;
    assert_allowed(status, &reply);
    assert_keys(
        &reply,
        "audit_hash decision evaluation_id expires_at permit_token reasons request_id timestamp",
    );
    let permit = token(&reply);
    assert!(permit.starts_with("dec_") && permit.len() == 36, "{permit}");
    assert_eq!(reply["evaluation_id"], reply["permit_token"]);
    assert_eq!(reply["request_id"], "rid-allow-1");
    assert_eq!(headers["x-request-id"], "rid-allow-1");
    let reasons = reply["reasons"].as_array().expect("reasons");
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].as_str().expect("text").contains("allow_deploys"),
        "{reply}"
    );
    let issued = atlasent_server::clock::parse_rfc3339_ms(reply["timestamp"].as_str().expect("ts"))
        .expect("timestamp is RFC 3339");
    let expires =
        atlasent_server::clock::parse_rfc3339_ms(reply["expires_at"].as_str().expect("exp"))
            .expect("expires_at is RFC 3339");
    assert_eq!(expires - issued, 3_600_000, "the default TTL is an hour");
}

#[tokio::test]
async fn a_current_deny_carries_its_code_and_reason_and_no_permit() {
    let server = start().await;
    let (status, forced) = post(&server, "/v1-evaluate", forced_deploy()).await;
    assert_eq!(status, 200);
    assert_eq!(forced["decision"], "deny", "{forced}");
    assert_eq!(forced["denial"]["code"], "DENY_POLICY", "{forced}");
    assert!(forced["denial"]["reason"]
        .as_str()
        .expect("reason")
        .contains("deny_forced"));
    assert_eq!(forced["reasons"][0], forced["denial"]["reason"]);
    assert!(forced.get("permit_token").is_none(), "{forced}");
    assert!(forced.get("expires_at").is_none(), "{forced}");
    assert!(forced.get("escalation_id").is_none(), "{forced}");
    assert!(forced["evaluation_id"]
        .as_str()
        .expect("id")
        .starts_with("dec_"));

    let nothing = evaluate(&server, current_body("x", "nothing.matches", json!({}))).await;
    assert_has(
        &nothing,
        json!({ "decision": "deny", "denial": { "code": "NO_TEMPLATE_MATCH" } }),
    );
}

#[tokio::test]
async fn deny_hold_and_escalate_are_permits_on_no_door_and_hold_and_escalate_carry_an_escalation_id(
) {
    let server = start().await;
    let large = || json!({ "amount_usd": 50000 });
    let held = evaluate(&server, current_body("pay-bot", "payments.wire", large())).await;
    let escalated = json!({ "action_type": "records.delete", "actor_id": "ops-bot" });
    let escalated = evaluate(&server, escalated).await;
    let legacy_held = evaluate(&server, legacy_body("pay-bot", "payments.wire", large())).await;
    assert_eq!(legacy_held["permitted"], false, "{legacy_held}");
    for (reply, decision, code) in [
        (&held, "hold", "ACTOR_HELD"),
        (&escalated, "escalate", "ESCALATE_REQUIRED"),
    ] {
        assert_eq!(reply["decision"], decision, "{reply}");
        assert_eq!(reply["denial"]["code"], code, "{reply}");
        assert!(reply.get("permit_token").is_none(), "{reply}");
        let esc = reply["escalation_id"].as_str().expect("an escalation id");
        assert!(
            esc.len() == 36
                && esc.starts_with("esc_")
                && esc[4..].bytes().all(|b| b.is_ascii_hexdigit()),
            "{esc}"
        );
    }
    assert_ne!(held["escalation_id"], escalated["escalation_id"]);

    let denied = evaluate(&server, forced_deploy()).await;
    assert_eq!(denied["decision"], "deny", "{denied}");
    let ids = [
        denied["evaluation_id"].as_str().expect("id").to_owned(),
        held["evaluation_id"].as_str().expect("id").to_owned(),
        escalated["evaluation_id"].as_str().expect("id").to_owned(),
        legacy_held["decision_id"].as_str().expect("id").to_owned(),
    ];
    for id in &ids {
        let current = current_verify(&server, json!({ "permit_token": id })).await;
        assert_has(&current, not_found_verify());
        let legacy = verify(&server, json!({ "decision_id": id })).await;
        assert_eq!(legacy["outcome"], "denied", "{legacy}");
        assert_no_permit_by_id(&server, KEY, id).await;
    }
    let (_, list) = get(&server, "/v1/permits").await;
    assert_eq!(list["total"], 0, "{list}");

    let log = events(&server, KEY).await;
    let hold_event = log
        .iter()
        .find(|e| e["type"] == "evaluate.hold" && e["payload"]["shape"] == "current")
        .expect("an evaluate.hold event");
    assert_eq!(hold_event["decision"], "hold");
    let escalation = &held["escalation_id"];
    let hold = json!({ "escalation_id": escalation, "code": "ACTOR_HELD" });
    assert_has(&hold_event["payload"], hold);
    assert!(log.iter().any(|e| e["type"] == "evaluate.escalate"));
    let (_, result) = common::export_and_verify_with(&server, KEY).await;
    assert!(result.verified(), "{result:?}");
}

#[tokio::test]
async fn the_legacy_evaluate_reply_is_unchanged_but_for_expires_at_on_an_allow() {
    let server = start().await;
    let allowed = evaluate(
        &server,
        legacy_body("deploy-bot", "deploy.production", prod()),
    )
    .await;
    assert_keys(
        &allowed,
        "audit_hash decision_id expires_at permitted reason timestamp",
    );
    let denied = evaluate(&server, legacy_body("intern", "deploy.production", prod())).await;
    assert_keys(&denied, "audit_hash decision_id permitted reason timestamp");
    let log = events(&server, KEY).await;
    assert_eq!(log[0]["payload"]["shape"], "legacy");
    assert_eq!(
        log[0]["payload"]["execution_hash"],
        hash("deploy.production", "deploy-bot", &prod()),
        "every evaluate records the execution hash of the context as sent"
    );
    assert_eq!(log[0]["payload"]["environment"], "production");
}

#[tokio::test]
async fn a_body_mixing_the_shapes_is_refused_naming_a_member_of_each() {
    let server = start().await;
    let cases = [
        (
            "/v1-evaluate",
            json!({ "action": "a", "action_type": "a", "agent": "b", "context": {} }),
            ["`action`", "`action_type`"],
        ),
        (
            "/v1-evaluate",
            json!({ "agent": "b", "actor_id": "b", "context": {} }),
            ["`agent`", "`actor_id`"],
        ),
        (
            "/v1-evaluate",
            json!({ "action_type": "a", "actor_id": "b", "api_key": KEY }),
            ["`api_key`", "`action_type`"],
        ),
        (
            "/v1-verify-permit",
            json!({ "decision_id": "dec_x", "permit_token": "dec_x" }),
            ["`decision_id`", "`permit_token`"],
        ),
        (
            "/v1-verify-permit",
            json!({ "permit_token": "dec_x", "context": {} }),
            ["`context`", "`permit_token`"],
        ),
        (
            "/v1-verify-permit",
            json!({ "decision_id": "dec_x", "execution_hash": "0".repeat(64) }),
            ["`decision_id`", "`execution_hash`"],
        ),
    ];
    for (path, body, names) in cases {
        let (status, reply) = post(&server, path, body.clone()).await;
        let message = reply["message"].as_str().unwrap_or_default();
        assert_eq!(
            (status, &reply["code"]),
            (400, &json!("bad_request")),
            "{body}: {reply}"
        );
        assert!(
            message.contains("mixes the 1.4.1 shape") && names.iter().all(|n| message.contains(n)),
            "{body}: {message}"
        );
    }
    assert!(events(&server, KEY).await.is_empty(), "nothing was decided");
}

#[tokio::test]
async fn a_current_evaluate_checks_every_member_and_refuses_override() {
    let server = start().await;
    let base = || {
        json!({ "action_type": "records.read", "actor_id": "reader", "context": {} })
            .as_object()
            .cloned()
            .expect("object")
    };
    let with = |name: &str, value: Value| {
        let mut m = base();
        m.insert(name.into(), value);
        Value::Object(m)
    };
    let without = |name: &str| {
        let mut m = base();
        m.remove(name);
        Value::Object(m)
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with("override", json!({ "decision": "allow" })),
            "`override` is not supported",
        ),
        (with("extra", json!(1)), "unknown field `extra`"),
        (
            without("action_type"),
            "missing required field `action_type`",
        ),
        (
            with("actor_id", json!("")),
            "`actor_id` must be 1 to 256 characters, got 0",
        ),
        (
            with("action_type", json!(7)),
            "`action_type` must be a string, got a number",
        ),
        (
            with("context", json!([1])),
            "`context` must be a JSON object, got an array",
        ),
        (
            with("amount", json!("5")),
            "`amount` must be a number, got a string",
        ),
        (
            with("require_approval", json!("yes")),
            "`require_approval` must be a boolean, got a string",
        ),
        (
            with("explain", json!(1)),
            "`explain` must be a boolean, got a number",
        ),
        (
            with("approval", json!([])),
            "`approval` must be an object, got an array",
        ),
        (
            with("state_snapshot", json!("s")),
            "`state_snapshot` must be an object, got a string",
        ),
        (
            with("completion_proofs", json!({})),
            "`completion_proofs` must be an array, got an object",
        ),
        (
            with("resource_id", json!("r".repeat(513))),
            "`resource_id` must be at most 512 characters, got 513",
        ),
        (
            with("environment", json!("")),
            "`environment` must be 1 to 256 characters, got 0",
        ),
        (
            with("evaluation_profile", json!(false)),
            "`evaluation_profile` must be a string, got a boolean",
        ),
        // The permit records the context's environment when there is no
        // top-level one: the same bound.
        (
            with("context", json!({ "environment": "e".repeat(257) })),
            "`context.environment` must be at most 256 characters, got 257",
        ),
        (
            json!({ "action": "a", "agent": "b", "context": { "environment": "é".repeat(300) } }),
            "`context.environment` must be at most 256 characters, got 300",
        ),
        (
            json!({ "action": "a", "agent": "b", "context": { "environment": "a\u{0}b" } }),
            "`context.environment` must not contain the character U+0000",
        ),
        (
            json!({ "action_type": "a", "actor_id": "b", "environment": "production",
                    "context": { "environment": "staging" } }),
            "`environment` is given both at the top level and in `context`, with different values",
        ),
        (
            json!({ "action_type": "a", "actor_id": "b", "amount": 5,
                    "context": { "amount": "5" } }),
            "`amount` is given both at the top level and in `context`, with different values",
        ),
    ];
    for (body, expect) in cases {
        let (status, reply) = post(&server, "/v1-evaluate", body.clone()).await;
        assert_eq!(status, 422, "{body}: {reply}");
        assert_eq!(reply["code"], "bad_request");
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(message.contains(expect), "{body}: {message}");
    }
    // At the bound, the context's environment is accepted on both wires.
    for body in [
        json!({ "action_type": "records.read", "actor_id": "reader",
                "context": { "environment": "é".repeat(256) } }),
        json!({ "action": "records.read", "agent": "reader",
                "context": { "environment": "é".repeat(256) } }),
    ] {
        let (status, reply) = post(&server, "/v1-evaluate", body.clone()).await;
        assert_eq!(status, 200, "{body}: {reply}");
    }
    // A repeated member is refused by the strict parser, whatever the shape.
    let repeated = r#"{"action_type":"records.read","actor_id":"a","actor_id":"b"}"#;
    let (status, _, reply) = post_raw(&server, "/v1-evaluate", repeated, None).await;
    assert_refused(&repeated, (status, reply), 400, "repeats a member name");
    assert_eq!(
        events(&server, KEY).await.len(),
        2,
        "only the two at the bound were decided"
    );

    // Every optional member of the right type is accepted (and the context
    // may be left out).
    let every = json!({ "action_type": "records.read", "actor_id": "reader", "resource_id": "r-1",
                "amount": 1.5, "environment": "production", "require_approval": false,
                "explain": true, "approval": {}, "resource": {}, "current_state": {},
                "proposed_state": {}, "execution_binding": {}, "state_snapshot": {},
                "completion_proofs": [], "evaluation_profile": "default" });
    let (status, reply) = post(&server, "/v1-evaluate", every).await;
    assert_allowed(status, &reply);
}

#[tokio::test]
async fn top_level_environment_amount_and_resource_id_reach_the_policies() {
    let server = start().await;
    let refund = |amount: Value, ctx: Value| {
        json!({ "action_type": "orders.refund", "actor_id": "shop-bot", "amount": amount,
                "environment": "production", "resource_id": "order-1", "context": ctx })
    };
    let small = evaluate(&server, refund(json!(50), json!({}))).await;
    assert_eq!(small["decision"], "allow", "{small}");
    let large = evaluate(&server, refund(json!(500), json!({}))).await;
    assert_eq!(large["decision"], "deny", "{large}");
    // The same value both ways is one value (numbers by value).
    let both_ways = refund(
        json!(50),
        json!({ "amount": 50.0, "environment": "production" }),
    );
    let (status, same) = post(&server, "/v1-evaluate", both_ways).await;
    assert_allowed(status, &same);

    // The permit's environment is the top-level one, recorded and checked.
    let permit = token(&small);
    let record = permit_record(&server, &permit).await;
    assert_eq!(record["environment"], "production", "{record}");
    let staging = verify_token(&server, &permit, json!({ "environment": "staging" })).await;
    assert_has(&staging, mismatch("ENVIRONMENT_MISMATCH"));
    // The execution hash covers the merged input, not the bare context.
    let merged = json!({ "amount": 50, "environment": "production", "resource_id": "order-1" });
    let hashed = json!({ "environment": "production",
                         "execution_hash": hash("orders.refund", "shop-bot", &merged) });
    let ok = verify_token(&server, &permit, hashed).await;
    assert_eq!(ok["valid"], true, "{ok}");
}

#[tokio::test]
async fn top_level_members_are_part_of_what_the_permit_is_bound_to() {
    let server = start().await;
    let bare = json!({ "order": "o-1" });
    let merged = json!({ "order": "o-1", "amount": 50, "environment": "production",
                         "resource_id": "order-1" });
    let evaluate = || async {
        let body = json!({ "action_type": "orders.refund", "actor_id": "shop-bot", "amount": 50,
                           "environment": "production", "resource_id": "order-1",
                           "context": bare });
        let (status, reply) = post(&server, "/v1-evaluate", body).await;
        assert_allowed(status, &reply);
        token(&reply)
    };

    // Current verify: the execution hash over the bare context is not the
    // one approved; over the context with the top-level members it is.
    let permit = evaluate().await;
    let record = permit_record(&server, &permit).await;
    let merged_hash = hash("orders.refund", "shop-bot", &merged);
    assert_eq!(record["payload_hash"], merged_hash, "{record}");
    let bare_hash = hash("orders.refund", "shop-bot", &bare);
    let wrong = verify_token(&server, &permit, json!({ "execution_hash": bare_hash })).await;
    assert_has(&wrong, mismatch("EXECUTION_HASH_MISMATCH"));
    let right = verify_token(&server, &permit, json!({ "execution_hash": merged_hash })).await;
    assert_eq!(right["valid"], true, "{right}");

    // Legacy verify: the context cross-check reads the merged context too.
    let permit = evaluate().await;
    let legacy = |ctx: &Value| {
        json!({ "decision_id": permit, "agent": "shop-bot", "action": "orders.refund",
                "context": ctx })
    };
    let wrong = verify(&server, legacy(&bare)).await;
    assert_has(&wrong, json!({ "verified": false, "outcome": "mismatch" }));
    let right = verify(&server, legacy(&merged)).await;
    assert_has(&right, json!({ "verified": true, "outcome": "verified" }));

    // The audit event tells what was approved.
    let logged = events(&server, KEY)
        .await
        .into_iter()
        .find(|e| e["type"] == "evaluate.allow" && e["payload"]["decision_id"] == permit)
        .expect("the evaluate event");
    let payload = &logged["payload"];
    let top_level = json!({ "amount": 50, "environment": "production", "resource_id": "order-1" });
    assert_eq!(payload["top_level"], top_level, "{payload}");
    let approved = json!({ "environment": "production", "execution_hash": merged_hash });
    assert_has(payload, approved);
}

#[tokio::test]
async fn require_approval_turns_an_allow_into_a_deny_with_insufficient_approvals() {
    let server = start().await;
    let mut deploy = current_body("deploy-bot", "deploy.production", prod());
    deploy["require_approval"] = json!(true);
    let reply = evaluate(&server, deploy).await;
    let reason = "approval required, and this server has no approval workflow";
    let denial = json!({ "code": "INSUFFICIENT_APPROVALS", "reason": reason });
    assert_has(&reply, json!({ "decision": "deny", "denial": denial }));
    assert!(reply.get("permit_token").is_none());
    // A refusal stays what it was: its own code, not the approval's.
    let mut wire = current_body("pay-bot", "payments.wire", json!({ "amount_usd": 50000 }));
    wire["require_approval"] = json!(true);
    let held = evaluate(&server, wire).await;
    assert_eq!(held["denial"]["code"], "ACTOR_HELD", "{held}");
}

/// CPython's `execution_hash` (2.18's `_compute_execution_hash`) of a
/// context given as JSON text, as Python's `json` reads it.
fn python_execution_hash(action: &str, agent: &str, context_json: &str) -> String {
    const SCRIPT: &str = r#"
import hashlib, json, sys
def sort_deep(obj):
    if isinstance(obj, dict):
        return {k: sort_deep(v) for k, v in sorted(obj.items())}
    if isinstance(obj, list):
        return [sort_deep(i) for i in obj]
    return obj
payload = {"action_type": sys.argv[1], "actor_id": sys.argv[2], "context": json.loads(sys.argv[3])}
text = json.dumps(sort_deep(payload), separators=(",", ":"), ensure_ascii=False)
print(hashlib.sha256(text.encode()).hexdigest())
"#;
    let mut python = std::process::Command::new("python3");
    python.args(["-c", SCRIPT, action, agent, context_json]);
    common::stdout_of(&mut python).trim().to_owned()
}

#[tokio::test]
async fn a_number_is_read_as_the_nearest_double_so_a_hold_over_100_wins() {
    let policy = Policy::from_value(&json!({
        "policy_id": "numbers", "version": "1.0.0", "default": "deny",
        "rules": [
            { "id": "allow_up_to_100", "effect": "allow",
              "match": { "action": "budget.spend", "context": { "amount": { "lte": 100 } } } },
            { "id": "hold_over_100", "effect": "hold",
              "match": { "action": "budget.spend", "context": { "amount": { "gt": 100 } } } }
        ]
    }))
    .expect("a valid policy");
    let server = start_bare(|b| b.policy(policy).api_key(KEY)).await;
    // The nearest double to 100.00000000000001 is 100 + 2^-46 (what Python
    // and JavaScript read), not 100.
    let current = r#"{"action_type":"budget.spend","actor_id":"bot","context":{"amount":100.00000000000001}}"#;
    let (status, _, reply) = post_raw(&server, "/v1-evaluate", current, None).await;
    assert_eq!(status, 200, "{reply}");
    assert_has(
        &reply,
        json!({ "decision": "hold", "denial": { "code": "ACTOR_HELD" } }),
    );
    let legacy =
        r#"{"action":"budget.spend","agent":"bot","context":{"amount":100.00000000000001}}"#;
    let (status, _, reply) = post_raw(&server, "/v1-evaluate", legacy, None).await;
    assert_eq!(status, 200, "{reply}");
    assert_has(&reply, json!({ "permitted": false }));
    // Exactly 100 is still allowed.
    let exact = r#"{"action_type":"budget.spend","actor_id":"bot","context":{"amount":100.0}}"#;
    let (_, _, reply) = post_raw(&server, "/v1-evaluate", exact, None).await;
    assert_eq!(reply["decision"], "allow", "{reply}");
}

#[tokio::test]
async fn the_stored_execution_hash_of_any_double_is_the_one_python_computes() {
    let server = start().await;
    for number in [
        "12345678901234567.0",
        "99.99999999999999",
        "9.38081300588199e-14",
        "100.00000000000001",
        "0.30000000000000004",
        "5e-324",
        "1.7976931348623157e308",
        "-2.2250738585072014e-308",
    ] {
        let context = format!(r#"{{"x":{number},"nested":[{number},{{"y":{number}}}]}}"#);
        let body =
            format!(r#"{{"action_type":"records.read","actor_id":"reader","context":{context}}}"#);
        let (status, _, reply) = post_raw(&server, "/v1-evaluate", &body, None).await;
        assert_allowed(status, &reply);
        let record = permit_record(&server, &token(&reply)).await;
        let python = python_execution_hash("records.read", "reader", &context);
        assert_eq!(record["payload_hash"], python, "{number}");
    }
}

// ---------------------------------------------------------------- verify

#[tokio::test]
async fn a_permit_from_either_shape_verifies_through_the_other_once() {
    let server = start().await;
    // Current evaluate, 1.4.1 verify (with the context cross-check).
    let current = deploy_permit(&server).await;
    let mut cross_checked = legacy_body("deploy-bot", "deploy.production", prod());
    cross_checked["decision_id"] = json!(current);
    let legacy = verify(&server, cross_checked).await;
    assert_has(&legacy, json!({ "verified": true, "outcome": "verified" }));
    assert!(!legacy["permit_hash"].as_str().expect("hash").is_empty());

    // 1.4.1 evaluate, current verify (with environment and execution hash).
    let issued = evaluate(
        &server,
        legacy_body("deploy-bot", "deploy.production", prod()),
    )
    .await;
    let old = issued["decision_id"].as_str().expect("id").to_owned();
    let body = json!({ "permit_token": old, "action_type": "deploy.production",
                       "actor_id": "deploy-bot", "environment": "production",
                       "execution_hash": hash("deploy.production", "deploy-bot", &prod()) });
    let first = current_verify(&server, body.clone()).await;
    assert_keys(&first, "audit_hash consumed expires_at outcome permit_hash permit_token reason request_id timestamp valid");
    let expires = &issued["expires_at"];
    let verified = json!({ "valid": true, "outcome": "verified", "consumed": true,
                           "permit_token": old, "expires_at": expires });
    assert_has(&first, verified);
    assert!(!first["permit_hash"].as_str().expect("hash").is_empty());

    // Used once is used everywhere.
    let again = current_verify(&server, body).await;
    let consumed = json!({ "valid": false, "outcome": "permit_consumed",
                           "verify_error_code": "PERMIT_CONSUMED", "consumed": false,
                           "permit_hash": "" });
    assert_has(&again, consumed);
    let legacy_again = verify(&server, json!({ "decision_id": current })).await;
    assert_eq!(legacy_again["outcome"], "consumed");
}

#[tokio::test]
async fn current_verify_outcomes_name_each_failure_and_a_mismatch_leaves_the_permit_usable() {
    let (clock, server) = start_at_t0().await;
    let permit = deploy_permit(&server).await;
    let right = hash("deploy.production", "deploy-bot", &prod());
    let wrong = json!({ "environment": "production" });
    let wrong = hash("deploy.production", "deploy-bot", &wrong);
    let p = permit.as_str();
    let cases = [
        (
            "dec_nope",
            json!({}),
            "permit_not_found",
            "PERMIT_NOT_FOUND",
        ),
        (
            p,
            json!({ "actor_id": "intruder" }),
            "permit_mismatch",
            "ACTOR_MISMATCH",
        ),
        (
            p,
            json!({ "action_type": "deploy.staging" }),
            "permit_mismatch",
            "ACTION_MISMATCH",
        ),
        (
            p,
            json!({ "environment": "staging" }),
            "permit_mismatch",
            "ENVIRONMENT_MISMATCH",
        ),
        (
            p,
            json!({ "execution_hash": wrong }),
            "permit_mismatch",
            "EXECUTION_HASH_MISMATCH",
        ),
    ];
    for (id, extra, outcome, code) in cases {
        let reply = verify_token(&server, id, extra.clone()).await;
        let refused = json!({ "valid": false, "outcome": outcome, "verify_error_code": code,
                              "consumed": false, "permit_hash": "", "permit_token": id });
        assert_has_in(&format!("{id} {extra}"), &reply, refused);
        assert!(!reply["reason"].as_str().expect("a reason").is_empty());
    }
    // None of those used it.
    let all_right = json!({ "actor_id": "deploy-bot", "action_type": "",
                            "environment": "production", "execution_hash": right });
    let ok = verify_token(&server, &permit, all_right).await;
    assert_eq!(ok["valid"], true, "{ok}");
    assert!(ok.get("verify_error_code").is_none(), "{ok}");

    // Revoked, then expired.
    let revoked = deploy_permit(&server).await;
    let (status, _) = permit_post(&server, &revoked, "revoke", json!({})).await;
    assert_eq!(status, 200);
    let reply = current_verify(&server, json!({ "permit_token": revoked })).await;
    let code = json!({ "outcome": "permit_revoked", "verify_error_code": "PERMIT_REVOKED" });
    assert_has(&reply, code);
    let expiring = deploy_permit(&server).await;
    clock.advance(3_600_001);
    let reply = current_verify(&server, json!({ "permit_token": expiring })).await;
    let code = json!({ "outcome": "permit_expired", "verify_error_code": "PERMIT_EXPIRED" });
    assert_has(&reply, code);
    let legacy = verify(&server, json!({ "decision_id": expiring })).await;
    assert_eq!(legacy["outcome"], "expired");
}

#[tokio::test]
async fn a_permit_issued_without_an_environment_mismatches_any_environment() {
    let server = start().await;
    let reply = allow_as(&server, KEY, "reader", "records.read", json!({})).await;
    let permit = token(&reply);
    let production = json!({ "environment": "production" });
    let reply = verify_token(&server, &permit, production).await;
    assert_has(&reply, mismatch("ENVIRONMENT_MISMATCH"));
}

#[tokio::test]
async fn require_approval_at_verify_burns_the_permit_and_is_not_valid() {
    let server = start().await;
    let permit = deploy_permit(&server).await;
    let reply = verify_token(&server, &permit, json!({ "require_approval": true })).await;
    let burnt = json!({ "valid": false, "outcome": "approval_missing",
                        "verify_error_code": "APPROVAL_LINKAGE_MISSING", "consumed": true });
    assert_has(&reply, burnt);
    let again = current_verify(&server, json!({ "permit_token": permit })).await;
    assert_eq!(again["verify_error_code"], "PERMIT_CONSUMED", "{again}");
    let record = permit_record(&server, &permit).await;
    assert_eq!(record["status"], "consumed", "{record}");
}

#[tokio::test]
async fn a_malformed_execution_hash_or_verify_member_is_refused() {
    let server = start().await;
    let permit = deploy_permit(&server).await;
    let good = hash("deploy.production", "deploy-bot", &prod());
    let cases: Vec<(Value, &str)> = vec![
        (
            json!(good.to_uppercase()),
            "`execution_hash` must be a SHA-256 as 64 lowercase hexadecimal digits",
        ),
        (json!(&good[..63]), "`execution_hash` must be a SHA-256"),
        (json!(format!("{good}0")), "`execution_hash` must be"),
        (
            json!(format!("{}g", &good[..63])),
            "`execution_hash` must be a SHA-256",
        ),
        (json!(""), "`execution_hash` must be a SHA-256"),
        (json!(12), "`execution_hash` must be a string, got a number"),
    ];
    for (value, expect) in cases {
        assert_refused(
            &value,
            post(
                &server,
                "/v1-verify-permit",
                json!({ "permit_token": permit, "execution_hash": value }),
            )
            .await,
            422,
            expect,
        );
    }
    for (body, expect) in [
        (
            json!({ "permit_token": permit, "extra": 1 }),
            "unknown field `extra`",
        ),
        (
            json!({ "permit_token": 5 }),
            "`permit_token` must be a string",
        ),
        (
            json!({ "action_type": "x" }),
            "missing required field `permit_token`",
        ),
        (
            json!({ "permit_token": permit, "require_approval": "no" }),
            "`require_approval` must be a boolean",
        ),
        (
            json!({ "permit_token": permit, "environment": 1 }),
            "`environment` must be a string",
        ),
    ] {
        let reply = post(&server, "/v1-verify-permit", body.clone()).await;
        assert_refused(&body, reply, 422, expect);
    }
    // Nothing above touched the permit.
    let ok = current_verify(
        &server,
        json!({ "permit_token": permit, "execution_hash": good }),
    )
    .await;
    assert_eq!(ok["valid"], true, "{ok}");
}

// ---------------------------------------------------------------- permits by id

#[tokio::test]
async fn a_permit_record_tells_its_status_through_its_life() {
    let (clock, server) = start_at_t0().await;
    let key_id = {
        let (_, me) = get(&server, "/v1-api-key-self").await;
        me["key_id"].as_str().expect("key id").to_owned()
    };
    let permit = deploy_permit(&server).await;
    let (status, record) = get(&server, &format!("/v1/permits/{permit}")).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(
        keys(&record),
        [
            "action_id",
            "actor_id",
            "consumed_at",
            "decision_id",
            "environment",
            "expires_at",
            "id",
            "issued_at",
            "org_id",
            "payload_hash",
            "revoke_reason",
            "revoked_at",
            "revoked_by",
            "signature",
            "status",
            "verified_at"
        ]
    );
    assert_eq!(record["id"], permit);
    assert_eq!(record["decision_id"], permit);
    assert_eq!(record["org_id"], "local");
    assert_eq!(record["actor_id"], "deploy-bot");
    assert_eq!(record["action_id"], "deploy.production");
    assert_eq!(record["environment"], "production");
    assert_eq!(record["status"], "issued");
    assert_eq!(record["issued_at"], "2026-01-01T00:00:00.000Z");
    assert_eq!(record["expires_at"], "2026-01-01T01:00:00.000Z");
    assert_eq!(
        record["payload_hash"],
        hash("deploy.production", "deploy-bot", &prod())
    );
    for member in [
        "consumed_at",
        "verified_at",
        "revoked_at",
        "revoked_by",
        "revoke_reason",
    ] {
        assert_eq!(record[member], Value::Null, "{member}");
    }

    // Through /v1-verify-permit: consumed, with the time.
    clock.advance(1000);
    let ok = current_verify(&server, json!({ "permit_token": permit })).await;
    assert_eq!(ok["valid"], true);
    assert_eq!(ok["permit_hash"], record["signature"]);
    let record = permit_record(&server, &permit).await;
    assert_has(
        &record,
        json!({ "status": "consumed", "consumed_at": "2026-01-01T00:00:01.000Z", "verified_at": null }),
    );

    // Through /v1/permits/{id}/verify: verified.
    let other = deploy_permit(&server).await;
    let (status, by_id) = permit_post(&server, &other, "verify", json!({})).await;
    assert_eq!(status, 200, "{by_id}");
    let record = permit_record(&server, &other).await;
    assert_has(
        &record,
        json!({ "status": "verified", "verified_at": "2026-01-01T00:00:01.000Z", "consumed_at": null }),
    );

    // Revoked, with who and why.
    let third = deploy_permit(&server).await;
    let (status, revoked) = permit_post(
        &server,
        &third,
        "revoke",
        json!({ "reason": "operator pulled it" }),
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revoked_by"], key_id);
    assert_eq!(revoked["revoke_reason"], "operator pulled it");
    assert_eq!(revoked["revoked_at"], "2026-01-01T00:00:01.000Z");
    let record = permit_record(&server, &third).await;
    assert_eq!(record, revoked);

    // Unused past its expiry: expired.
    let fourth = deploy_permit(&server).await;
    clock.advance(3_600_001);
    let record = permit_record(&server, &fourth).await;
    assert_eq!(record["status"], "expired", "{record}");
    // A used permit stays what it was after the expiry.
    let record = permit_record(&server, &permit).await;
    assert_eq!(record["status"], "consumed");
}

#[tokio::test]
async fn verify_by_id_is_valid_once_and_a_permit_is_used_once_through_any_door() {
    let (clock, server) = start_at_t0().await;
    let permit = deploy_permit(&server).await;
    // An empty body is a `{}`.
    let (status, _, first) = send(
        &server,
        KEY,
        "POST",
        &format!("/v1/permits/{permit}/verify"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["valid"], true, "{first}");
    assert_eq!(first["verification_type"], "permit");
    assert_eq!(first["status"], "verified");
    assert_eq!(first["verified_at"], "2026-01-01T00:00:00.000Z");
    assert!(!first["reason"].as_str().expect("reason").is_empty());
    assert_eq!(
        first["evidence"],
        json!({ "permit_id": permit, "status": "verified", "actor_id": "deploy-bot",
                "action_id": "deploy.production", "expires_at": "2026-01-01T01:00:00.000Z",
                "payload_hash": hash("deploy.production", "deploy-bot", &prod()),
                "decision_id": permit }),
    );
    let (_, second) = permit_post(&server, &permit, "verify", json!({})).await;
    assert_has(&second, json!({ "valid": false, "status": "verified" }));
    let through_verify = current_verify(&server, json!({ "permit_token": permit })).await;
    assert_eq!(through_verify["outcome"], "permit_consumed");

    // And the other way round.
    let other = deploy_permit(&server).await;
    assert_eq!(
        current_verify(&server, json!({ "permit_token": other })).await["valid"],
        true
    );
    let (_, by_id) = permit_post(&server, &other, "verify", json!({})).await;
    assert_has(&by_id, json!({ "valid": false, "status": "consumed" }));

    // Expired and revoked permits are not valid by id either.
    let revoked = deploy_permit(&server).await;
    permit_post(&server, &revoked, "revoke", json!({})).await;
    let (_, reply) = permit_post(&server, &revoked, "verify", json!({})).await;
    assert_has(&reply, json!({ "valid": false, "status": "revoked" }));
    let expiring = deploy_permit(&server).await;
    clock.advance(3_600_001);
    let (_, reply) = permit_post(&server, &expiring, "verify", json!({})).await;
    assert_has(&reply, json!({ "valid": false, "status": "expired" }));

    let log = events(&server, KEY).await;
    let by_id_events: Vec<&Value> = log
        .iter()
        .filter(|e| e["payload"]["via"] == "by_id" && e["type"] != "permit.revoked")
        .collect();
    let kinds: Vec<&str> = by_id_events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "permit.verified",
            "permit.rejected",
            "permit.rejected",
            "permit.rejected",
            "permit.rejected"
        ]
    );
    let (_, result) = common::export_and_verify_with(&server, KEY).await;
    assert!(result.verified(), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verify_by_id_racing_a_verify_permit_has_exactly_one_winner() {
    let server = start().await;
    for round in 0..24 {
        let permit = deploy_permit(&server).await;
        let by_id_path = format!("/v1/permits/{permit}/verify");
        let by_id = post(&server, &by_id_path, json!({}));
        let current = post(
            &server,
            "/v1-verify-permit",
            json!({ "permit_token": permit }),
        );
        let legacy = post(
            &server,
            "/v1-verify-permit",
            json!({ "decision_id": permit }),
        );
        let (a, b, c) = tokio::join!(by_id, current, legacy);
        let wins = [
            a.1["valid"] == true,
            b.1["valid"] == true,
            c.1["verified"] == true,
        ];
        assert_eq!(
            wins.iter().filter(|w| **w).count(),
            1,
            "round {round}: {} {} {}",
            a.1,
            b.1,
            c.1
        );
        let record = permit_record(&server, &permit).await;
        let expect = if wins[0] { "verified" } else { "consumed" };
        assert_eq!(record["status"], expect, "round {round}");
    }
}

#[tokio::test]
async fn revoke_by_id_is_idempotent_and_refuses_a_used_permit() {
    let server = start().await;
    let permit = deploy_permit(&server).await;
    let path = format!("/v1/permits/{permit}/revoke");
    let (status, first) = post(&server, &path, json!({ "reason": "r1" })).await;
    assert_eq!(
        (status, &first["status"]),
        (200, &json!("revoked")),
        "{first}"
    );
    let (status, second) = post(&server, &path, json!({ "reason": "r2" })).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second, first, "a second revoke changes nothing");

    let used = deploy_permit(&server).await;
    current_verify(&server, json!({ "permit_token": used })).await;
    let (status, reply) = permit_post(&server, &used, "revoke", json!({})).await;
    assert_eq!(
        (status, &reply["code"]),
        (409, &json!("permit_consumed")),
        "{reply}"
    );
    let record = permit_record(&server, &used).await;
    assert_eq!(record["status"], "consumed");

    for (body, expect) in [
        (json!({ "reason": 5 }), "`reason` must be a string"),
        (
            json!({ "reason": "x".repeat(1025) }),
            "`reason` must be at most 1024 characters",
        ),
        (json!({ "why": "x" }), "unknown field `why`"),
    ] {
        let reply = post(&server, &path, body.clone()).await;
        assert_refused(&body, reply, 422, expect);
    }
    let (status, reply) = post(&server, "/v1/permits/dec_unknown/revoke", json!({})).await;
    assert_eq!(
        (status, &reply["message"]),
        (404, &json!("permit not found")),
        "{reply}"
    );

    let revocations = events(&server, KEY)
        .await
        .into_iter()
        .filter(|e| e["type"] == "permit.revoked")
        .count();
    assert_eq!(revocations, 2, "each 200 is logged, a refusal is not");
}

async fn two_orgs() -> RunningServer {
    start_bare(|b| {
        b.policy(policy())
            .org_api_key("acme", ACME)
            .org_api_key("globex", GLOBEX)
    })
    .await
}

#[tokio::test]
async fn another_organizations_permit_is_not_found_on_every_permit_endpoint() {
    let server = two_orgs().await;
    let acme = token(&allow_as(&server, ACME, "deploy-bot", "deploy.production", prod()).await);
    let acme_events = events(&server, ACME).await.len();
    let unknown = "dec_00000000000000000000000000000000";
    for id in [acme.as_str(), unknown] {
        let (status, reply) = get_as(&server, GLOBEX, &format!("/v1/permits/{id}")).await;
        assert_eq!(
            (status, &reply["code"], &reply["message"]),
            (404, &json!("permit_not_found"), &json!("permit not found"))
        );
        for action in ["verify", "revoke"] {
            let (status, reply) = post_as(
                &server,
                GLOBEX,
                &format!("/v1/permits/{id}/{action}"),
                json!({}),
            )
            .await;
            assert_eq!(
                (status, &reply["code"]),
                (404, &json!("permit_not_found")),
                "{id} {action}: {reply}"
            );
        }
        let (_, reply) = post_as(
            &server,
            GLOBEX,
            "/v1-verify-permit",
            json!({ "permit_token": id }),
        )
        .await;
        assert_eq!(reply["verify_error_code"], "PERMIT_NOT_FOUND", "{reply}");
        assert_eq!(
            reply["expires_at"],
            Value::Null,
            "nothing about the permit leaks"
        );
    }
    let (_, list) = get_as(&server, GLOBEX, "/v1/permits").await;
    assert_eq!(list["total"], 0, "{list}");
    // The by-id refusals left no event in either chain; acme's is untouched.
    let globex_log = events(&server, GLOBEX).await;
    assert!(
        globex_log.iter().all(|e| e["payload"]["via"] != "by_id"),
        "{globex_log:?}"
    );
    assert_eq!(events(&server, ACME).await.len(), acme_events);
    // And the permit is intact for its owner.
    let (_, record) = get_as(&server, ACME, &format!("/v1/permits/{acme}")).await;
    assert_eq!(record["status"], "issued", "{record}");
}

#[tokio::test]
async fn a_forged_cursor_reads_only_the_callers_own_permits() {
    let server = two_orgs().await;
    let acme = token(&allow_as(&server, ACME, "deploy-bot", "deploy.production", prod()).await);
    let globex = token(&allow_as(&server, GLOBEX, "deploy-bot", "deploy.production", prod()).await);
    let b64 = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    // Positioned just after acme's permit, and at the end of time.
    for cursor in [
        b64(format!("{}:{acme}", i64::MAX)),
        b64(format!("{}:dec_zzzz", 9_999_999_999_999i64)),
    ] {
        let (status, page) = get_as(&server, GLOBEX, &format!("/v1/permits?cursor={cursor}")).await;
        assert_eq!(status, 200, "{page}");
        let ids: Vec<&str> = page["permits"]
            .as_array()
            .expect("permits")
            .iter()
            .map(|p| p["id"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(ids, [globex.as_str()], "{page}");
    }
}

#[tokio::test]
async fn listing_filters_pages_newest_first_and_counts_every_match() {
    let (clock, server) = start_at_t0().await;
    let mut issued = Vec::new();
    for i in 0..5 {
        let agent = if i % 2 == 0 { "reader-a" } else { "reader-b" };
        issued.push(token(
            &allow_as(&server, KEY, agent, "records.read", json!({})).await,
        ));
        clock.advance(1000);
    }
    // Two in the same millisecond: the id breaks the tie, no permit is lost.
    issued.push(deploy_permit(&server).await);
    issued.push(deploy_permit(&server).await);
    // A deny is not a permit.
    post(
        &server,
        "/v1-evaluate",
        json!({ "action_type": "x.y", "actor_id": "z" }),
    )
    .await;

    let seen: Vec<(String, String)> =
        common::all_pages(&server, KEY, "/v1/permits?limit=2", "permits", 7)
            .await
            .iter()
            .map(|p| {
                (
                    p["issued_at"].as_str().expect("t").to_owned(),
                    p["id"].as_str().expect("id").to_owned(),
                )
            })
            .collect();
    assert_eq!(seen.len(), 7, "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");
    let mut ids: Vec<String> = seen.into_iter().map(|(_, id)| id).collect();
    ids.sort();
    issued.sort();
    assert_eq!(ids, issued);

    let count = |q: &'static str| {
        let server = &server;
        async move {
            let (status, page) = get(server, &format!("/v1/permits?{q}")).await;
            assert_eq!(status, 200, "{q}: {page}");
            assert_eq!(
                page["total"].as_u64().expect("total") as usize,
                page["permits"].as_array().expect("permits").len()
            );
            page["total"].as_u64().expect("total")
        }
    };
    assert_eq!(count("actor_id=reader-a").await, 3);
    assert_eq!(count("action_type=deploy.production").await, 2);
    assert_eq!(
        count("from=2026-01-01T00:00:01.000Z&to=2026-01-01T00:00:03.000Z").await,
        3
    );
    assert_eq!(count("status=issued").await, 7);
    current_verify(&server, json!({ "permit_token": issued[0] })).await;
    permit_post(&server, &issued[1], "verify", json!({})).await;
    permit_post(&server, &issued[2], "revoke", json!({})).await;
    assert_eq!(count("status=consumed").await, 1);
    assert_eq!(count("status=verified").await, 1);
    assert_eq!(count("status=revoked").await, 1);
    assert_eq!(count("status=issued").await, 4);
    clock.advance(3_600_001);
    assert_eq!(count("status=expired").await, 4);
    assert_eq!(count("status=issued").await, 0);
    assert_eq!(count("status=").await, 7, "an empty filter is no filter");
}

#[tokio::test]
async fn listing_parameters_out_of_range_are_refused_naming_them() {
    let server = start().await;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let cases = [
        (
            "limit=0".to_owned(),
            "`limit` must be an integer from 1 to 200, got \"0\"",
        ),
        (
            "limit=201".to_owned(),
            "`limit` must be an integer from 1 to 200",
        ),
        (
            "limit=99999999999999999999".to_owned(),
            "`limit` must be an integer from 1 to 200",
        ),
        ("limit=-1".to_owned(), "`limit` must be an integer"),
        ("limit=ten".to_owned(), "`limit` must be an integer"),
        ("limit=".to_owned(), "`limit` must be an integer"),
        (
            "status=used".to_owned(),
            "`status` must be one of issued, verified, consumed, expired, revoked",
        ),
        (
            "from=yesterday".to_owned(),
            "`from` must be an RFC 3339 timestamp",
        ),
        (
            "to=2026-13-01T00:00:00Z".to_owned(),
            "`to` must be an RFC 3339 timestamp",
        ),
        (
            "cursor=garbage!".to_owned(),
            "is not a cursor this server issued",
        ),
        (
            format!("cursor={}", b64("12:dec_x' OR 1=1 --")),
            "is not a cursor this server issued",
        ),
        (
            format!("cursor={}", b64("-5:dec_x")),
            "is not a cursor this server issued",
        ),
        (
            format!("cursor={}", b64("5")),
            "is not a cursor this server issued",
        ),
        (
            format!("cursor={}", "A".repeat(5000)),
            "is not a cursor this server issued",
        ),
        ("sort=asc".to_owned(), "unknown query parameter `sort`"),
        (
            "limit=5&limit=6".to_owned(),
            "query parameter `limit` is given twice",
        ),
    ];
    for (query, expect) in cases {
        let reply = get(&server, &format!("/v1/permits?{query}")).await;
        assert_refused(&query, reply, 422, expect);
    }
}

#[tokio::test]
async fn a_reused_request_id_on_the_permit_posts_replays_the_same_request_only() {
    let server = start().await;
    let a = deploy_permit(&server).await;
    let b = deploy_permit(&server).await;
    let verify_a = format!("/v1/permits/{a}/verify");
    let (s1, _, first) = post_raw(&server, &verify_a, "{}", Some("rid-v")).await;
    let (s2, _, again) = post_raw(&server, &verify_a, "{}", Some("rid-v")).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first["valid"], true);
    assert_eq!(
        again, first,
        "a retry gets the first answer, not a second verify"
    );
    // The same id for another permit is another request: refused.
    let verify_b = format!("/v1/permits/{b}/verify");
    let (status, _, reply) = post_raw(&server, &verify_b, "{}", Some("rid-v")).await;
    assert_eq!(status, 409, "{reply}");
    let record = permit_record(&server, &b).await;
    assert_eq!(record["status"], "issued", "nothing was decided for b");

    let revoke_b = format!("/v1/permits/{b}/revoke");
    let (s1, _, _) = post_raw(&server, &revoke_b, r#"{"reason":"one"}"#, Some("rid-r")).await;
    let (s2, _, reply) = post_raw(&server, &revoke_b, r#"{"reason":"two"}"#, Some("rid-r")).await;
    assert_eq!((s1, s2), (200, 409), "{reply}");
    let record = permit_record(&server, &b).await;
    assert_eq!(record["revoke_reason"], "one");

    let verified = events(&server, KEY)
        .await
        .into_iter()
        .filter(|e| e["payload"]["request_id"] == "rid-v")
        .count();
    assert_eq!(verified, 1, "the retry appended no second event");
}

#[tokio::test]
async fn the_permit_endpoints_are_rate_limited_like_the_others() {
    let server = start_with(|b| b.rate_limit_per_minute(1)).await;
    let paths = [
        ("GET", "/v1/permits"),
        ("GET", "/v1/permits/dec_x"),
        ("POST", "/v1/permits/dec_x/verify"),
        ("POST", "/v1/permits/dec_x/revoke"),
    ];
    for (method, path) in paths {
        // One request a minute: of three in a row, at least two fall in one
        // minute, whenever the minute turns.
        let mut refused = None;
        for _ in 0..3 {
            let (status, headers, reply) = send(&server, KEY, method, path, Some("{}"), None).await;
            if status == 429 {
                refused = Some((headers, reply));
                break;
            }
        }
        let (headers, reply) =
            refused.unwrap_or_else(|| panic!("{method} {path} was never limited"));
        assert_eq!(reply["code"], "rate_limited", "{reply}");
        common::retry_after_secs(&headers);
    }
}

#[tokio::test]
async fn reading_permits_needs_the_verify_scope_an_auditor_gets_403_on_every_permit_endpoint() {
    // A permit id is a bearer token for the verify endpoints: a key that may
    // not verify must not be able to list live ones either.
    let dir = scratch("scopes");
    let keys_file = dir.join("keys.json");
    std::fs::write(
        &keys_file,
        json!({ "keys": [
            { "key": ACME, "org": "acme" },
            { "key": "ask_test_verifier", "org": "acme", "scopes": ["verify"] },
            { "key": "ask_test_auditor", "org": "acme", "scopes": ["audit.read", "audit.export"] },
        ] })
        .to_string(),
    )
    .expect("keys file");
    let with_keys = |b: ServerBuilder| b.keys_file(&keys_file).allow_insecure_key_file(true);
    let server = start_bare(|b| with_keys(b.policy(policy()))).await;
    let reply = allow_as(&server, ACME, "deploy-bot", "deploy.production", prod()).await;
    let permit = token(&reply);

    let (status, page) = get_as(&server, "ask_test_verifier", "/v1/permits").await;
    assert_eq!((status, &page["total"]), (200, &json!(1)), "{page}");
    let (status, record) = get_as(
        &server,
        "ask_test_verifier",
        &format!("/v1/permits/{permit}"),
    )
    .await;
    assert_eq!((status, &record["id"]), (200, &json!(permit)), "{record}");

    for (method, path) in [
        ("GET", "/v1/permits".to_owned()),
        ("GET", format!("/v1/permits/{permit}")),
        ("POST", format!("/v1/permits/{permit}/verify")),
        ("POST", format!("/v1/permits/{permit}/revoke")),
    ] {
        let (status, _, reply) =
            send(&server, "ask_test_auditor", method, &path, Some("{}"), None).await;
        assert_eq!(status, 403, "{method} {path}: {reply}");
        assert!(
            !reply.to_string().contains(&permit),
            "{method} {path} leaked the id: {reply}"
        );
    }
    // The auditor still reads the audit log.
    let (status, _) = get_as(&server, "ask_test_auditor", "/v1-audit/events").await;
    assert_eq!(status, 200);
    // The permit is untouched and still verifies once.
    let (status, record) = get_as(&server, ACME, &format!("/v1/permits/{permit}")).await;
    assert_eq!(
        (status, &record["status"]),
        (200, &json!("issued")),
        "{record}"
    );
    let (status, _) = get_as(&server, "ask_test_wrong", "/v1/permits").await;
    assert_eq!(status, 401);
}

// ---------------------------------------------------------------- key_self

#[tokio::test]
async fn key_self_sends_org_id_and_the_environment_of_the_key_prefix() {
    let keys = ["ask_live_abc", "ask_test_abc", "local_key"];
    let server = start_bare(|b| {
        keys.iter()
            .fold(b.policy(policy()), |b, k| b.org_api_key("acme", *k))
    })
    .await;
    for (key, env) in [
        ("ask_live_abc", "live"),
        ("ask_test_abc", "test"),
        ("local_key", "local"),
    ] {
        let (status, me) = get_as(&server, key, "/v1-api-key-self").await;
        assert_eq!(status, 200, "{me}");
        assert_has(&me, json!({ "org_id": "acme", "organization_id": "acme" }));
        assert_eq!(me["environment"], env, "{key}");
    }
}

// ---------------------------------------------------------------- schema

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("current-shape", name)
}

/// A database file with one used and one usable permit (and a deny),
/// written by this build; returns the usable permit's id.
async fn populate(db: &std::path::Path, key_file: &std::path::Path) -> String {
    let server = start_on_file(db, key_file).await;
    let used = deploy_permit(&server).await;
    current_verify(&server, json!({ "permit_token": used })).await;
    post(
        &server,
        "/v1-evaluate",
        json!({ "action": "x", "agent": "y", "context": {} }),
    )
    .await;
    let issued = evaluate(
        &server,
        json!({ "action": "deploy.production", "agent": "deploy-bot", "context": prod() }),
    )
    .await;
    server.shutdown().await.expect("shutdown");
    issued["decision_id"].as_str().expect("id").to_owned()
}

/// Take a schema-4 file back to schema 3, as an earlier build wrote it:
/// events store their id, resource type and previous hash; stored replies
/// are a rowid table.
fn downgrade_to_3(db: &std::path::Path) {
    rows_as_text(db);
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.execute_batch(&format!(
        "BEGIN;
         ALTER TABLE events ADD COLUMN id TEXT;
         ALTER TABLE events ADD COLUMN resource_type TEXT;
         ALTER TABLE events ADD COLUMN previous_hash TEXT;
         UPDATE events SET id = printf('evt_%012d', org_seq),
             resource_type = CASE WHEN resource_id IS NULL THEN NULL ELSE 'action' END,
             previous_hash = COALESCE((SELECT p.hash FROM events p
                 WHERE p.org_id = events.org_id AND p.org_seq = events.org_seq - 1), '{}');
         CREATE TABLE replies_v3 (key_id TEXT NOT NULL, endpoint TEXT NOT NULL,
             request_id TEXT NOT NULL, body_digest TEXT NOT NULL, body TEXT NOT NULL,
             created_ms INTEGER NOT NULL, PRIMARY KEY (key_id, endpoint, request_id));
         INSERT INTO replies_v3 SELECT key_id, endpoint, request_id, lower(hex(body_digest)), body,
             created_ms FROM replies;
         DROP TABLE replies;
         ALTER TABLE replies_v3 RENAME TO replies;
         CREATE INDEX replies_by_age ON replies(created_ms);
         PRAGMA user_version = 3;
         COMMIT;",
        atlasent::audit::GENESIS_HASH
    ))
    .expect("downgrade to 3");
}

/// Turn schema 5's byte columns back into the text every earlier schema
/// stored: payloads expanded, hashes as hex, signatures as base64url.
fn rows_as_text(db: &std::path::Path) {
    use base64::Engine as _;
    use rusqlite::types::ValueRef;
    let mut conn = rusqlite::Connection::open(db).expect("open");
    let tx = conn.transaction().expect("begin");
    let text = |v: ValueRef<'_>, signature: bool| -> Option<String> {
        match v {
            ValueRef::Blob(b) if signature => {
                Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
            }
            ValueRef::Blob(b) => Some(hex::encode(b)),
            _ => None,
        }
    };
    let events: Vec<(i64, Option<String>, Option<String>)> = tx
        .prepare("SELECT seq, payload, hash FROM events")
        .expect("select")
        .query_map([], |r| {
            let payload = match r.get_ref(1)? {
                ValueRef::Blob(b) => {
                    Some(atlasent_server::store::compact::expand(b).expect("a compact payload"))
                }
                _ => None,
            };
            Ok((r.get(0)?, payload, text(r.get_ref(2)?, false)))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for (seq, payload, hash) in events {
        tx.execute(
            "UPDATE events SET payload = COALESCE(?1, payload), hash = COALESCE(?2, hash) WHERE seq = ?3",
            rusqlite::params![payload, hash, seq],
        )
        .expect("update an event");
    }
    let permits: Vec<(String, [Option<String>; 3])> = tx
        .prepare("SELECT id, context_hash, execution_hash, permit_hash FROM permits")
        .expect("select")
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                [
                    text(r.get_ref(1)?, false),
                    text(r.get_ref(2)?, false),
                    text(r.get_ref(3)?, true),
                ],
            ))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for (id, [context, execution, signature]) in permits {
        tx.execute(
            "UPDATE permits SET context_hash = COALESCE(?1, context_hash),
                 execution_hash = COALESCE(?2, execution_hash), permit_hash = COALESCE(?3, permit_hash)
             WHERE id = ?4",
            rusqlite::params![context, execution, signature, id],
        )
        .expect("update a permit");
    }
    let blobs: i64 = tx
        .query_row(
            "SELECT (SELECT COUNT(*) FROM events WHERE typeof(payload) = 'blob' OR typeof(hash) = 'blob')
                  + (SELECT COUNT(*) FROM permits WHERE typeof(context_hash) = 'blob'
                     OR typeof(execution_hash) = 'blob' OR typeof(permit_hash) = 'blob')",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(blobs, 0, "every row is text, as before schema 5");
    tx.commit().expect("commit");
}

/// Take a schema-3 file back to schema 2, as an earlier build wrote it.
fn downgrade_to_2(db: &std::path::Path) {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.execute_batch(
        "BEGIN;
         DROP INDEX permits_by_issue;
         ALTER TABLE permits DROP COLUMN environment;
         ALTER TABLE permits DROP COLUMN execution_hash;
         ALTER TABLE permits DROP COLUMN escalation_id;
         ALTER TABLE permits DROP COLUMN deny_code;
         ALTER TABLE permits DROP COLUMN used_via;
         ALTER TABLE permits DROP COLUMN used_ms;
         ALTER TABLE permits DROP COLUMN revoked_ms;
         ALTER TABLE permits DROP COLUMN revoked_by;
         ALTER TABLE permits DROP COLUMN revoke_reason;
         ALTER TABLE permits DROP COLUMN shape;
         PRAGMA user_version = 2;
         COMMIT;",
    )
    .expect("downgrade to 2");
}

/// Take a schema-2 file (one organization) back to schema 1.
fn downgrade_to_1(db: &std::path::Path) {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.execute_batch(
        "BEGIN;
         ALTER TABLE events RENAME TO events_v2;
         ALTER TABLE permits RENAME TO permits_v2;
         DROP TABLE replies;
         DROP INDEX events_by_type; DROP INDEX events_by_actor; DROP INDEX events_by_time;
         CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
             decision TEXT, actor_id TEXT, resource_type TEXT, resource_id TEXT, payload TEXT NOT NULL,
             hash TEXT NOT NULL, previous_hash TEXT NOT NULL, occurred_ms INTEGER NOT NULL);
         CREATE INDEX events_by_type ON events(type, seq);
         CREATE INDEX events_by_actor ON events(actor_id, seq);
         CREATE INDEX events_by_time ON events(occurred_ms);
         CREATE TABLE permits (id TEXT PRIMARY KEY, agent TEXT NOT NULL, action TEXT NOT NULL,
             context_hash TEXT NOT NULL, decision TEXT NOT NULL, status TEXT NOT NULL,
             issued_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, permit_hash TEXT NOT NULL,
             key_id TEXT NOT NULL);
         CREATE TABLE replies (key_id TEXT NOT NULL, endpoint TEXT NOT NULL, request_id TEXT NOT NULL,
             body TEXT NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY (key_id, endpoint, request_id));
         INSERT INTO events SELECT org_seq, id, type, decision, actor_id, resource_type, resource_id,
             payload, hash, previous_hash, occurred_ms FROM events_v2 ORDER BY org_seq;
         INSERT INTO permits SELECT id, agent, action, context_hash, decision, status, issued_ms,
             expires_ms, permit_hash, key_id FROM permits_v2;
         DROP TABLE events_v2; DROP TABLE permits_v2;
         PRAGMA user_version = 0;
         COMMIT;",
    )
    .expect("downgrade to 1");
}

fn user_version(db: &std::path::Path) -> i64 {
    rusqlite::Connection::open(db)
        .expect("open")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version")
}

/// After a migration: the chain verifies, the old usable permit verifies
/// through the 1.4.1 wire but not with an execution hash (it has none), and
/// the records read it with a null payload hash.
async fn check_migrated(db: &std::path::Path, key_file: &std::path::Path, permit: &str) {
    let server = start_on_file(db, key_file).await;
    assert_eq!(user_version(db), 5);
    let (_, result) = common::export_and_verify_with(&server, KEY).await;
    assert!(result.verified(), "{result:?}");
    let (_, list) = get(&server, "/v1/permits").await;
    assert_eq!(list["total"], 2, "{list}");
    let (_, used) = get(&server, "/v1/permits?status=consumed").await;
    assert_eq!(used["total"], 1, "{used}");
    let record = permit_record(&server, permit).await;
    assert_has(
        &record,
        json!({ "status": "issued", "payload_hash": null, "environment": null }),
    );
    let with_hash = current_verify(
        &server,
        json!({ "permit_token": permit,
                "execution_hash": hash("deploy.production", "deploy-bot", &prod()) }),
    )
    .await;
    assert_eq!(
        with_hash["verify_error_code"], "EXECUTION_HASH_MISMATCH",
        "fail closed: {with_hash}"
    );
    let legacy = verify(
        &server,
        json!({ "decision_id": permit, "agent": "deploy-bot", "action": "deploy.production",
                "context": prod() }),
    )
    .await;
    assert_eq!(legacy["outcome"], "verified", "{legacy}");
    // New permits get the new columns.
    let fresh = deploy_permit(&server).await;
    let record = permit_record(&server, &fresh).await;
    assert_eq!(record["environment"], "production");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_schema_2_database_migrates_to_3_and_its_permits_still_verify() {
    let dir = scratch("v2");
    let (db, key_file) = (dir.join("atlasent.db"), dir.join("signing.pem"));
    let permit = populate(&db, &key_file).await;
    assert_eq!(user_version(&db), 5, "a fresh database is schema 5");
    downgrade_to_3(&db);
    downgrade_to_2(&db);
    check_migrated(&db, &key_file, &permit).await;
}

#[tokio::test]
async fn a_schema_1_database_migrates_through_2_to_3() {
    let dir = scratch("v1");
    let (db, key_file) = (dir.join("atlasent.db"), dir.join("signing.pem"));
    let permit = populate(&db, &key_file).await;
    downgrade_to_3(&db);
    downgrade_to_2(&db);
    downgrade_to_1(&db);
    assert_eq!(user_version(&db), 0);
    check_migrated(&db, &key_file, &permit).await;
}

#[tokio::test]
async fn a_database_of_an_unknown_schema_is_refused_naming_the_versions() {
    let dir = scratch("v9");
    let db = dir.join("atlasent.db");
    rusqlite::Connection::open(&db)
        .expect("open")
        .execute_batch("PRAGMA user_version = 9;")
        .expect("set");
    let err =
        common::refused_start(Server::builder().api_key(KEY).storage(Storage::File(db))).await;
    assert!(
        err.contains("schema version 9") && err.contains("reads 0, 2, 3, 4 and 5"),
        "{err}"
    );
}

/// A stored reply dated far ahead of the clock (written while the clock was
/// ahead) does not stop the pruning of the day-old replies behind it: the
/// first write after a restart deletes them, and the future-dated one too.
#[tokio::test]
async fn a_reply_dated_in_the_future_does_not_stop_pruning() {
    let dir = scratch("prune-future");
    let (db, key_file) = (dir.join("atlasent.db"), dir.join("signing.pem"));
    populate(&db, &key_file).await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let day_ms = 24 * 3600 * 1000;
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        let stored: i64 = conn
            .query_row("SELECT COUNT(*) FROM replies", [], |r| r.get(0))
            .expect("count");
        assert!(stored >= 3, "populate stores a reply per request: {stored}");
        conn.execute(
            "UPDATE replies SET created_ms = ?1 WHERE id = (SELECT MIN(id) FROM replies)",
            [now_ms + 365 * day_ms],
        )
        .expect("date the first ahead");
        conn.execute(
            "UPDATE replies SET created_ms = ?1 WHERE id > (SELECT MIN(id) FROM replies)",
            [now_ms - 3 * day_ms],
        )
        .expect("date the others three days back");
    }
    let server = start_on_file(&db, &key_file).await;
    evaluate(
        &server,
        json!({ "action": "deploy.production", "agent": "deploy-bot", "context": prod() }),
    )
    .await;
    server.shutdown().await.expect("shutdown");
    let conn = rusqlite::Connection::open(&db).expect("open");
    let (kept, old, ahead): (i64, i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), SUM(created_ms < ?1), SUM(created_ms > ?2) FROM replies",
            [now_ms - day_ms, now_ms + day_ms],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("count");
    assert_eq!(
        (old, ahead),
        (0, 0),
        "day-old and future-dated replies pruned"
    );
    assert_eq!(
        kept, 1,
        "the reply of the request after the restart is kept"
    );
}
