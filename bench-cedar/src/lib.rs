//! The cases of the policy bench: each is one set of policies written twice,
//! in atlasent-server's policy language and in Cedar, with the requests both
//! engines decide and the decision each must give.
//!
//! This library knows nothing of Cedar (it only writes Cedar's text and entity
//! JSON), so that cedar-policy stays a dev-dependency of the bench and of its
//! test; `shared/engines.rs` builds both engines from a [`Case`].
//!
//! The mapping: principal = the agent (`Agent::"<agent>"`, with its name as the
//! attribute `name`, since Cedar has no prefix test on an entity id), action =
//! the action (`Action::"<action>"`), resource = a fixed `Resource::"request"`
//! (our language has none), context = the request's context record. Our
//! "deny overrides, default deny" is Cedar's "forbid overrides permit, default
//! deny". A `require` key maps to `context has k && context.k != ""` (the
//! requests' required values are strings), a comparison on a key to
//! `context has k && context.k <= n` in a permit, and, since our refusing
//! rules fail closed on a missing key, to `!(context has k) || context.k > n`
//! in a forbid.

use serde_json::{json, Value};

/// One request and the decision both engines must give.
#[derive(Debug, Clone)]
pub struct Request {
    /// What the request shows (`allow`, `deny-rule`, `default-deny`,
    /// `bound`, ...).
    pub label: &'static str,
    /// The agent (Cedar's principal).
    pub agent: String,
    /// The action.
    pub action: String,
    /// The context: a JSON object.
    pub context: Value,
    /// Whether the decision is allow.
    pub allow: bool,
}

/// A set of policies in both languages and the requests to decide.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case's name (`demo`, `per-action-1000`, `one-action-100`, ...).
    pub name: String,
    /// The number of rules (ours) and of policies (Cedar's).
    pub rules: usize,
    /// Our policy documents.
    pub policies: Vec<Value>,
    /// The same policies in Cedar.
    pub cedar: String,
    /// Cedar's entity data (JSON): the agents, and action groups.
    pub entities: Value,
    /// The requests.
    pub requests: Vec<Request>,
}

/// The agents of the cases, as Cedar entities with a `name` attribute, and
/// the `read_*` actions as members of the action group `Action::"reads"`
/// (Cedar has no prefix test on an action's id; an application declares
/// such groups in its entity data or schema).
fn entities(agents: &[&str], read_actions: &[&str]) -> Value {
    let mut list: Vec<Value> = agents
        .iter()
        .map(|a| {
            json!({ "uid": { "type": "Agent", "id": a }, "attrs": { "name": a }, "parents": [] })
        })
        .collect();
    list.push(json!({ "uid": { "type": "Action", "id": "reads" }, "attrs": {}, "parents": [] }));
    for action in read_actions {
        list.push(json!({
            "uid": { "type": "Action", "id": action },
            "attrs": {},
            "parents": [{ "type": "Action", "id": "reads" }]
        }));
    }
    Value::Array(list)
}

fn request(label: &'static str, agent: &str, action: &str, context: Value, allow: bool) -> Request {
    Request {
        label,
        agent: agent.to_owned(),
        action: action.to_owned(),
        context,
        allow,
    }
}

