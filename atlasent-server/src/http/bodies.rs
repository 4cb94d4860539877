//! What each request means: the bodies of the POST endpoints and the queries
//! of the listings, read into the engine's inputs.
//!
//! `/v1-evaluate` and `/v1-verify-permit` take two shapes: which one a body
//! speaks, and each shape's members.
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

use atlasent::wire::limits::{
    DEFAULT_EVENTS_PAGE, DEFAULT_PERMITS_PAGE, MAX_EVENTS_PAGE, MAX_NAME_CHARS, MAX_PERMITS_PAGE,
    MAX_PERMIT_ID_CHARS, MAX_RESOURCE_ID_CHARS,
};
use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use serde_json::{Map, Value};
use std::sync::LazyLock;

use super::error::ApiError;
use super::fields::{self, Fields, QueryPairs};
use crate::engine::{
    EvaluateInput, EventFilter, EventQuery, Page, PermitCursor, PermitFilter, PermitQuery,
    PermitStatus, Shape, VerifyInput,
};

/// An endpoint that speaks both shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
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
fn detect(map: &Map<String, Value>, endpoint: Endpoint) -> Result<Shape, ApiError> {
    let first = |marks: &[&str]| map.keys().find(|k| marks.contains(&k.as_str())).cloned();
    match (
        first(endpoint.legacy_marks()),
        first(endpoint.current_marks()),
    ) {
        (Some(legacy), Some(current)) => Err(ApiError::bad_request(format!(
            "request mixes the 1.4.1 shape (`{legacy}`) with the current shape \
             (`{current}`); send one or the other"
        ))),
        (None, Some(_)) => Ok(Shape::Current),
        _ => Ok(Shape::Legacy),
    }
}

/// The members of a 1.4.1 evaluate body.
const LEGACY_EVALUATE: &[&str] = &["action", "agent", "context", "api_key"];
/// The members of a 1.4.1 verify body.
const LEGACY_VERIFY: &[&str] = &["decision_id", "action", "agent", "context", "api_key"];

/// An evaluate body of either shape.
pub(super) enum Evaluate<'a> {
    /// 1.4.1: `agent`, `action` and `context`.
    Legacy {
        agent: &'a str,
        action: &'a str,
        context: &'a Map<String, Value>,
    },
    /// The current shape.
    Current(CurrentEvaluate<'a>),
}

impl<'a> Evaluate<'a> {
    /// Read an evaluate body.
    pub(super) fn parse(map: &'a Map<String, Value>) -> Result<Self, ApiError> {
        if detect(map, Endpoint::Evaluate)? == Shape::Current {
            return CurrentEvaluate::parse(map).map(Self::Current);
        }
        let fields = Fields::new(map);
        fields.refuse_unknown(LEGACY_EVALUATE)?;
        let (action, agent) = (fields.name("action")?, fields.name("agent")?);
        let context = fields.object("context")?;
        // The permit records the context's environment.
        if let Some(Value::String(environment)) = context.get("environment") {
            context_environment(environment)?;
        }
        Ok(Self::Legacy {
            action,
            agent,
            context,
        })
    }
}

/// The context's `environment`, which the permit records when the body has
/// no top-level one: at most [`MAX_NAME_CHARS`] characters (as the
/// top-level member) and no U+0000.
fn context_environment(environment: &str) -> Result<&str, ApiError> {
    let chars = environment.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "`context.environment` must be at most {MAX_NAME_CHARS} characters, got {chars}"
        )));
    }
    fields::no_nul("context.environment", environment)?;
    Ok(environment)
}

/// A verify body of either shape, as the engine reads it.
pub(super) fn verify(map: &Map<String, Value>) -> Result<VerifyInput<'_>, ApiError> {
    if detect(map, Endpoint::Verify)? == Shape::Current {
        return current_verify(map);
    }
    let fields = Fields::new(map);
    fields.refuse_unknown(LEGACY_VERIFY)?;
    let permit_id = fields.name("decision_id")?;
    let action = fields.cross_check("action")?;
    let agent = fields.cross_check("agent")?;
    let context = fields.optional_object("context")?;
    Ok(VerifyInput::legacy(permit_id, agent, action, context))
}

/// The members of a current evaluate body that are objects, type-checked
/// and not evaluated.
const UNEVALUATED_OBJECTS: &[&str] = &[
    "approval",
    "resource",
    "current_state",
    "proposed_state",
    "execution_binding",
    "state_snapshot",
];

/// The members of a current evaluate body.
static EVALUATE_MEMBERS: LazyLock<Vec<&str>> = LazyLock::new(|| {
    let read = [
        "action_type",
        "actor_id",
        "context",
        "resource_id",
        "amount",
        "environment",
        "require_approval",
        "explain",
    ];
    let checked = ["completion_proofs", "evaluation_profile"];
    [&read[..], UNEVALUATED_OBJECTS, &checked].concat()
});

