//! What an evaluate or verify reply means, on either wire: the checks that
//! turn a parsed body into a result, refusing anything that could be read
//! two ways. Each check returns the detail of a `bad_response`.

use crate::deny_code::DenyCode;
use crate::error::Decision;
use crate::results::{EvaluateResult, VerifyResult};
use crate::wire::{
    CurrentEvaluateResponse, CurrentVerifyResponse, EvaluateResponse, VerifyResponse,
};

/// A 1.4.1 evaluate reply (our server adds `expires_at` to an allow).
/// `body` is the reply's text, already read strictly: a current-shape
/// `decision` in it must agree with `permitted`, a `permit_token` with
/// `decision_id`.
pub(crate) fn legacy_evaluation(
    b: EvaluateResponse,
    body: &[u8],
) -> Result<EvaluateResult, String> {
    if b.decision_id.is_empty() {
        return Err("`decision_id` is empty".to_owned());
    }
    let members = CurrentMembers::read(body);
    // Python 2.18 reads `permit_token` before `decision_id`: a reply naming
    // two permits would be one permit to us and another to it.
    agreeing(
        ("permit_token", current_member(&members, "permit_token")?),
        ("decision_id", Some(b.decision_id.clone())),
    )?;
    if let Some(text) = current_member(&members, "decision")? {
        let decision = Decision::from_wire(&text).ok_or_else(|| {
            format!(
                "field `decision` must be \"allow\", \"deny\", \"hold\" or \"escalate\", got {}",
                quoted(&text)
            )
        })?;
        if (decision == Decision::Allow) != b.permitted {
            return Err(format!(
                "`decision` is {} but `permitted` is {}: the reply contradicts itself",
                quoted(&text),
                b.permitted
            ));
        }
    }
    let expires_at = checked_expiry(b.expires_at)?;
    let decision = Decision::from_permitted(b.permitted);
    Ok(EvaluateResult {
        decision,
        permitted: b.permitted,
        permit_id: b.decision_id,
        reason: b.reason,
        audit_hash: b.audit_hash,
        timestamp: b.timestamp,
        deny_code: None,
        escalation_id: None,
        expires_at,
        reasons: Vec::new(),
        request_id: String::new(),
        rate_limit: None,
    })
}

/// A current evaluate reply, or a 1.4.1 one received on the current wire
/// (the Python SDK 2.18 reads both).
pub(crate) fn current_evaluation(b: CurrentEvaluateResponse) -> Result<EvaluateResult, String> {
    let decision = match (b.decision.as_deref(), b.permitted) {
        (Some(text), permitted) => {
            let decision = Decision::from_wire(text).ok_or_else(|| {
                format!(
                    "field `decision` must be \"allow\", \"deny\", \"hold\" or \"escalate\", got {}",
                    quoted(text)
                )
            })?;
            if let Some(permitted) = permitted.filter(|p| *p != (decision == Decision::Allow)) {
                return Err(format!(
                    "`decision` is {} but `permitted` is {permitted}: the reply contradicts itself",
                    quoted(text)
                ));
            }
            decision
        }
        (None, Some(permitted)) => Decision::from_permitted(permitted),
        (None, None) => {
            return Err(
                "required field `decision` is missing (and there is no 1.4.1 `permitted`)"
                    .to_owned(),
            )
        }
    };
    let token = agreeing(
        ("permit_token", b.permit_token),
        ("decision_id", b.decision_id),
    )?;
    let permit_id =
        match (decision, token) {
            (_, Some(token)) => token,
            (Decision::Allow, None) => return Err(
                "an allow must carry a `permit_token` (or the 1.4.1 `decision_id`); it has none"
                    .to_owned(),
            ),
            (_, None) => b.evaluation_id.unwrap_or_default(),
        };
    // Reason and code: the hosted API's top-level members first, then the
    // `denial` object, as 2.18 reads them (they inform; they do not decide).
    let denial = b.denial.unwrap_or_default();
    let reason = [b.deny_reason, denial.reason, b.reason]
        .into_iter()
        .flatten()
        .chain(b.reasons.iter().flatten().next().cloned())
        .find(|r| !r.is_empty())
        .unwrap_or_default();
    let reasons = match b.reasons {
        Some(reasons) if !reasons.is_empty() => reasons,
        _ if !reason.is_empty() => vec![reason.clone()],
        _ => Vec::new(),
    };
    let deny_code = match decision {
        Decision::Allow => None,
        _ => [b.deny_code, denial.code]
            .into_iter()
            .flatten()
            .find(|c| !c.is_empty())
            .map(DenyCode::from),
    };
    Ok(EvaluateResult {
        permitted: decision == Decision::Allow,
        decision,
        permit_id,
        reason,
        audit_hash: b.audit_hash.unwrap_or_default(),
        timestamp: b.timestamp.unwrap_or_default(),
        deny_code,
        escalation_id: b.escalation_id.filter(|id| !id.is_empty()),
        expires_at: checked_expiry(b.expires_at)?,
        reasons,
        request_id: String::new(),
        rate_limit: None,
    })
}

