//! The two request shapes of `/v1-evaluate` and `/v1-verify-permit`: which
//! one a body speaks, and the current shape's members.
//!
//! A body is *current* when it has a member only the current wire sends
//! (`action_type`, `actor_id`; on verify also `permit_token`,
//! `execution_hash`), *legacy* when it has one only 1.4.1 sends (`action`,
//! `agent`, `api_key`, `decision_id`; on verify also `context`), and a mix
//! is refused naming one member of each. A body of neither takes the legacy
//! path, whose messages name what is missing.
//!
//! Of the current evaluate's optional members, `environment`, `resource_id`
//! and `amount` join the context as keys of those names: the policies read
//! the merged context and the permit is bound to it (`context_hash`,
//! `execution_hash`), so a verifier binds with the context that includes
//! them. `require_approval` is honoured (fail closed: this server has no
//! approval workflow); the others (`approval`, `resource`, `current_state`,
//! `proposed_state`, `execution_binding`, `state_snapshot`,
//! `completion_proofs`, `evaluation_profile`, `explain`) are type-checked
//! and not evaluated.
//! `override` is refused: it could only weaken a decision.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::{ApiError, Fields, MAX_NAME_CHARS};
use crate::engine::{EvaluateInput, Shape, VerifyInput};

/// An endpoint that speaks both shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Evaluate,
    Verify,
}

impl Endpoint {
    /// Members only a current-shape body has.
    fn current_marks(self) -> &'static [&'static str] {
        match self {
            Self::Evaluate => &["action_type", "actor_id"],
            Self::Verify => &["permit_token", "action_type", "actor_id", "execution_hash"],
        }
    }

    /// Members only a 1.4.1 body has.
    fn legacy_marks(self) -> &'static [&'static str] {
        match self {
            Self::Evaluate => &["action", "agent", "api_key", "decision_id"],
            Self::Verify => &["decision_id", "action", "agent", "api_key", "context"],
        }
    }
}

/// The shape of a request body; a body with members of both is a 400.
pub(super) fn detect(
    map: &Map<String, Value>,
    endpoint: Endpoint,
    request_id: &str,
) -> Result<Shape, ApiError> {
    let first = |marks: &[&str]| map.keys().find(|k| marks.contains(&k.as_str())).cloned();
    match (
        first(endpoint.legacy_marks()),
        first(endpoint.current_marks()),
    ) {
        (Some(legacy), Some(current)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!(
                "request mixes the 1.4.1 shape (`{legacy}`) with the current shape \
                 (`{current}`); send one or the other"
            ),
            request_id,
        )),
        (None, Some(_)) => Ok(Shape::Current),
        _ => Ok(Shape::Legacy),
    }
}

/// The members of a current evaluate body.
const EVALUATE_MEMBERS: &[&str] = &[
    "action_type",
    "actor_id",
    "context",
    "resource_id",
    "amount",
    "environment",
    "require_approval",
    "explain",
    "approval",
    "resource",
    "current_state",
    "proposed_state",
    "execution_binding",
    "state_snapshot",
    "completion_proofs",
    "evaluation_profile",
];

/// The longest `resource_id` accepted (characters), as 2.x bounds it.
const MAX_RESOURCE_ID_CHARS: usize = 512;

/// A parsed current-shape evaluate body.
pub(super) struct CurrentEvaluate<'a> {
    action: &'a str,
    agent: &'a str,
    /// The context (`{}` when absent) plus the top-level `environment`,
    /// `resource_id` and `amount` it lacks: what the policies read and the
    /// permit is bound to.
    context: Map<String, Value>,
    /// The members of those three sent at the top level, as sent.
    top_level: Map<String, Value>,
    environment: Option<&'a str>,
    require_approval: bool,
}

/// Whether two values given for one policy input are the same (numbers by
/// value: `5` and `5.0` agree).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

