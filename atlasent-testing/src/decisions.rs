//! The decisions a [`TestServer`](crate::TestServer) made, read back from
//! its audit log.

use std::fmt::{self, Write as _};

use atlasent::audit::{AuditEvent, AuditEventQuery};
use atlasent::Decision;
use serde_json::Value;

/// The audit event types of evaluations, one per decision.
const EVALUATE_EVENTS: [&str; 4] = [
    "evaluate.allow",
    "evaluate.deny",
    "evaluate.hold",
    "evaluate.escalate",
];
/// The largest page the server serves.
const PAGE: u32 = 500;

/// One evaluation the server decided, as its audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedDecision {
    /// The decision's id (`dec_…`): the permit's id when allowed.
    pub decision_id: String,
    /// What the policies decided.
    pub decision: Decision,
    /// The refusal's code (`DENY_POLICY`, `NO_TEMPLATE_MATCH`, a rule's
    /// own); `None` for an allow.
    pub code: Option<String>,
    /// Why: `allowed by policy P rule R`, `denied by policy P rule R: …`,
    /// `no rule matched; …`.
    pub reason: String,
    /// The id of the deciding rule; `None` when a policy's default decided.
    pub rule: Option<String>,
    /// The id of the deciding rule's policy; `None` when a default decided.
    pub policy: Option<String>,
    /// Who asked (the agent, `actor_id`).
    pub agent: String,
    /// What for.
    pub action: String,
}

/// `agent action DECISION (reason)`.
impl fmt::Display for RecordedDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} ({})",
            self.agent,
            self.action,
            self.decision.as_str(),
            self.reason
        )
    }
}

/// Why the decisions could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    Request(atlasent::Error),
    Event { id: String, problem: String },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Request(e) => write!(f, "listing the audit events failed: {e}"),
            ReadError::Event { id, problem } => write!(f, "audit event {id}: {problem}"),
        }
    }
}

/// Every evaluate event of the server's log, oldest first.
pub(crate) async fn read(client: &atlasent::Client) -> Result<Vec<RecordedDecision>, ReadError> {
    let mut decisions = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = AuditEventQuery::new().types(EVALUATE_EVENTS).limit(PAGE);
        if let Some(cursor) = cursor.take() {
            query = query.cursor(cursor);
        }
        let page = client
            .list_audit_events(&query)
            .await
            .map_err(ReadError::Request)?;
        for event in &page.events {
            decisions.push(from_event(event)?);
        }
        match page.next_cursor {
            Some(next) if !page.events.is_empty() => cursor = Some(next),
            _ => return Ok(decisions),
        }
    }
}

fn from_event(event: &AuditEvent) -> Result<RecordedDecision, ReadError> {
    let problem = |problem: String| ReadError::Event {
        id: event.id.clone(),
        problem,
    };
    let text = |name: &str| event.payload.get(name).and_then(Value::as_str);
    let required = |name: &str| {
        text(name)
            .map(str::to_owned)
            .ok_or_else(|| problem(format!("the payload has no {name}")))
    };
    let decision = match text("decision") {
        Some("allow") => Decision::Allow,
        Some("deny") => Decision::Deny,
        Some("hold") => Decision::Hold,
        Some("escalate") => Decision::Escalate,
        other => return Err(problem(format!("unknown decision {other:?}"))),
    };
    Ok(RecordedDecision {
        agent: required("agent")?,
        action: required("action")?,
        decision,
        reason: required("reason")?,
        rule: text("rule_id").map(str::to_owned),
        policy: text("policy_id").map(str::to_owned),
        code: text("code").map(str::to_owned),
        decision_id: required("decision_id")?,
    })
}

/// `None` when `actual` is exactly `expected`; else the message listing both.
pub(crate) fn compare(
    expected: &[(&str, &str, Decision)],
    actual: &[RecordedDecision],
) -> Option<String> {
    let same = expected.len() == actual.len()
        && expected
            .iter()
            .zip(actual)
            .all(|(&(agent, action, decision), a)| {
                a.agent == agent && a.action == action && a.decision == decision
            });
    if same {
        return None;
    }
    let mut message = String::from("the test server's decisions are not the ones expected\n");
    let _ = writeln!(message, "  expected ({}):", expected.len());
    if expected.is_empty() {
        message.push_str("    (none)\n");
    }
    for (i, (agent, action, decision)) in expected.iter().enumerate() {
        let _ = writeln!(
            message,
            "    {}. {agent} {action} {}",
            i + 1,
            decision.as_str()
        );
    }
    let _ = writeln!(message, "  actual ({}):", actual.len());
    if actual.is_empty() {
        message.push_str("    (none)\n");
    }
    for (i, decision) in actual.iter().enumerate() {
        let _ = writeln!(message, "    {}. {decision}", i + 1);
    }
    if let Some(i) = expected
        .iter()
        .zip(actual)
        .position(|(&(g, a, d), r)| r.agent != g || r.action != a || r.decision != d)
    {
        let _ = write!(message, "  first difference: #{}", i + 1);
    } else {
        let _ = write!(
            message,
            "  first difference: #{} ({})",
            expected.len().min(actual.len()) + 1,
            if expected.len() > actual.len() {
                "missing"
            } else {
                "unexpected"
            }
        );
    }
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(agent: &str, action: &str, decision: Decision) -> RecordedDecision {
        RecordedDecision {
            agent: agent.into(),
            action: action.into(),
            decision,
            reason: "why".into(),
            rule: None,
            policy: None,
            code: None,
            decision_id: "dec_1".into(),
        }
    }

    #[test]
    fn equal_lists_compare_equal() {
        let actual = [recorded("a", "x", Decision::Allow)];
        assert_eq!(compare(&[("a", "x", Decision::Allow)], &actual), None);
    }

    #[test]
    fn the_message_lists_both_and_the_first_difference() {
        let actual = [
            recorded("a", "x", Decision::Allow),
            recorded("a", "y", Decision::Deny),
        ];
        let message = compare(&[("a", "x", Decision::Allow)], &actual).expect("they differ");
        assert_eq!(
            message,
            "the test server's decisions are not the ones expected\n  \
             expected (1):\n    1. a x ALLOW\n  \
             actual (2):\n    1. a x ALLOW (why)\n    2. a y DENY (why)\n  \
             first difference: #2 (unexpected)"
        );
    }
}