/// A parsed current-shape evaluate body.
pub(super) struct CurrentEvaluate<'a> {
    action: &'a str,
    agent: &'a str,
    /// The context (`{}` when absent) plus the top-level `environment`,
    /// `resource_id` and `amount` it lacks: what the policies read and the
    /// permit is bound to.
    context: Map<String, Value>,
    /// The members of those three sent at the top level, as sent (the
    /// audit log records a number as `JSON.stringify` writes it: an integer
    /// beyond 2^53 as its nearest double, like every number of the chain).
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
    fn parse(map: &'a Map<String, Value>) -> Result<Self, ApiError> {
        let fields = Fields::new(map);
        if map.contains_key("override") {
            return Err(ApiError::invalid(
                "`override` is not supported by this server (it could only weaken a decision)",
            ));
        }
        fields.refuse_unknown(&EVALUATE_MEMBERS)?;
        let action = fields.name("action_type")?;
        let agent = fields.name("actor_id")?;
        let mut context = fields
            .optional_object("context")?
            .cloned()
            .unwrap_or_default();
        let environment = fields.string("environment", false, 1, MAX_NAME_CHARS)?;
        fields.string("resource_id", false, 0, MAX_RESOURCE_ID_CHARS)?;
        fields.typed("amount", "a number")?;
        let require_approval = fields.flag("require_approval")?;
        fields.flag("explain")?;
        for name in UNEVALUATED_OBJECTS {
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
                    return Err(ApiError::invalid(format!(
                        "`{name}` is given both at the top level and in `context`, with \
                         different values"
                    )))
                }
                Some(_) => {}
                None => {
                    context.insert(name.to_owned(), top.clone());
                }
            }
        }
        // The permit is bound to the environment, from the top level or
        // else the context's: the same bounds either way.
        let environment = match environment {
            Some(top) => Some(top),
            None => match map.get("context").and_then(|c| c.get("environment")) {
                Some(Value::String(inner)) => Some(context_environment(inner)?),
                _ => None,
            },
        };
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
fn current_verify(map: &Map<String, Value>) -> Result<VerifyInput<'_>, ApiError> {
    let fields = Fields::new(map);
    fields.refuse_unknown(VERIFY_MEMBERS)?;
    let permit_id = fields.name("permit_token")?;
    let action = fields.cross_check("action_type")?;
    let agent = fields.cross_check("actor_id")?;
    let environment = fields.string("environment", false, 0, MAX_NAME_CHARS)?;
    let execution_hash = fields.string("execution_hash", false, 0, 64)?;
    if let Some(h) = execution_hash {
        if !crate::store::chain::is_sha256_hex(h) {
            return Err(ApiError::invalid(
                "`execution_hash` must be a SHA-256 as 64 lowercase hexadecimal digits",
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

/// The members of a revoke body.
pub(super) const REVOKE_MEMBERS: &[&str] = &["decision_id", "reason", "api_key"];
/// The members of an audit export body.
pub(super) const EXPORT_MEMBERS: &[&str] = &["types", "actor_id", "from", "to", "api_key"];
/// The members of a `POST /v1/permits/{id}/verify` body.
pub(super) const VERIFY_BY_ID_MEMBERS: &[&str] = &["api_key"];
/// The members of a `POST /v1/permits/{id}/revoke` body.
pub(super) const REVOKE_BY_ID_MEMBERS: &[&str] = &["reason", "api_key"];

/// The query parameters of the listings that choose a time range and page.
const PAGE_PARAMS: [&str; 4] = ["from", "to", "limit", "cursor"];
/// The query parameters of `GET /v1-audit/events`.
static EVENTS_PARAMS: LazyLock<Vec<&str>> =
    LazyLock::new(|| [&["types", "actor_id"][..], &PAGE_PARAMS].concat());
/// The query parameters of `GET /v1/permits`.
static PERMITS_PARAMS: LazyLock<Vec<&str>> =
    LazyLock::new(|| [&["status", "actor_id", "action_type"][..], &PAGE_PARAMS].concat());

/// The event filter of an audit listing's query or an export's body.
pub(super) fn event_filter(q: Fields<'_>) -> Result<EventFilter, ApiError> {
    Ok(EventFilter {
        types: q
            .param("types")
            .map(|t| {
                t.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        actor_id: q.param("actor_id").map(str::to_owned),
        occurred: q.time_range()?,
    })
}

/// The filter, page size and cursor of an audit listing.
pub(super) fn events_page(query: QueryPairs) -> Result<EventQuery, ApiError> {
    let q = fields::query(query, &EVENTS_PARAMS)?;
    let q = Fields::new(&q);
    Ok(Page {
        filter: event_filter(q)?,
        limit: q.page_limit(DEFAULT_EVENTS_PAGE, MAX_EVENTS_PAGE)?,
        after: q.cursor(|v| v.parse::<i64>().ok().filter(|n| *n >= 0))?,
    })
}

/// The filter, page size and cursor of a permit listing.
pub(super) fn permits_page(query: QueryPairs) -> Result<PermitQuery, ApiError> {
    let q = fields::query(query, &PERMITS_PARAMS)?;
    let q = Fields::new(&q);
    let status = match q.param("status") {
        None => None,
        Some(v) => Some(PermitStatus::parse(v).ok_or_else(|| {
            let all: Vec<&str> = PermitStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::invalid(format!(
                "`status` must be one of {}, got {v:?}",
                all.join(", ")
            ))
        })?),
    };
    let limit = q.page_limit(DEFAULT_PERMITS_PAGE, MAX_PERMITS_PAGE)?;
    let after = q.cursor(PermitCursor::parse)?;
    let filter = PermitFilter {
        status,
        actor_id: q.param("actor_id").map(str::to_owned),
        action: q.param("action_type").map(str::to_owned),
        issued: q.time_range()?,
    };
    Ok(Page {
        filter,
        limit,
        after,
    })
}

/// The permit id of a path, or the 404 of a permit that cannot exist (a
/// path that does not decode, an id longer than any this server issues).
pub(super) fn permit_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    match path {
        Ok(Path(id))
            if !id.is_empty()
                && id.chars().count() <= MAX_PERMIT_ID_CHARS
                && !id.contains('\0') =>
        {
            Ok(id)
        }
        _ => Err(ApiError::permit_not_found()),
    }
}
