//! Denials: a policy deny, and an allow whose permit then fails
//! verification, are `Err`s carrying a `Denial` with its stage and details
//! (never a `Permit`); `authorize` and `evaluate` return the same deny as
//! data. Verification re-states exactly what was evaluated, on both wires.

mod support;

use atlasent::{DenialStage, Wire};
use serde_json::json;
use support::faults::*;
use support::{allow, verified, FaultServer, Reply};

#[test]
fn a_policy_deny_is_a_denial_with_its_details() {
    let (err, requests) = protect_against(
        || {
            Reply::json(
                200,
                &json!({
                    "permitted": false,
                    "decision_id": "dec_deny_1",
                    "reason": "policy finance: rule deny_high_value",
                    "audit_hash": "audit_deny_1"
                }),
            )
        },
        verified,
    );
    let denial = err.denial().expect("a denial");
    assert_eq!(denial.stage(), DenialStage::Policy);
    assert_eq!(denial.decision(), atlasent::Decision::Deny);
    assert_eq!(denial.reason(), "policy finance: rule deny_high_value");
    assert_eq!(denial.evaluation_id(), "dec_deny_1");
    assert_eq!(denial.audit_hash(), "audit_deny_1");
    assert_eq!(denial.request_id(), requests[0].header("x-request-id"));
    assert_eq!(
        attempts(&requests, "/v1-verify-permit"),
        0,
        "nothing to verify"
    );
}

#[test]
fn an_allow_whose_permit_fails_verification_is_a_denial() {
    for (wire, outcome) in [Wire::Legacy, Wire::Current]
        .into_iter()
        .flat_map(|w| ["expired", "consumed", "revoked", "mismatch"].map(|o| (w, o)))
    {
        let (err, requests) = protect_against_on(wire, allow, move || {
            Reply::json(
                200,
                &json!({ "verified": false, "outcome": outcome, "permit_hash": "" }),
            )
        });
        let denial = err.denial().expect("a denial");
        assert_eq!(denial.stage(), DenialStage::Verification);
        assert_eq!(denial.outcome(), Some(outcome));
        assert_eq!(
            denial.reason(),
            format!("Permit failed verification ({outcome})")
        );
        assert_eq!(denial.evaluation_id(), "dec_allow_1");
        assert_eq!(denial.audit_hash(), "audit_1");
        assert_eq!(attempts(&requests, "/v1-verify-permit"), 1);
        // Verification re-states exactly what was evaluated.
        let eval = requests
            .iter()
            .find(|r| r.path == "/v1-evaluate")
            .expect("evaluate")
            .json();
        let verify = requests
            .iter()
            .find(|r| r.path == "/v1-verify-permit")
            .expect("verify")
            .json();
        if wire == Wire::Legacy {
            assert_eq!(verify["decision_id"], "dec_allow_1");
            for field in ["agent", "action", "context"] {
                assert_eq!(verify[field], eval[field], "{field}");
            }
        } else {
            assert_eq!(verify["permit_token"], "dec_allow_1");
            for field in ["actor_id", "action_type"] {
                assert_eq!(verify[field], eval[field], "{field}");
            }
            let hash = atlasent::wire::execution_hash(
                "deploy",
                "agent-1",
                eval["context"].as_object().expect("context"),
            );
            assert_eq!(verify["execution_hash"], hash.as_str());
            assert!(verify.get("context").is_none(), "{verify}");
        }
    }
}

#[test]
fn gate_fails_and_authorize_reports_not_permitted_when_verification_fails() {
    let server = split_server(allow, || {
        Reply::json(200, &json!({ "verified": false, "outcome": "consumed" }))
    });
    let client = client_for(&server.url());
    let rt = support::rt();
    let err = rt
        .block_on(client.gate("agent-1", "deploy", &()))
        .expect_err("gate fails");
    assert_eq!(
        err.denial().map(|d| d.stage()),
        Some(DenialStage::Verification)
    );
    let result = rt
        .block_on(client.authorize("agent-1", "deploy", &()))
        .expect("as data");
    assert!(
        !result.permitted,
        "Python 1.4.1 says true here; we must not"
    );
    assert!(!result.verified);
    assert_eq!(result.outcome, "consumed");
    assert_eq!(result.reason, "Permit failed verification (consumed)");
}

#[test]
fn authorize_and_evaluate_return_a_deny_as_data() {
    let server = FaultServer::always(Reply::json(
        200,
        &json!({ "permitted": false, "decision_id": "dec_9", "reason": "no" }),
    ));
    let client = client_for(&server.url());
    let rt = support::rt();
    let result = rt
        .block_on(client.authorize("agent-1", "deploy", &()))
        .expect("data");
    assert!(!result.permitted && !result.verified);
    assert_eq!(
        (result.permit_id.as_str(), result.reason.as_str()),
        ("dec_9", "no")
    );
    let evaluation = rt
        .block_on(client.evaluate("agent-1", "deploy", &()))
        .expect("data");
    assert!(!evaluation.permitted);
    assert_eq!(evaluation.decision, atlasent::Decision::Deny);
    assert_eq!(server.request_count(), 2, "no verify for a deny");
}

/// A hostile server's words (a deny's reason and id, an error's message)
/// are printed escaped by the errors' `Display`: no ESC, CR, LF, C1 or
/// bidirectional control reaches a terminal or a log line as such. The
/// accessors still give the exact text.
#[test]
fn a_hostile_servers_words_reach_a_log_line_escaped() {
    const SPOOF: &str = "ok\r\u{1b}[2K\n2026 INFO permit granted\u{9b}8m\u{202e}";
    let unsafe_char = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{202e}');
    let (err, _) = protect_against(
        || {
            Reply::json(
                200,
                &json!({ "permitted": false, "decision_id": SPOOF, "reason": SPOOF,
                         "audit_hash": "a" }),
            )
        },
        verified,
    );
    let shown = err.to_string();
    assert!(!shown.chars().any(unsafe_char), "{shown:?}");
    assert!(shown.contains("\\u001b[2K\\u000a2026 INFO"), "{shown:?}");
    assert_eq!(err.denial().expect("a denial").reason(), SPOOF);

    let (err, _) = protect_against(
        || Reply::json(400, &json!({ "error": "bad_request", "message": SPOOF })),
        verified,
    );
    let shown = err.to_string();
    assert!(!shown.chars().any(unsafe_char), "{shown:?}");
    assert!(shown.contains("\\u001b[2K"), "{shown:?}");
}
