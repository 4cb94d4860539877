//! Actions as types at run time, against the real local server on loopback
//! (the demo policy of `examples/policies/demo.json`), on both wires:
//! `protect_as` allows and denies as `protect` does and types the permit;
//! `downcast` checks the verified action; the typed attribute runs its body
//! only with a permit for its action; the typed context reaches the policy
//! with its keys as serde writes them.

#[path = "../examples/support/actions.rs"]
mod actions;
#[path = "support/server.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actions::{WireContext, WireTransfer};
use atlasent::{Action, DenyCode, Permit, Wire};
use atlasent_server::RunningServer;
use serde_json::json;

const KEY: &str = "ask_test_typed_actions";

#[atlasent::action("read_tables")]
struct ReadTables;

#[atlasent::action("deploy")]
struct Deploy;

async fn server() -> RunningServer {
    support::policy_server(support::DEMO_POLICY, KEY).await
}

fn client(server: &RunningServer, wire: Wire) -> atlasent::Client {
    atlasent::Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .wire(wire)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn wire_context(amount_usd: u64, memo: &str) -> WireContext {
    WireContext {
        amount_usd,
        counterparty_id: "acme-corp".into(),
        memo: memo.into(),
    }
}

const WIRES: [Wire; 2] = [Wire::Current, Wire::Legacy];

/// The denial of a `wire_transfer` of `amount_usd` with `memo` (`why` it
/// must be denied).
async fn denial_of(
    client: &atlasent::Client,
    wire: Wire,
    amount_usd: u64,
    memo: &str,
    why: &str,
) -> atlasent::Denial {
    let err = client
        .protect_as::<WireTransfer>("finance-agent", &wire_context(amount_usd, memo))
        .await
        .expect_err(why);
    let atlasent::Error::Denied(denial) = err else {
        panic!("{wire:?}: expected a denial ({why}), got {err:?}");
    };
    *denial
}

#[tokio::test]
async fn protect_as_allows_with_a_permit_typed_for_its_action() {
    let server = server().await;
    for wire in WIRES {
        let client = client(&server, wire);
        let permit: Permit<WireTransfer> = client
            .protect_as::<WireTransfer>("finance-agent", &wire_context(2_500, "invoice 7"))
            .await
            .expect("allowed");
        assert_eq!(permit.action(), WireTransfer::NAME, "{wire:?}");
        assert_eq!(permit.agent(), "finance-agent");
        // The permit is the server's, single use: it verified once already.
        let again = client
            .verify(
                permit.permit_id(),
                "finance-agent",
                "wire_transfer",
                &wire_context(2_500, "invoice 7"),
            )
            .await
            .expect("answered");
        assert!(
            !again.verified,
            "{wire:?}: a typed permit is still single use"
        );
        // Typed and untyped permits are the same permit.
        let id = permit.permit_id().to_owned();
        let untyped: Permit = permit.into();
        assert_eq!(untyped.permit_id(), id);
    }
}

#[tokio::test]
async fn protect_as_refuses_what_the_policy_denies() {
    let server = server().await;
    for wire in WIRES {
        let client = client(&server, wire);
        let denial = denial_of(
            &client,
            wire,
            50_000,
            "too much",
            "denied by deny_large_wires",
        )
        .await;
        assert!(denial.reason().contains("deny_large_wires"), "{denial:?}");
        // The typed context's keys are the policy's: an empty memo is a
        // missing required key, named as such.
        let denial = denial_of(&client, wire, 100, "", "memo is required").await;
        if wire == Wire::Current {
            assert_eq!(denial.deny_code(), Some(&DenyCode::MissingRequiredContext));
        }
        assert!(denial.reason().contains("memo"), "{denial:?}");
    }
}

#[tokio::test]
async fn downcast_checks_the_verified_action() {
    let server = server().await;
    let client = client(&server, Wire::Current);
    let untyped = client
        .protect("deploy-bot", "deploy", &json!({ "environment": "staging" }))
        .await
        .expect("allowed");
    let id = untyped.permit_id().to_owned();
    // Not a read_tables permit: the same permit comes back, unchanged.
    let back = untyped
        .downcast::<ReadTables>()
        .expect_err("deploy is not read_tables");
    assert_eq!(back.permit_id(), id);
    assert_eq!(back.action(), "deploy");
    let typed: Permit<Deploy> = back.downcast().expect("a deploy permit");
    assert_eq!(typed.permit_id(), id);

    // And the other way round: a read_tables permit is no deploy permit.
    let reads = client
        .protect_as::<ReadTables>("ops-cli", &())
        .await
        .expect("allow_reads");
    let untyped = reads.into_untyped();
    assert!(untyped.downcast::<Deploy>().is_err());
    // (`downcast::<WireTransfer>()` does not compile: a permit of an action
    // with a typed context comes only from `protect_as` or the attribute.)
}

struct Desk {
    client: atlasent::Client,
    runs: AtomicUsize,
}

impl Desk {
    #[atlasent::protect(action = WireTransfer, agent = "finance-agent", context = context, client = self.client)]
    async fn wire(
        &self,
        context: &WireContext,
        permit: Permit<WireTransfer>,
    ) -> Result<String, atlasent::Error> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(format!("{} {}", permit.action(), context.amount_usd))
    }

    #[atlasent::protect(action = Deploy, agent = "deploy-bot", context = json!({ "environment": environment }), client = self.client)]
    async fn deploy(&self, environment: &str, permit: &Permit) -> Result<String, atlasent::Error> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(permit.action().to_owned())
    }
}

