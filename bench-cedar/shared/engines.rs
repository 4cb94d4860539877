//! Both engines built from a [`Case`], for the bench and the test (included
//! by `#[path]`: cedar-policy is a dev-dependency, so it cannot live in the
//! library).

use std::str::FromStr;

use atlasent_bench_cedar::{Case, Request};
use atlasent_server::policy::{Effect, Policy, PolicySet};
use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityId, EntityTypeName, EntityUid,
    PolicySet as CedarPolicySet, Request as CedarRequest,
};
use serde_json::{Map, Value};

/// One request, ready for both engines.
pub struct Prepared {
    /// The request as the case gives it.
    pub request: Request,
    /// Our side's input: the context as a serde_json map.
    pub context: Map<String, Value>,
    /// Cedar's whole request, built once.
    pub cedar: CedarRequest,
}

/// A case compiled by both engines.
pub struct Engines {
    /// Ours.
    pub ours: PolicySet,
    /// Cedar's policies.
    pub cedar: CedarPolicySet,
    /// Cedar's entity data.
    pub entities: Entities,
    /// Cedar's authorizer.
    pub authorizer: Authorizer,
    /// The entity types of Cedar's principal and action, parsed once.
    pub agent_type: EntityTypeName,
    /// `Action`.
    pub action_type: EntityTypeName,
    /// The fixed resource.
    pub resource: EntityUid,
    /// The requests.
    pub requests: Vec<Prepared>,
}

/// Build both engines and every request of `case`; panics on a fixture that
/// either engine refuses.
pub fn build(case: &Case) -> Engines {
    let policies = case
        .policies
        .iter()
        .map(|doc| Policy::from_value(doc).expect("our policy loads"))
        .collect();
    let ours = PolicySet::new(policies).expect("distinct policy ids");
    let cedar = CedarPolicySet::from_str(&case.cedar).expect("the Cedar policies parse");
    assert_eq!(
        cedar.policies().count(),
        case.rules,
        "{}: one Cedar policy per rule",
        case.name
    );
    let entities =
        Entities::from_json_value(case.entities.clone(), None).expect("the Cedar entities load");
    let agent_type = EntityTypeName::from_str("Agent").expect("a type name");
    let action_type = EntityTypeName::from_str("Action").expect("a type name");
    let resource = EntityUid::from_str(r#"Resource::"request""#).expect("an entity uid");
    let mut engines = Engines {
        ours,
        cedar,
        entities,
        authorizer: Authorizer::new(),
        agent_type,
        action_type,
        resource,
        requests: Vec::new(),
    };
    engines.requests = case
        .requests
        .iter()
        .map(|r| Prepared {
            request: r.clone(),
            context: r.context.as_object().expect("a context object").clone(),
            cedar: engines.cedar_request(&r.agent, &r.action, r.context.clone()),
        })
        .collect();
    engines
}

impl Engines {
    /// Our decision: whether it allows.
    pub fn ours_allows(&self, p: &Prepared) -> bool {
        let d = self
            .ours
            .evaluate(&p.request.agent, &p.request.action, &p.context);
        d.effect == Effect::Allow
    }

    /// Build Cedar's request from the agent, the action and the context JSON
    /// (what a server holding JSON would do per request).
    pub fn cedar_request(&self, agent: &str, action: &str, context: Value) -> CedarRequest {
        let principal =
            EntityUid::from_type_name_and_id(self.agent_type.clone(), EntityId::new(agent));
        let action =
            EntityUid::from_type_name_and_id(self.action_type.clone(), EntityId::new(action));
        let context = Context::from_json_value(context, None).expect("a Cedar context");
        CedarRequest::new(principal, action, self.resource.clone(), context, None)
            .expect("a Cedar request")
    }

    /// Cedar's decision on a request built beforehand: whether it allows.
    pub fn cedar_allows(&self, request: &CedarRequest) -> bool {
        let response = self
            .authorizer
            .is_authorized(request, &self.cedar, &self.entities);
        assert!(
            response.diagnostics().errors().next().is_none(),
            "no Cedar policy errs on the bench's requests"
        );
        response.decision() == Decision::Allow
    }

    /// Check that both engines give every request of the case its expected
    /// decision; panics naming the first that does not.
    pub fn check(&self, case: &str) {
        for p in &self.requests {
            let want = p.request.allow;
            assert_eq!(
                self.ours_allows(p),
                want,
                "{case}/{}: ours",
                p.request.label
            );
            assert_eq!(
                self.cedar_allows(&p.cedar),
                want,
                "{case}/{}: cedar",
                p.request.label
            );
        }
    }
}
