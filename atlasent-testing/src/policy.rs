//! A policy written in Rust: [`Policy`] and [`Rule`], turned into the
//! policy language's JSON document by [`Policy::to_json`].

use serde_json::{json, Map, Value};

/// A policy built in Rust, for a test that would rather not write JSON:
/// an id, a default (deny unless [`default_allow`](Policy::default_allow)),
/// and [`Rule`]s. It becomes the policy language's document
/// (`atlasent-server/docs/policy-language.md`) through
/// [`to_json`](Policy::to_json); the server checks it when the
/// [`TestServer`](crate::TestServer) starts, as it checks a file.
///
/// ```
/// use atlasent_testing::{Policy, Rule};
/// use serde_json::json;
///
/// let policy = Policy::new("payments")
///     .rule(Rule::allow("refund").agent("billing-bot").when("amount_usd", json!({ "lte": 100 })))
///     .rule(Rule::deny("refund").id("no_big_refunds").code("REFUND_TOO_LARGE")
///         .when("amount_usd", json!({ "gt": 100 })));
///
/// assert_eq!(policy.to_json(), json!({
///     "policy_id": "payments",
///     "version": "1.0.0",
///     "default": "deny",
///     "rules": [
///         { "id": "allow_refund_1", "effect": "allow",
///           "match": { "agent": "billing-bot", "action": "refund",
///                      "context": { "amount_usd": { "lte": 100 } } } },
///         { "id": "no_big_refunds", "effect": "deny", "code": "REFUND_TOO_LARGE",
///           "match": { "action": "refund", "context": { "amount_usd": { "gt": 100 } } } }
///     ]
/// }));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a policy does nothing until given to a TestServer"]
pub struct Policy {
    id: String,
    default_allow: bool,
    rules: Vec<Rule>,
}

impl Policy {
    /// A policy named `id` (its `policy_id`: lowercase letters, digits, `_`
    /// and `-`), with no rules yet and a default of deny.
    pub fn new(id: impl Into<String>) -> Self {
        Policy {
            id: id.into(),
            default_allow: false,
            rules: Vec::new(),
        }
    }

    /// Allow what no rule decides (`"default": "allow"`). A request is
    /// allowed by default only when every loaded policy's default is allow.
    pub fn default_allow(mut self) -> Self {
        self.default_allow = true;
        self
    }

    /// Add a rule (rules keep the order they are added in; the language
    /// needs at least one).
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The policy's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The policy language's document for this policy, version `1.0.0`.
    ///
    /// A rule without an [`id`](Rule::id) gets `<effect>_<action>_<n>`:
    /// the action with every character but `a-z`, `0-9`, `_` and `-`
    /// lowercased or replaced by `_`, and `n` counting from 1 among the
    /// rules of that effect and action (`allow_deploy_1`, `deny_deploy_1`,
    /// `deny_deploy_2`), so adding another rule leaves the others' ids be.
    pub fn to_json(&self) -> Value {
        let mut seen: Vec<(String, usize)> = Vec::new();
        let rules: Vec<Value> = self
            .rules
            .iter()
            .map(|rule| {
                let id = rule.id.clone().unwrap_or_else(|| {
                    let base = format!("{}_{}", rule.effect.as_str(), id_part(&rule.action));
                    let n = match seen.iter_mut().find(|(b, _)| *b == base) {
                        Some((_, n)) => {
                            *n += 1;
                            *n
                        }
                        None => {
                            seen.push((base.clone(), 1));
                            1
                        }
                    };
                    format!("{base}_{n}")
                });
                rule.to_json(id)
            })
            .collect();
        json!({
            "policy_id": self.id,
            "version": "1.0.0",
            "default": if self.default_allow { "allow" } else { "deny" },
            "rules": rules,
        })
    }
}

/// What a rule decides when it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
    Hold,
    Escalate,
}

impl Effect {
    fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
            Effect::Hold => "hold",
            Effect::Escalate => "escalate",
        }
    }
}

/// One rule of a [`Policy`]: an effect for one action (matched exactly),
/// narrowed by an agent and context matchers. See the policy language for
/// how rules combine: deny > escalate > hold > allow > default.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a rule does nothing until added to a Policy with .rule(..)"]
pub struct Rule {
    effect: Effect,
    action: String,
    id: Option<String>,
    agent: Option<String>,
    context: Map<String, Value>,
    require: Vec<String>,
    code: Option<String>,
}