/// A 1.4.1 verify reply about `sent`. `body` is the reply's text, already
/// read strictly: a current-shape `valid` or `permit_token` in it must agree,
/// and a `verified` one must not also say why it is not (see
/// [`valid_agrees`]). `issued_expiry` is the `expires_at` of the evaluate
/// reply this verification follows, if any.
pub(crate) fn legacy_verification(
    b: VerifyResponse,
    sent: &str,
    body: &[u8],
    issued_expiry: Option<&str>,
) -> Result<VerifyResult, String> {
    about(sent, "decision_id", b.decision_id.as_deref())?;
    let members = CurrentMembers::read(body);
    about(
        sent,
        "permit_token",
        current_member(&members, "permit_token")?.as_deref(),
    )?;
    match &members.valid {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Bool(valid)) if *valid == b.verified => {}
        Some(serde_json::Value::Bool(valid)) => {
            return Err(format!(
                "`valid` is {valid} but `verified` is {}: the reply contradicts itself",
                b.verified
            ))
        }
        Some(_) => return Err("field `valid` must be a boolean".to_owned()),
    }
    if b.verified {
        let code = current_member(&members, "verify_error_code")?;
        let consumed = match &members.consumed {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Bool(consumed)) => Some(*consumed),
            Some(_) => return Err("field `consumed` must be a boolean".to_owned()),
        };
        valid_agrees("verified", &b.outcome, code.as_deref(), consumed)?;
        unexpired_when_verified(issued_expiry, None, Some(&b.timestamp))?;
    }
    Ok(VerifyResult {
        verified: b.verified,
        outcome: b.outcome,
        permit_hash: b.permit_hash,
        timestamp: b.timestamp,
        reason: String::new(),
        verify_error_code: None,
        consumed: None,
        expires_at: None,
        request_id: String::new(),
        rate_limit: None,
    })
}

/// A current verify reply about `sent` (a 1.4.1 `verified` is read too).
/// Only `valid` decides, and a valid reply must not also say why it is not
/// (see [`valid_agrees`]). `issued_expiry` is the `expires_at` of the
/// evaluate reply this verification follows, if any.
pub(crate) fn current_verification(
    b: CurrentVerifyResponse,
    sent: &str,
    issued_expiry: Option<&str>,
) -> Result<VerifyResult, String> {
    let said_valid_by = if b.valid.is_some() {
        "valid"
    } else {
        "verified"
    };
    let valid = match (b.valid, b.verified) {
        (Some(valid), Some(verified)) if valid != verified => {
            return Err(format!(
                "`valid` is {valid} but `verified` is {verified}: the reply contradicts itself"
            ))
        }
        (Some(valid), _) | (None, Some(valid)) => valid,
        (None, None) => {
            return Err(
                "required field `valid` is missing (and there is no 1.4.1 `verified`)".to_owned(),
            )
        }
    };
    about(sent, "permit_token", b.permit_token.as_deref())?;
    about(sent, "decision_id", b.decision_id.as_deref())?;
    let outcome = b.outcome.unwrap_or_default();
    let verify_error_code = b.verify_error_code.filter(|c| !c.is_empty());
    let expires_at = checked_expiry(b.expires_at)?;
    if valid {
        valid_agrees(
            said_valid_by,
            &outcome,
            verify_error_code.as_deref(),
            b.consumed,
        )?;
        unexpired_when_verified(issued_expiry, expires_at.as_deref(), b.timestamp.as_deref())?;
    }
    Ok(VerifyResult {
        verified: valid,
        outcome,
        permit_hash: b.permit_hash.unwrap_or_default(),
        timestamp: b.timestamp.unwrap_or_default(),
        reason: b.reason.unwrap_or_default(),
        verify_error_code,
        consumed: b.consumed,
        expires_at,
        request_id: String::new(),
        rate_limit: None,
    })
}

