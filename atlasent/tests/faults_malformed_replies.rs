//! Malformed replies: a reply that is not JSON, of the wrong shape, too
//! large, or repeating a member is a `BadResponse` (never a decision, never a
//! `Permit`) and is not retried. Repeated members are issue 9, defect 1: the
//! error names the member and where it stands.
//!
//! The client speaks the default (current) wire; the replies here are in the
//! 1.4.1 shape, which the current wire reads too.

mod support;

use atlasent::ErrorCode;
use serde_json::json;
use support::faults::*;
use support::{allow, FaultServer, Reply};

#[test]
fn malformed_evaluate_replies_are_bad_response_never_a_decision() {
    let cases: Vec<(&str, Reply, &str)> = vec![
        (
            "not json",
            Reply::text(200, "<html>gateway</html>"),
            "not valid JSON",
        ),
        (
            "truncated json",
            Reply::text(200, r#"{"permitted": true, "decision_id": "de"#),
            "not valid JSON",
        ),
        (
            "permitted as a string",
            Reply::json(200, &json!({ "permitted": "true", "decision_id": "d" })),
            "permitted",
        ),
        (
            "permitted as a number",
            Reply::json(200, &json!({ "permitted": 1, "decision_id": "d" })),
            "permitted",
        ),
        (
            "missing decision_id",
            Reply::json(200, &json!({ "permitted": true })),
            "decision_id",
        ),
        (
            "empty decision_id",
            Reply::json(200, &json!({ "permitted": true, "decision_id": "" })),
            "decision_id",
        ),
        (
            "null permitted",
            Reply::json(200, &json!({ "permitted": null, "decision_id": "d" })),
            "permitted",
        ),
        (
            "array body",
            Reply::json(200, &json!([true])),
            "v1-evaluate",
        ),
        ("empty body", Reply::text(200, ""), "not valid JSON"),
    ];
    for (name, reply, needle) in cases {
        let server = FaultServer::always(reply);
        let err = expect_err(protect(&server.url()));
        assert_eq!(err.code(), Some(ErrorCode::BadResponse), "{name}: {err}");
        assert!(
            err.to_string().contains(needle),
            "{name}: {err} lacks {needle}"
        );
        assert_eq!(
            server.request_count(),
            1,
            "{name}: malformed replies are not retried"
        );
    }
}

#[test]
fn an_oversized_reply_is_bad_response() {
    let huge = "x".repeat(64 * 1024);
    let server = FaultServer::always(Reply::json(
        200,
        &json!({ "permitted": true, "decision_id": "d", "reason": huge }),
    ));
    let client = limited_client(&server.url(), |b| b.max_response_bytes(16 * 1024));
    let err = expect_err(support::rt().block_on(client.protect("a", "b", &())));
    assert_eq!(err.code(), Some(ErrorCode::BadResponse));
    assert!(err.to_string().contains("max_response_bytes"), "{err}");
}

#[test]
fn a_malformed_verify_reply_is_bad_response() {
    for body in [
        json!({ "verified": "true" }),
        json!({ "outcome": "verified" }),
    ] {
        let reply = Reply::json(200, &body);
        let (err, _) = protect_against(allow, move || reply.clone());
        assert_eq!(err.code(), Some(ErrorCode::BadResponse), "{body}");
        assert!(err.to_string().contains("verified"), "{err}");
    }
}

#[test]
fn an_oversized_audit_page_names_the_export_limit() {
    let events: Vec<_> = (0..200)
        .map(|i| json!({ "id": format!("evt-{i}"), "hash": "h", "previous_hash": "p", "payload": {} }))
        .collect();
    let server = FaultServer::always(Reply::json(200, &json!({ "events": events, "total": 200 })));
    let client = limited_client(&server.url(), |b| b.max_export_bytes(4 * 1024));
    let err = support::rt()
        .block_on(client.list_audit_events(&atlasent::audit::AuditEventQuery::new()))
        .expect_err("too large");
    assert_eq!(err.code(), Some(ErrorCode::BadResponse));
    assert!(err.to_string().contains("(max_export_bytes)"), "{err}");
}

#[test]
fn an_evaluate_reply_with_a_repeated_member_is_bad_response() {
    for (body, member, path) in [
        (
            r#"{"permitted":false,"decision_id":"dec_1","reason":"denied","permitted":true}"#,
            "permitted",
            "$",
        ),
        (
            r#"{"permitted":false,"decision_id":"dec_1","permit\u0074ed":true}"#,
            "permitted",
            "$",
        ),
        (
            r#"{"permitted":true,"decision_id":"dec_1","extra":{"a":[{"b":1,"b":2}]}}"#,
            "b",
            "$.extra.a[0]",
        ),
        (
            r#"{"permitted":true,"decision_id":"dec_1","x":1,"\u0078":2}"#,
            "x",
            "$",
        ),
    ] {
        let server = FaultServer::always(raw_json(body));
        let err = expect_err(protect(&server.url()));
        assert_duplicate(&err, member, path);
        assert_eq!(server.request_count(), 1, "{body}: not retried");
    }
}

#[test]
fn a_verify_reply_with_a_repeated_member_is_bad_response() {
    for (body, member, path) in [
        (
            r#"{"verified":false,"outcome":"consumed","verified":true}"#,
            "verified",
            "$",
        ),
        (
            r#"{"verified":true,"outcome":"verified","meta":{"o":{"k":"a","\u006b":"b"}}}"#,
            "k",
            "$.meta.o",
        ),
    ] {
        let reply = raw_json(body);
        let (err, requests) = protect_against(allow, move || reply.clone());
        assert_duplicate(&err, member, path);
        assert_eq!(attempts(&requests, "/v1-verify-permit"), 1);
    }
}

#[test]
fn key_self_revoke_and_audit_replies_with_a_repeated_member_are_bad_response() {
    let server = FaultServer::start(|req, _| match req.path.as_str() {
        "/v1-api-key-self" => raw_json(
            r#"{"key_id":"k","organization_id":"o","environment":"live","rate_limit_per_minute":1,"scopes":[],"scopes":["admin"]}"#,
        ),
        "/v1-revoke-permit" => raw_json(r#"{"revoked":true,"decision_id":"d","revoked":false}"#),
        "/v1-signing-keys" => {
            raw_json(r#"{"keys":[{"key_id":"a","key_id":"b","public_key_pem":"x"}]}"#)
        }
        _ => raw_json(
            r#"{"events":[{"id":"e","hash":"h","previous_hash":"p","payload":{"amount":50,"amount":5000000}}],"total":1}"#,
        ),
    });
    let client = client_for(&server.url());
    let rt = support::rt();
    let err = rt.block_on(client.key_self()).expect_err("dup");
    assert_duplicate(&err, "scopes", "$");
    let err = rt
        .block_on(client.revoke_permit("d", None))
        .expect_err("dup");
    assert_duplicate(&err, "revoked", "$");
    let err = rt.block_on(client.signing_keys()).expect_err("dup");
    assert_duplicate(&err, "key_id", "$.keys[0]");
    let err = rt
        .block_on(client.list_audit_events(&atlasent::audit::AuditEventQuery::new()))
        .expect_err("dup");
    assert_duplicate(&err, "amount", "$.events[0].payload");
}

#[test]
fn an_export_reply_with_a_repeated_member_is_bad_response() {
    let server = FaultServer::always(raw_json(
        r#"{"export_id":"x","chain_head_hash":"h","signature":"s","events":[],"\u0065vents":[{}]}"#,
    ));
    let client = client_for(&server.url());
    let err = support::rt()
        .block_on(client.create_audit_export(&atlasent::audit::ExportFilter::all()))
        .expect_err("dup");
    assert_duplicate(&err, "events", "$");
}