#[tokio::test]
async fn the_typed_attribute_runs_its_body_only_with_a_permit_for_its_action() {
    let server = server().await;
    for wire in WIRES {
        let desk = Desk {
            client: client(&server, wire),
            runs: AtomicUsize::new(0),
        };
        assert_eq!(
            desk.wire(&wire_context(700, "invoice 9"))
                .await
                .expect("allowed"),
            "wire_transfer 700"
        );
        assert_eq!(desk.runs.load(Ordering::SeqCst), 1);
        let err = desk
            .wire(&wire_context(20_000, "big"))
            .await
            .expect_err("denied");
        assert!(matches!(err, atlasent::Error::Denied(_)), "{err:?}");
        assert_eq!(
            desk.runs.load(Ordering::SeqCst),
            1,
            "the body never ran on deny"
        );
        // An untyped parameter with a typed action: the permit is for `deploy`.
        assert_eq!(desk.deploy("staging").await.expect("allowed"), "deploy");
        assert!(desk.deploy("production").await.is_err(), "no approver");
        assert_eq!(desk.runs.load(Ordering::SeqCst), 2);
    }
}

#[test]
fn blocking_protect_as_on_a_plain_thread() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt.block_on(server());
    let client = atlasent::blocking::Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .build()
        .expect("client");
    let permit = client
        .protect_as::<WireTransfer>("finance-agent", &wire_context(10, "blocking"))
        .expect("allowed");
    assert_eq!(permit.action(), "wire_transfer");
    assert!(client
        .protect_as::<WireTransfer>("finance-agent", &wire_context(10_001, "over"))
        .is_err());
}

#[test]
fn action_types_are_registered_with_their_context_keys() {
    let all = atlasent::actions::registered();
    let wire = all
        .iter()
        .find(|a| a.name() == "wire_transfer" && a.context_type().is_some())
        .expect("WireTransfer registered");
    assert!(
        wire.declared_by().ends_with("actions::WireTransfer"),
        "{wire:?}"
    );
    assert!(wire
        .context_type()
        .is_some_and(|t| t.ends_with("WireContext")));
    assert_eq!(
        wire.context_keys(),
        Some(vec!["amount_usd", "counterparty_id", "memo"])
    );
    assert!(all
        .iter()
        .any(|a| a.name() == "read_tables" && a.context_type().is_none()));
}
