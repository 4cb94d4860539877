//! Bad input gets a 4xx with the contract's error body and a precise
//! message; the server keeps serving and the chain stays valid.

mod common;

use common::{client, export_and_verify, get, post, start, KEY};
use serde_json::json;

#[tokio::test]
async fn every_bad_request_is_a_precise_4xx() {
    let server = start().await;
    let auth = format!("Bearer {KEY}");
    let h: [(&str, &str); 1] = [("authorization", auth.as_str())];
    let long = "a".repeat(257);
    let ok_ctx = json!({});
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("/v1-evaluate", "{not json".into(), 400, "not valid JSON"),
        (
            "/v1-evaluate",
            "[1,2]".into(),
            422,
            "must be a JSON object, got an array",
        ),
        (
            "/v1-evaluate",
            json!({ "action": 5, "agent": "a", "context": ok_ctx }).to_string(),
            422,
            "`action` must be a string, got a number",
        ),
        (
            "/v1-evaluate",
            json!({ "action": "x", "agent": ["a"], "context": ok_ctx }).to_string(),
            422,
            "`agent` must be a string, got an array",
        ),
        (
            "/v1-evaluate",
            json!({ "action": "x", "agent": "a", "context": ok_ctx, "extra": 1 }).to_string(),
            422,
            "unknown field `extra`",
        ),
        (
            "/v1-evaluate",
            json!({ "action": "", "agent": "a", "context": ok_ctx }).to_string(),
            422,
            "`action` must be 1 to 256 characters, got 0",
        ),
        (
            "/v1-evaluate",
            json!({ "action": "x", "agent": "", "context": ok_ctx }).to_string(),
            422,
            "`agent` must be 1 to 256 characters, got 0",
        ),
        (
            "/v1-evaluate",
            json!({ "action": long, "agent": "a", "context": ok_ctx }).to_string(),
            422,
            "`action` must be 1 to 256 characters, got 257",
        ),
        (
            "/v1-evaluate",
            json!({ "action": "x", "agent": long, "context": ok_ctx }).to_string(),
            422,
            "`agent` must be 1 to 256 characters, got 257",
        ),
        (
            "/v1-evaluate",
            json!({ "action": "x", "agent": "a", "context": [1] }).to_string(),
            422,
            "`context` must be a JSON object, got an array",
        ),
        (
            "/v1-evaluate",
            json!({ "action": "x", "agent": "a", "context": "s" }).to_string(),
            422,
            "`context` must be a JSON object, got a string",
        ),
        (
            "/v1-evaluate",
            json!({ "action": "x", "agent": "a" }).to_string(),
            422,
            "missing required field `context`",
        ),
        (
            "/v1-verify-permit",
            json!({ "decision_id": "", "action": "", "agent": "", "context": {} }).to_string(),
            422,
            "`decision_id` must be 1 to 256 characters",
        ),
        (
            "/v1-verify-permit",
            json!({ "decision_id": 7 }).to_string(),
            422,
            "`decision_id` must be a string",
        ),
        (
            "/v1-revoke-permit",
            json!({ "decision_id": "d", "reason": "r".repeat(1025) }).to_string(),
            422,
            "`reason` must be at most 1024 characters, got 1025",
        ),
        (
            "/v1-evaluate",
            format!("{{\"action\":\"{}\"}}", "x".repeat(70_000)),
            413,
            "larger than 65536 bytes",
        ),
    ];
    for (path, body, status, needle) in cases {
        let (got, headers, reply) = post(&server, path, &h, body.clone()).await;
        assert_eq!(
            got,
            status,
            "{path} {}: {reply}",
            &body[..body.len().min(80)]
        );
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{path}: {message:?} lacks {needle:?}"
        );
        assert!(
            reply["code"].is_string() && reply["request_id"].is_string(),
            "{reply}"
        );
        assert!(headers.contains_key("x-request-id"));
    }

    // Authentication failures.
    let body = json!({ "action": "x", "agent": "a", "context": {} }).to_string();
    let (s, _, r) = post(&server, "/v1-evaluate", &[], body.clone()).await;
    assert_eq!((s, r["code"].as_str()), (401, Some("invalid_api_key")));
    assert!(r["message"]
        .as_str()
        .unwrap_or_default()
        .contains("missing or invalid API key"));
    let (s, _, _) = common::evaluate_authorized(&server, "Bearer nope", body.clone()).await;
    assert_eq!(s, 401);
    let (s, _, _) = common::evaluate_authorized(&server, "Basic xyz", body).await;
    assert_eq!(s, 401);
    let disagree =
        json!({ "action": "x", "agent": "a", "context": {}, "api_key": "other" }).to_string();
    let (s, _, r) = post(&server, "/v1-evaluate", &h, disagree).await;
    assert_eq!(s, 401);
    assert!(r["message"]
        .as_str()
        .unwrap_or_default()
        .contains("different keys"));
    let body_only =
        json!({ "action": "x", "agent": "a", "context": {}, "api_key": KEY }).to_string();
    let (s, _, _) = post(&server, "/v1-evaluate", &[], body_only).await;
    assert_eq!(s, 200, "the key in the body alone is accepted");

    for bad_query in [
        "/v1-audit/events?limit=0",
        "/v1-audit/events?limit=x",
        "/v1-audit/events?cursor=-1",
        "/v1-audit/events?from=yesterday",
        "/v1-audit/events?bogus=1",
        // A repeated filter is refused, never narrowed to one of its values.
        "/v1-audit/events?actor_id=a&actor_id=b",
        "/v1-audit/events?types=evaluate.deny&types=evaluate.allow",
        // No February 31st.
        "/v1-audit/events?from=2026-02-31T00:00:00Z",
    ] {
        let (s, r) = get(&server, bad_query).await;
        assert_eq!(s, 422, "{bad_query}: {r}");
    }

    // Still serving, and every decision made so far is on a valid chain.
    let c = client(&server);
    let permit = c
        .protect(
            "finance-agent",
            "wire_transfer",
            &json!({ "amount_usd": 5, "counterparty_id": "c", "memo": "m" }),
        )
        .await
        .expect("still serving");
    assert!(permit.permit_id().starts_with("dec_"));
    let (_, result) = export_and_verify(&server).await;
    assert!(result.verified(), "{result:?}");
}