/// The outcomes a valid verification may state: none, ours and 1.4.1's
/// (`verified`), and the hosted API's (`allow`, per Python 2.18's models).
const VALID_OUTCOMES: [&str; 3] = ["", "verified", "allow"];

/// A verification that says the permit is valid (`member` is `true`) must
/// not also say why it is not: an `outcome` naming a failure, a
/// `verify_error_code` (empty counts as none), or `consumed: false` (a
/// verified permit is consumed). A reply that says both is refused, naming
/// every contradiction: which half is the lie cannot be known, and only one
/// half is fail-closed.
fn valid_agrees(
    member: &str,
    outcome: &str,
    verify_error_code: Option<&str>,
    consumed: Option<bool>,
) -> Result<(), String> {
    let mut contradictions = Vec::new();
    if !VALID_OUTCOMES.contains(&outcome) {
        contradictions.push(format!("`outcome` is {}", quoted(outcome)));
    }
    if let Some(code) = verify_error_code.filter(|c| !c.is_empty()) {
        contradictions.push(format!("`verify_error_code` is {}", quoted(code)));
    }
    if consumed == Some(false) {
        contradictions.push("`consumed` is false".to_owned());
    }
    if contradictions.is_empty() {
        return Ok(());
    }
    Err(format!(
        "`{member}` is true but {}: the reply contradicts itself",
        contradictions.join(", ")
    ))
}

/// A permit verified as valid had not expired when the server verified it,
/// by the server's own clock: an expiry (`issued`, from the evaluate reply,
/// or `stated`, from the verify reply) earlier than the verification's
/// `timestamp` is a contradiction. Both times are the server's, so no local
/// clock skew is involved; without a readable `timestamp` there is nothing
/// to compare with (the local clock is not used).
fn unexpired_when_verified(
    issued: Option<&str>,
    stated: Option<&str>,
    timestamp: Option<&str>,
) -> Result<(), String> {
    let Some((verified_at, timestamp)) =
        timestamp.and_then(|text| crate::time::parse_rfc3339(text).map(|at| (at, text)))
    else {
        return Ok(());
    };
    for (reply, expires_at) in [("evaluate", issued), ("verify", stated)] {
        let Some(text) = expires_at else { continue };
        if crate::time::parse_rfc3339(text).is_some_and(|at| at < verified_at) {
            return Err(format!(
                "the server says the permit expired before it verified it: \
                 `expires_at` {} (of the {reply} reply) is earlier than the \
                 verification's `timestamp` {}",
                quoted(text),
                quoted(timestamp)
            ));
        }
    }
    Ok(())
}

/// The reply names the permit it is about: another permit's answer
/// (swapped or replayed on the way) says nothing about this one.
pub(crate) fn about(sent: &str, member: &str, named: Option<&str>) -> Result<(), String> {
    match named {
        Some(other) if other != sent => Err(format!(
            "it is about permit {} (`{member}`), this call asked about {}",
            quoted(other),
            quoted(sent)
        )),
        _ => Ok(()),
    }
}

/// The members of the current shape that a 1.4.1 reply may carry anyway,
/// read from a body already read strictly (so none is repeated), each as
/// whatever JSON it is; the rest of the body is skipped, not copied.
#[derive(Default, serde::Deserialize)]
struct CurrentMembers {
    #[serde(default)]
    permit_token: Option<serde_json::Value>,
    #[serde(default)]
    decision: Option<serde_json::Value>,
    #[serde(default)]
    valid: Option<serde_json::Value>,
    #[serde(default)]
    verify_error_code: Option<serde_json::Value>,
    #[serde(default)]
    consumed: Option<serde_json::Value>,
}

impl CurrentMembers {
    /// None of them when the body somehow is not a JSON object (a derived
    /// struct would read an array by position: not here).
    fn read(body: &[u8]) -> Self {
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => serde_json::from_slice(body).unwrap_or_default(),
            _ => Self::default(),
        }
    }

    fn get(&self, name: &str) -> Option<&serde_json::Value> {
        match name {
            "permit_token" => self.permit_token.as_ref(),
            "decision" => self.decision.as_ref(),
            "valid" => self.valid.as_ref(),
            "verify_error_code" => self.verify_error_code.as_ref(),
            "consumed" => self.consumed.as_ref(),
            _ => None,
        }
    }
}