/// The demo policy of `examples/policies/demo.json` (the file itself) and
/// its Cedar translation.
///
/// Where Cedar cannot say the same: `allow_other_table_drops_with_ticket`
/// matches the ticket with the regex `^OPS-[0-9]+$`, Cedar (no regexes) with
/// `like "OPS-*"`; the fail-closed type rules (a deny rule fires on
/// `"amount_usd": "50000"`) have no Cedar equivalent without a schema (a
/// Cedar policy that meets a value of the wrong type is skipped with an
/// error). The requests below stay where both mean the same.
///
/// # Panics
///
/// If the demo file in the repository is not JSON (a bench fixture).
pub fn demo() -> Case {
    let doc: Value = serde_json::from_str(include_str!("../../examples/policies/demo.json"))
        .expect("examples/policies/demo.json is JSON");
    let rules = doc["rules"].as_array().map_or(0, Vec::len);
    let cedar = r#"
@id("allow_staging_deploys")
permit(principal, action == Action::"deploy", resource)
when { context has environment && context.environment == "staging" };

@id("allow_approved_production_deploys")
permit(principal, action == Action::"deploy", resource)
when { context has environment && context.environment == "production"
       && context has approver && context.approver != "" };

@id("allow_small_wires")
permit(principal, action == Action::"wire_transfer", resource)
when { principal.name like "finance-*"
       && context has amount_usd && context.amount_usd <= 10000
       && context has memo && context.memo != "" };

@id("deny_large_wires")
forbid(principal, action == Action::"wire_transfer", resource)
when { !(context has amount_usd) || context.amount_usd > 10000 };

@id("allow_reads")
permit(principal, action in Action::"reads", resource);

@id("deny_destructive_database_commands")
forbid(principal, action == Action::"drop_table", resource)
when { context has table && ["users", "payments"].contains(context.table) };

@id("allow_other_table_drops_with_ticket")
permit(principal, action == Action::"drop_table", resource)
when { context has ticket && context.ticket like "OPS-*"
       && context has table && context.table != "" };
"#;
    let requests = vec![
        request(
            "allow",
            "finance-bot",
            "wire_transfer",
            json!({ "amount_usd": 500, "memo": "invoice 7" }),
            true,
        ),
        request(
            "deny-rule",
            "finance-bot",
            "wire_transfer",
            json!({ "amount_usd": 50000, "memo": "invoice 8" }),
            false,
        ),
        request(
            "default-deny",
            "ops-bot",
            "delete_everything",
            json!({ "reason": "cleanup" }),
            false,
        ),
        request(
            "bound",
            "finance-bot",
            "wire_transfer",
            json!({ "amount_usd": 10000, "memo": "invoice 9" }),
            true,
        ),
        // Not benched (the four above are); decided alike by both engines.
        request(
            "missing-amount",
            "finance-bot",
            "wire_transfer",
            json!({ "memo": "invoice 10" }),
            false,
        ),
        request(
            "agent-prefix",
            "ops-bot",
            "wire_transfer",
            json!({ "amount_usd": 500, "memo": "invoice 11" }),
            false,
        ),
        request(
            "staging",
            "ci-bot",
            "deploy",
            json!({ "environment": "staging" }),
            true,
        ),
        request(
            "production-no-approver",
            "ci-bot",
            "deploy",
            json!({ "environment": "production" }),
            false,
        ),
        request(
            "production-approved",
            "ci-bot",
            "deploy",
            json!({ "environment": "production", "approver": "alice" }),
            true,
        ),
        request("read-prefix", "ops-bot", "read_logs", json!({}), true),
        request(
            "drop-users",
            "ops-bot",
            "drop_table",
            json!({ "table": "users", "ticket": "OPS-12" }),
            false,
        ),
        request(
            "drop-with-ticket",
            "ops-bot",
            "drop_table",
            json!({ "table": "orders", "ticket": "OPS-12" }),
            true,
        ),
        request(
            "drop-without-ticket",
            "ops-bot",
            "drop_table",
            json!({ "table": "orders" }),
            false,
        ),
    ];
    Case {
        name: "demo".to_owned(),
        rules,
        policies: vec![doc],
        cedar: cedar.to_owned(),
        entities: entities(&["finance-bot", "ops-bot", "ci-bot"], &["read_logs"]),
        requests,
    }
}

/// The agent of the generated cases.
const AGENT: &str = "agent-7";

/// The four requests of a generated case on `action` (and, for the allow,
/// `tenant`, when rules are told apart by a context key).
fn generated_requests(action: &str, tenant: Option<&str>) -> Vec<Request> {
    let context = |amount: u32, region: &str| {
        let mut c = json!({ "amount": amount, "memo": "m", "region": region });
        if let Some(t) = tenant {
            c["tenant"] = json!(t);
        }
        c
    };
    vec![
        request("allow", AGENT, action, context(500, "eu"), true),
        request("deny-rule", AGENT, action, context(500, "embargoed"), false),
        request(
            "default-deny",
            AGENT,
            "unknown_action",
            context(500, "eu"),
            false,
        ),
        request("bound", AGENT, action, context(5000, "eu"), false),
    ]
}