impl Rule {
    fn new(effect: Effect, action: impl Into<String>) -> Self {
        Rule {
            effect,
            action: action.into(),
            id: None,
            agent: None,
            context: Map::new(),
            require: Vec::new(),
            code: None,
        }
    }

    /// Allow `action` (a permit is issued).
    pub fn allow(action: impl Into<String>) -> Self {
        Rule::new(Effect::Allow, action)
    }

    /// Deny `action` (code `DENY_POLICY` unless [`code`](Rule::code) names one).
    pub fn deny(action: impl Into<String>) -> Self {
        Rule::new(Effect::Deny, action)
    }

    /// Hold `action` for a human (`atlasent::Error::Held`; code `ACTOR_HELD`
    /// unless [`code`](Rule::code) names one).
    pub fn hold(action: impl Into<String>) -> Self {
        Rule::new(Effect::Hold, action)
    }

    /// Escalate `action` to a reviewer (`atlasent::Error::Held`; code
    /// `ESCALATE_REQUIRED` unless [`code`](Rule::code) names one).
    pub fn escalate(action: impl Into<String>) -> Self {
        Rule::new(Effect::Escalate, action)
    }

    /// The rule's id, named in reasons (`denied by policy P rule ID`) and
    /// read by [`assert_denied_by`](crate::assert_denied_by); default
    /// `<effect>_<action>_<n>` (see [`Policy::to_json`]).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Apply only to this agent (matched exactly).
    pub fn agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    /// Apply only when the context's `key` meets `matcher`: a literal
    /// (`json!("prod")`, `json!(3)`) or a matcher object of the language
    /// (`json!({ "lte": 100 })`, `json!({ "in": ["a", "b"] })`,
    /// `json!({ "exists": true })`, `json!({ "regex": "^OPS-" })`). A second
    /// call for one key replaces the first.
    pub fn when(mut self, key: impl Into<String>, matcher: Value) -> Self {
        self.context.insert(key.into(), matcher);
        self
    }

    /// On an allow rule: allow only when each of these context keys is
    /// present and non-empty (else the default decides, code
    /// `MISSING_REQUIRED_CONTEXT`).
    pub fn require<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.require.extend(keys.into_iter().map(Into::into));
        self
    }

    /// On a deny, hold or escalate rule: the refusal's code
    /// (UPPER_SNAKE_CASE), read as `Denial::deny_code`.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    fn to_json(&self, id: String) -> Value {
        let mut matcher = Map::new();
        if let Some(agent) = &self.agent {
            matcher.insert("agent".into(), Value::from(agent.as_str()));
        }
        matcher.insert("action".into(), Value::from(self.action.as_str()));
        if !self.context.is_empty() {
            matcher.insert("context".into(), Value::Object(self.context.clone()));
        }
        let mut rule = Map::new();
        rule.insert("id".into(), Value::from(id));
        rule.insert("effect".into(), Value::from(self.effect.as_str()));
        rule.insert("match".into(), Value::Object(matcher));
        if !self.require.is_empty() {
            rule.insert("require".into(), Value::from(self.require.clone()));
        }
        if let Some(code) = &self.code {
            rule.insert("code".into(), Value::from(code.as_str()));
        }
        Value::Object(rule)
    }
}

/// An action name as it may appear in a rule id.
fn id_part(action: &str) -> String {
    action
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ids_count_per_effect_and_action() {
        let doc = Policy::new("p")
            .rule(Rule::allow("Deploy.Prod"))
            .rule(Rule::deny("deploy.prod"))
            .rule(Rule::allow("deploy.prod").id("mine"))
            .rule(Rule::deny("deploy.prod"))
            .to_json();
        let ids: Vec<&str> = doc["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "allow_deploy_prod_1",
                "deny_deploy_prod_1",
                "mine",
                "deny_deploy_prod_2"
            ]
        );
    }

    #[test]
    fn every_builder_call_compiles_to_a_valid_policy() {
        let doc = Policy::new("all")
            .default_allow()
            .rule(
                Rule::allow("a")
                    .agent("x")
                    .require(["memo"])
                    .when("n", json!({ "lte": 3 })),
            )
            .rule(Rule::deny("a").code("NOPE"))
            .rule(Rule::hold("b"))
            .rule(Rule::escalate("c").code("UP"))
            .to_json();
        atlasent_server::Policy::from_value(&doc).expect("the builder writes valid policies");
        assert_eq!(doc["default"], "allow");
        assert_eq!(doc["rules"][0]["require"], json!(["memo"]));
    }
}