/// A string member of the current shape that a 1.4.1 reply may carry
/// anyway (`None` when absent or `null`).
fn current_member(members: &CurrentMembers, name: &str) -> Result<Option<String>, String> {
    match members.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(format!("field `{name}` must be a string")),
    }
}

/// One value given under two names: either, or both if they agree. Empty
/// strings count as absent.
fn agreeing(
    (a_name, a): (&str, Option<String>),
    (b_name, b): (&str, Option<String>),
) -> Result<Option<String>, String> {
    match (a.filter(|s| !s.is_empty()), b.filter(|s| !s.is_empty())) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "`{a_name}` is {} but `{b_name}` is {}: the reply contradicts itself",
            quoted(&a),
            quoted(&b)
        )),
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b),
    }
}

/// An `expires_at` the client can read, or the refusal naming it. An empty
/// one counts as absent (Python 2.18's default).
pub(crate) fn checked_expiry(expires_at: Option<String>) -> Result<Option<String>, String> {
    match expires_at.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) if crate::time::parse_rfc3339(&text).is_some() => Ok(Some(text)),
        Some(text) => Err(format!(
            "field `expires_at` is not an RFC 3339 time: {}",
            quoted(&text)
        )),
    }
}

/// A server-sent string in a message: quoted, at most 64 characters.
pub(crate) fn quoted(text: &str) -> String {
    let mut short: String = text.chars().take(64).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current(value: serde_json::Value) -> Result<EvaluateResult, String> {
        current_evaluation(serde_json::from_value(value).expect("parses"))
    }

    #[test]
    fn the_four_decisions_and_only_those() {
        for (text, decision) in [
            ("deny", Decision::Deny),
            ("hold", Decision::Hold),
            ("escalate", Decision::Escalate),
        ] {
            let r = current(serde_json::json!({"decision": text, "evaluation_id": "dec_1"}))
                .expect("a decision");
            assert_eq!((r.decision, r.permitted), (decision, false));
            assert_eq!(r.permit_id, "dec_1");
        }
        let r = current(serde_json::json!({"decision": "allow", "permit_token": "dec_2"}))
            .expect("allow");
        assert!(r.permitted && r.decision == Decision::Allow);
        for unknown in ["ALLOW", "permit", "", "allow "] {
            let err = current(serde_json::json!({"decision": unknown, "permit_token": "dec_2"}))
                .expect_err("unknown decision");
            assert!(err.contains("field `decision` must be"), "{err}");
        }
    }

    #[test]
    fn reason_and_code_come_from_either_place() {
        let r = current(serde_json::json!({
            "decision": "deny", "denial": {"reason": "rule r1", "code": "DENY_POLICY"},
            "reasons": ["rule r1"]
        }))
        .expect("deny");
        assert_eq!(r.reason, "rule r1");
        assert_eq!(r.deny_code, Some(DenyCode::DenyPolicy));
        let r = current(serde_json::json!({
            "decision": "hold", "deny_reason": "top", "deny_code": "ACTOR_HELD",
            "escalation_id": "esc_1"
        }))
        .expect("hold");
        assert_eq!(
            (r.reason.as_str(), r.deny_code),
            ("top", Some(DenyCode::ActorHeld))
        );
        assert_eq!(r.escalation_id.as_deref(), Some("esc_1"));
        let r = current(serde_json::json!({
            "decision": "deny", "deny_code": "A", "denial": {"code": "B", "reason": "b"}
        }))
        .expect("two codes: the top-level one, as 2.18 reads it");
        assert_eq!(r.deny_code, Some(DenyCode::Other("A".into())));
        assert_eq!(r.reasons, ["b"]);
    }

    #[test]
    fn a_legacy_reply_on_the_current_wire() {
        let r =
            current(serde_json::json!({"permitted": true, "decision_id": "dec_3", "reason": "ok"}))
                .expect("legacy allow");
        assert_eq!(
            (r.decision, r.permit_id.as_str()),
            (Decision::Allow, "dec_3")
        );
        assert_eq!(r.reason, "ok");
    }

    #[test]
    fn long_server_strings_are_cut_in_messages() {
        let long = "x".repeat(500);
        let q = quoted(&long);
        assert!(q.chars().count() < 70, "{q}");
    }
}