#[tokio::test]
async fn audit_events_page_with_cursors_and_filters() {
    let server = start().await;
    let c = client(&server);
    for i in 0..7 {
        let agent = if i % 2 == 0 {
            "finance-agent"
        } else {
            "other-agent"
        };
        c.evaluate(
            agent,
            "wire_transfer",
            &json!({ "amount_usd": 1, "counterparty_id": "c", "memo": "m" }),
        )
        .await
        .expect("evaluate");
    }
    let seen: Vec<i64> = common::all_pages(&server, KEY, "/v1-audit/events?limit=3", "events", 7)
        .await
        .iter()
        .map(|e| e["sequence"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seen, (1..=7).collect::<Vec<_>>());
    let (_, page) = get(&server, "/v1-audit/events?actor_id=other-agent").await;
    assert_eq!(page["total"], 3);
    let (_, page) = get(&server, "/v1-audit/events?types=evaluate.deny").await;
    assert_eq!(page["total"], 3, "other-agent is denied by default");
    let (_, page) = get(&server, "/v1-audit/events?from=2999-01-01T00:00:00Z").await;
    assert_eq!(page["total"], 0);
}

#[tokio::test]
async fn an_audit_key_may_read_the_log_but_not_decide() {
    let server = common::start_with(|b| b.audit_key("ask_auditor")).await;
    let auditor = atlasent::Client::builder()
        .api_key("ask_auditor")
        .base_url(server.base_url())
        .build()
        .expect("client");
    let err = auditor
        .evaluate("finance-agent", "wire_transfer", &json!({}))
        .await
        .expect_err("403");
    assert_eq!(
        (err.code(), err.status()),
        (Some(atlasent::ErrorCode::Forbidden), Some(403))
    );
    assert!(
        err.to_string().contains("lacks the `evaluate` scope"),
        "{err}"
    );
    let err = auditor.verify("dec_x", "", "", &()).await.expect_err("403");
    assert_eq!(err.status(), Some(403));
    let me = auditor.key_self().await.expect("key self");
    assert_eq!(me.scopes, ["audit.read", "audit.export"]);
    auditor
        .list_audit_events(&atlasent::audit::AuditEventQuery::new())
        .await
        .expect("may read");
    let bundle = auditor
        .create_audit_export(&atlasent::audit::ExportFilter::all())
        .await
        .expect("may export");
    assert_eq!(
        bundle.event_count(),
        0,
        "refused requests decide nothing and log nothing"
    );
    let (_, result) = export_and_verify(&server).await;
    assert!(result.verified());
}