impl<'a> CurrentEvaluate<'a> {
    pub(super) fn parse(
        map: &'a Map<String, Value>,
        request_id: &'a str,
    ) -> Result<Self, ApiError> {
        let fields = Fields::new(map, request_id);
        if map.contains_key("override") {
            return Err(ApiError::invalid(
                "`override` is not supported by this server (it could only weaken a decision)",
                request_id,
            ));
        }
        fields.refuse_unknown(EVALUATE_MEMBERS)?;
        let action = fields
            .string("action_type", true, 1, MAX_NAME_CHARS)?
            .unwrap_or_default();
        let agent = fields
            .string("actor_id", true, 1, MAX_NAME_CHARS)?
            .unwrap_or_default();
        let mut context = match map.get("context") {
            None => Map::new(),
            Some(_) => fields.object("context")?.clone(),
        };
        let environment = fields.string("environment", false, 1, MAX_NAME_CHARS)?;
        fields.string("resource_id", false, 0, MAX_RESOURCE_ID_CHARS)?;
        fields.typed("amount", "a number")?;
        let require_approval = fields.flag("require_approval")?;
        fields.flag("explain")?;
        for name in [
            "approval",
            "resource",
            "current_state",
            "proposed_state",
            "execution_binding",
            "state_snapshot",
        ] {
            fields.typed(name, "an object")?;
        }
        fields.typed("completion_proofs", "an array")?;
        fields.string("evaluation_profile", false, 0, MAX_NAME_CHARS)?;

        // Fail closed: a member that decides the policy is part of what the
        // permit is bound to, so it joins the context that is hashed.
        let mut top_level = Map::new();
        for name in ["environment", "resource_id", "amount"] {
            let Some(top) = map.get(name) else { continue };
            top_level.insert(name.to_owned(), top.clone());
            match context.get(name) {
                Some(inner) if !same(inner, top) => {
                    return Err(ApiError::invalid(
                        format!(
                            "`{name}` is given both at the top level and in `context`, \
                             with different values"
                        ),
                        request_id,
                    ))
                }
                Some(_) => {}
                None => {
                    context.insert(name.to_owned(), top.clone());
                }
            }
        }
        let environment = environment.or_else(|| map.get("context")?.get("environment")?.as_str());
        Ok(Self {
            action,
            agent,
            context,
            top_level,
            environment,
            require_approval,
        })
    }

    /// The request as the engine reads it.
    pub(super) fn input(&self) -> EvaluateInput<'_> {
        EvaluateInput {
            shape: Shape::Current,
            agent: self.agent,
            action: self.action,
            context: &self.context,
            top_level: Some(&self.top_level).filter(|t| !t.is_empty()),
            environment: self.environment,
            require_approval: self.require_approval,
        }
    }
}

/// The members of a current verify body.
const VERIFY_MEMBERS: &[&str] = &[
    "permit_token",
    "action_type",
    "actor_id",
    "environment",
    "execution_hash",
    "require_approval",
];

/// A current-shape verify body as the engine reads it.
pub(super) fn current_verify<'a>(
    map: &'a Map<String, Value>,
    request_id: &'a str,
) -> Result<VerifyInput<'a>, ApiError> {
    let fields = Fields::new(map, request_id);
    fields.refuse_unknown(VERIFY_MEMBERS)?;
    let permit_id = fields
        .string("permit_token", true, 1, MAX_NAME_CHARS)?
        .unwrap_or_default();
    let action = fields
        .string("action_type", false, 0, MAX_NAME_CHARS)?
        .unwrap_or_default();
    let agent = fields
        .string("actor_id", false, 0, MAX_NAME_CHARS)?
        .unwrap_or_default();
    let environment = fields.string("environment", false, 0, MAX_NAME_CHARS)?;
    let execution_hash = fields.string("execution_hash", false, 0, 64)?;
    if let Some(h) = execution_hash {
        if h.len() != 64 || !h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ApiError::invalid(
                "`execution_hash` must be a SHA-256 as 64 lowercase hexadecimal digits",
                request_id,
            ));
        }
    }
    Ok(VerifyInput {
        shape: Shape::Current,
        permit_id,
        agent,
        action,
        context: None,
        environment,
        execution_hash,
        require_approval: fields.flag("require_approval")?,
    })
}
