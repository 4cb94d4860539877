//! Field-by-field validation of request bodies and query strings, with
//! precise messages: the members allowed, the types and lengths of each.

use atlasent::wire::json_kind;
use atlasent::wire::limits::MAX_NAME_CHARS;
use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::store::TimeRange;

/// Refuse a name outside `allowed`: `what` is `field` (a body member) or
/// `query parameter`.
fn refuse_unknown<'k>(
    names: impl IntoIterator<Item = &'k String>,
    allowed: &[&str],
    what: &str,
) -> Result<(), ApiError> {
    match names.into_iter().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::invalid(format!(
            "unknown {what} `{unknown}`; expected {}",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

/// Refuse a string holding U+0000: no value the server stores may hold it
/// (PostgreSQL's text cannot, and a name or reason has no use for it).
pub(super) fn no_nul(name: &str, value: &str) -> Result<(), ApiError> {
    match value.contains('\0') {
        true => Err(ApiError::invalid(format!(
            "`{name}` must not contain the character U+0000"
        ))),
        false => Ok(()),
    }
}

/// The query string of a listing, as axum reads it.
pub(super) type QueryPairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// The query parameters of a request, each at most once and each one of
/// `allowed`, as a map of strings.
pub(super) fn query(query: QueryPairs, allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let Query(pairs) =
        query.map_err(|e| ApiError::invalid(format!("the query string cannot be read: {e}")))?;
    let mut out = Map::new();
    for (name, value) in pairs {
        refuse_unknown([&name], allowed, "query parameter")?;
        no_nul(&name, &value)?;
        if out.insert(name.clone(), Value::String(value)).is_some() {
            return Err(ApiError::invalid(format!(
                "query parameter `{name}` is given twice"
            )));
        }
    }
    Ok(out)
}

/// The members of a request body (or the parameters of a query), read one
/// by one.
#[derive(Clone, Copy)]
pub(super) struct Fields<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub(super) fn new(map: &'a Map<String, Value>) -> Self {
        Self { map }
    }

    /// Refuse a member outside `allowed`.
    pub(super) fn refuse_unknown(&self, allowed: &[&str]) -> Result<(), ApiError> {
        refuse_unknown(self.map.keys(), allowed, "field")
    }

    /// A string member of `min` to `max` characters; `None` when absent and
    /// not `required`.
    pub(super) fn string(
        &self,
        name: &str,
        required: bool,
        min: usize,
        max: usize,
    ) -> Result<Option<&'a str>, ApiError> {
        match self.map.get(name) {
            None if required => Err(missing(name)),
            None => Ok(None),
            Some(Value::String(s)) => {
                let chars = s.chars().count();
                if chars < min || chars > max {
                    let range = if min == 0 {
                        format!("at most {max}")
                    } else {
                        format!("{min} to {max}")
                    };
                    return Err(ApiError::invalid(format!(
                        "`{name}` must be {range} characters, got {chars}"
                    )));
                }
                no_nul(name, s)?;
                Ok(Some(s))
            }
            Some(other) => Err(ApiError::invalid(format!(
                "`{name}` must be a string, got {}",
                json_kind(other)
            ))),
        }
    }

    /// A required name (agent, action, permit id): 1 to
    /// [`MAX_NAME_CHARS`] characters.
    pub(super) fn name(&self, name: &str) -> Result<&'a str, ApiError> {
        Ok(self
            .string(name, true, 1, MAX_NAME_CHARS)?
            .unwrap_or_default())
    }

    /// An optional name checked against a permit (`""` when absent): at
    /// most [`MAX_NAME_CHARS`] characters.
    pub(super) fn cross_check(&self, name: &str) -> Result<&'a str, ApiError> {
        Ok(self
            .string(name, false, 0, MAX_NAME_CHARS)?
            .unwrap_or_default())
    }

    /// An optional member of the JSON type `kind` (`"a boolean"`, …), as
    /// [`json_kind`] names types.
    pub(super) fn typed(&self, name: &str, kind: &str) -> Result<Option<&'a Value>, ApiError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(v) if json_kind(v) == kind => Ok(Some(v)),
            Some(other) => Err(ApiError::invalid(format!(
                "`{name}` must be {kind}, got {}",
                json_kind(other)
            ))),
        }
    }

    /// An optional boolean member (`false` when absent).
    pub(super) fn flag(&self, name: &str) -> Result<bool, ApiError> {
        Ok(self
            .typed(name, "a boolean")?
            .and_then(Value::as_bool)
            .unwrap_or(false))
    }

    /// A required object member.
    pub(super) fn object(&self, name: &str) -> Result<&'a Map<String, Value>, ApiError> {
        match self.map.get(name) {
            None => Err(missing(name)),
            Some(Value::Object(o)) => Ok(o),
            Some(other) => Err(ApiError::invalid(format!(
                "`{name}` must be a JSON object, got {}",
                json_kind(other)
            ))),
        }
    }

    /// An optional object member.
    pub(super) fn optional_object(
        &self,
        name: &str,
    ) -> Result<Option<&'a Map<String, Value>>, ApiError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(_) => self.object(name).map(Some),
        }
    }

    /// A non-empty string parameter of a query (an empty one is as absent).
    pub(super) fn param(&self, name: &str) -> Option<&'a str> {
        self.map
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    }

    /// An RFC 3339 timestamp parameter, as Unix milliseconds.
    pub(super) fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.param(name) {
            None => Ok(None),
            Some(v) => crate::clock::parse_rfc3339_ms(v).map(Some).ok_or_else(|| {
                ApiError::invalid(format!("`{name}` must be an RFC 3339 timestamp, got {v:?}"))
            }),
        }
    }

    /// The `from` and `to` parameters (RFC 3339) of a listing.
    pub(super) fn time_range(&self) -> Result<TimeRange, ApiError> {
        Ok(TimeRange {
            from_ms: self.time("from")?,
            to_ms: self.time("to")?,
        })
    }

    /// A page size: `default` when absent, else 1 to `max`.
    pub(super) fn page_limit(&self, default: u32, max: u32) -> Result<u32, ApiError> {
        match self.map.get("limit").and_then(Value::as_str) {
            None => Ok(default),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "`limit` must be an integer from 1 to {max}, got {v:?}"
                    ))
                }),
        }
    }

    /// A `cursor` parameter this server issued, read by `parse`.
    pub(super) fn cursor<C>(
        &self,
        parse: impl Fn(&str) -> Option<C>,
    ) -> Result<Option<C>, ApiError> {
        match self.param("cursor") {
            None => Ok(None),
            Some(v) => parse(v).map(Some).ok_or_else(|| {
                ApiError::invalid(format!("`cursor` {v:?} is not a cursor this server issued"))
            }),
        }
    }
}

/// The error of a required member that is absent.
fn missing(name: &str) -> ApiError {
    ApiError::invalid(format!("missing required field `{name}`"))
}