/// `rules` rules, indexed by action: `rules / 2` actions `act_<i>`, each with
/// an allow rule (`amount` at most 1000, `memo` required) and a deny rule
/// (`region` in a list). A request looks at the two rules of its action.
///
/// # Panics
///
/// If `rules` is odd or below 2.
pub fn per_action(rules: usize) -> Case {
    assert!(rules >= 2 && rules.is_multiple_of(2), "an even number of rules");
    let actions = rules / 2;
    let mut ours = Vec::with_capacity(rules);
    let mut cedar = String::new();
    for i in 0..actions {
        let action = format!("act_{i}");
        ours.push(json!({
            "id": format!("allow_{i}"), "effect": "allow",
            "match": { "action": action, "context": { "amount": { "lte": 1000 } } },
            "require": ["memo"]
        }));
        ours.push(json!({
            "id": format!("deny_{i}"), "effect": "deny",
            "match": { "action": action, "context": { "region": { "in": ["embargoed", "sanctioned"] } } }
        }));
        cedar.push_str(&format!(
            "@id(\"allow_{i}\")\npermit(principal, action == Action::\"{action}\", resource)\n\
             when {{ context has amount && context.amount <= 1000 && context has memo && context.memo != \"\" }};\n\
             @id(\"deny_{i}\")\nforbid(principal, action == Action::\"{action}\", resource)\n\
             when {{ context has region && [\"embargoed\", \"sanctioned\"].contains(context.region) }};\n"
        ));
    }
    let doc =
        json!({ "policy_id": "generated", "version": "1.0.0", "default": "deny", "rules": ours });
    // A request for the last action, so a scan in rule order would be at its worst.
    let target = format!("act_{}", actions - 1);
    Case {
        name: format!("per-action-{rules}"),
        rules,
        policies: vec![doc],
        cedar,
        entities: entities(&[AGENT], &[]),
        requests: generated_requests(&target, None),
    }
}

/// `rules` rules on one action `shared`: `rules - 1` allow rules, one per
/// tenant (`tenant` equal to `t<i>`, `amount` at most 1000, `memo`
/// required), then one deny rule (`region` in a list). The action index
/// cannot tell them apart: every request for `shared` checks every rule.
///
/// # Panics
///
/// If `rules` is below 2.
pub fn one_action(rules: usize) -> Case {
    assert!(rules >= 2, "at least an allow and a deny rule");
    let mut ours = Vec::with_capacity(rules);
    let mut cedar = String::new();
    for i in 0..rules - 1 {
        ours.push(json!({
            "id": format!("allow_{i}"), "effect": "allow",
            "match": { "action": "shared", "context": { "tenant": format!("t{i}"), "amount": { "lte": 1000 } } },
            "require": ["memo"]
        }));
        cedar.push_str(&format!(
            "@id(\"allow_{i}\")\npermit(principal, action == Action::\"shared\", resource)\n\
             when {{ context has tenant && context.tenant == \"t{i}\" \
             && context has amount && context.amount <= 1000 && context has memo && context.memo != \"\" }};\n"
        ));
    }
    ours.push(json!({
        "id": "deny_embargo", "effect": "deny",
        "match": { "action": "shared", "context": { "region": { "in": ["embargoed", "sanctioned"] } } }
    }));
    cedar.push_str(
        "@id(\"deny_embargo\")\nforbid(principal, action == Action::\"shared\", resource)\n\
         when { context has region && [\"embargoed\", \"sanctioned\"].contains(context.region) };\n",
    );
    let doc =
        json!({ "policy_id": "generated", "version": "1.0.0", "default": "deny", "rules": ours });
    let tenant = format!("t{}", rules - 2);
    Case {
        name: format!("one-action-{rules}"),
        rules,
        policies: vec![doc],
        cedar,
        entities: entities(&[AGENT], &[]),
        requests: generated_requests("shared", Some(&tenant)),
    }
}

/// The rule counts of the generated cases.
pub const SIZES: [usize; 3] = [10, 100, 1000];

/// Every case: the demo, then the generated ones by size.
pub fn all() -> Vec<Case> {
    let mut cases = vec![demo()];
    cases.extend(SIZES.iter().map(|&n| per_action(n)));
    cases.extend(SIZES.iter().map(|&n| one_action(n)));
    cases
}
