//! The `WHERE` clauses of the listings, the same SQL for every store: only
//! the parameters' placeholder (`?1`, `$1`) and type differ.

use atlasent::wire::PermitStatus;

use super::{EventFilter, PermitCursor, PermitFilter, TimeRange};

/// A store's query parameter, made from the values filters hold.
pub(crate) trait Param {
    /// A text parameter.
    fn text(value: String) -> Self;
    /// An integer parameter.
    fn integer(value: i64) -> Self;
}

/// A `WHERE` clause under construction, with its parameters.
pub(crate) struct Where<P> {
    clauses: Vec<String>,
    pub(crate) params: Vec<P>,
    /// What a placeholder starts with: `?` (SQLite), `$` (PostgreSQL).
    mark: char,
}

impl<P: Param> Where<P> {
    /// `org_id = <first parameter>`.
    pub(crate) fn org(mark: char, org_id: &str) -> Where<P> {
        let mut w = Where {
            clauses: Vec::new(),
            params: Vec::new(),
            mark,
        };
        let org = w.bind(P::text(org_id.to_owned()));
        w.clauses.push(format!("org_id = {org}"));
        w
    }

    /// The placeholder of a new parameter.
    pub(crate) fn bind(&mut self, value: P) -> String {
        self.params.push(value);
        format!("{}{}", self.mark, self.params.len())
    }

    /// `column op <parameter>` when `value` is given.
    fn compare(&mut self, column: &str, op: &str, value: Option<P>) {
        if let Some(value) = value {
            let mark = self.bind(value);
            self.clauses.push(format!("{column} {op} {mark}"));
        }
    }

    /// `column >= from AND column <= to` for the ends `range` gives.
    fn range(&mut self, column: &str, range: TimeRange) {
        self.compare(column, ">=", range.from_ms.map(P::integer));
        self.compare(column, "<=", range.to_ms.map(P::integer));
    }

    /// `column > after` when given (an event listing's cursor).
    pub(crate) fn after(&mut self, column: &str, after: Option<i64>) {
        self.compare(column, ">", after.map(P::integer));
    }

    /// A permit listing's cursor: the permits after `cursor`, newest first.
    pub(crate) fn before_permit(&mut self, cursor: &PermitCursor) {
        let ms = self.bind(P::integer(cursor.issued_ms));
        let id = self.bind(P::text(cursor.id.clone()));
        self.clauses.push(format!(
            "(issued_ms < {ms} OR (issued_ms = {ms} AND id < {id}))"
        ));
    }

    /// The clause's SQL (after `WHERE`).
    pub(crate) fn sql(&self) -> String {
        self.clauses.join(" AND ")
    }
}

/// The `WHERE` clause of an organization's events.
pub(crate) fn events<P: Param>(mark: char, org_id: &str, filter: &EventFilter) -> Where<P> {
    let mut w = Where::org(mark, org_id);
    if !filter.types.is_empty() {
        let marks: Vec<String> = filter
            .types
            .iter()
            .map(|t| w.bind(P::text(t.clone())))
            .collect();
        w.clauses.push(format!("type IN ({})", marks.join(", ")));
    }
    w.compare("actor_id", "=", filter.actor_id.clone().map(P::text));
    w.range("occurred_ms", filter.occurred);
    w
}

/// The condition selecting permits of `status` at `now_ms`.
fn status<P: Param>(w: &mut Where<P>, status: &PermitStatus, now_ms: i64) {
    let clause = match status {
        PermitStatus::Issued => {
            let now = w.bind(P::integer(now_ms));
            format!("status = 'active' AND expires_ms >= {now}")
        }
        PermitStatus::Expired => {
            let now = w.bind(P::integer(now_ms));
            format!("status = 'active' AND expires_ms < {now}")
        }
        PermitStatus::Verified => "status = 'consumed' AND used_via = 'by_id'".into(),
        PermitStatus::Consumed => {
            "status = 'consumed' AND used_via IS DISTINCT FROM 'by_id'".into()
        }
        PermitStatus::Revoked => "status = 'revoked'".into(),
        // A status no permit has.
        _ => "FALSE".into(),
    };
    w.clauses.push(clause);
}

/// The `WHERE` clause of an organization's permits (allow decisions).
pub(crate) fn permits<P: Param>(
    mark: char,
    org_id: &str,
    filter: &PermitFilter,
    now_ms: i64,
) -> Where<P> {
    let mut w = Where::org(mark, org_id);
    w.clauses.push("decision = 'allow'".into());
    if let Some(s) = &filter.status {
        status(&mut w, s, now_ms);
    }
    w.compare("agent", "=", filter.actor_id.clone().map(P::text));
    w.compare("action", "=", filter.action.clone().map(P::text));
    w.range("issued_ms", filter.issued);
    w
}
