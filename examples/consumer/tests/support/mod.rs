//! What the behaviour and parallel tests share: a payment rail that
//! records each run of a guarded body in a `BodyProbe`, and a `Desk` that
//! makes the guarded payment calls against a test's own server.
#![allow(dead_code)]

use atlasent_consumer_example::payments::{self, PaymentError, PaymentRail, RailError, Receipt};
use atlasent_testing::{BodyProbe, PolicySource, TestServer};

/// A `PaymentRail` that moves no money: it hits its probe (so a test can
/// tell whether the guarded body ran) and answers a made-up reference.
pub(crate) struct ProbeRail {
    probe: BodyProbe,
}

impl ProbeRail {
    /// A rail hitting `probe` (a clone: the test keeps the original).
    pub(crate) fn new(probe: &BodyProbe) -> Self {
        Self {
            probe: probe.clone(),
        }
    }
}

impl PaymentRail for ProbeRail {
    fn send(&self, amount_usd: u64, _memo: &str) -> Result<String, RailError> {
        self.probe.hit();
        Ok(format!("ref_{amount_usd}"))
    }

    fn balance(&self) -> Result<u64, RailError> {
        self.probe.hit();
        Ok(1_000_000)
    }
}

/// One test's payments: its own decision server, and a rail whose probe
/// tells which guarded bodies ran. Each call is routed to this server
/// with `atlasent::with_client`.
pub(crate) struct Desk {
    /// The test's decision server: set faults on it, read its decisions.
    pub(crate) server: TestServer,
    /// Hit once per guarded body that ran.
    pub(crate) probe: BodyProbe,
    rail: ProbeRail,
}

impl Desk {
    /// A desk whose server decides by `policy`.
    pub(crate) async fn start(policy: impl Into<PolicySource>) -> Self {
        let probe = BodyProbe::new();
        Self {
            server: TestServer::start(policy).await,
            rail: ProbeRail::new(&probe),
            probe,
        }
    }

    /// The rail the guarded calls of this desk use.
    pub(crate) fn rail(&self) -> &ProbeRail {
        &self.rail
    }

    /// `payments::wire` as `agent`, asked of this desk's server.
    pub(crate) async fn wire(
        &self,
        agent: &str,
        amount_usd: u64,
        memo: &str,
    ) -> Result<Receipt, PaymentError> {
        let wire = payments::wire(&self.rail, agent, amount_usd, memo);
        atlasent::with_client(self.server.client(), wire).await
    }

    /// `payments::balance` as `agent`, asked of this desk's server.
    pub(crate) async fn balance(&self, agent: &str) -> Result<u64, PaymentError> {
        atlasent::with_client(self.server.client(), payments::balance(&self.rail, agent)).await
    }

    /// A wire that must be allowed: its receipt, once its body ran (the
    /// first body this desk ran).
    pub(crate) async fn allowed_wire(&self, agent: &str, amount_usd: u64, memo: &str) -> Receipt {
        let receipt = self
            .wire(agent, amount_usd, memo)
            .await
            .unwrap_or_else(|e| panic!("{agent} may wire ${amount_usd} ({memo:?}): {e}"));
        self.probe.assert_ran_once();
        receipt
    }

    /// A wire that AtlaSent must refuse (a denial, a hold, or a failure to
    /// decide): the refusal, once it is certain its body never ran.
    pub(crate) async fn refused_wire(
        &self,
        agent: &str,
        amount_usd: u64,
        memo: &str,
    ) -> atlasent::Error {
        let err = self
            .wire(agent, amount_usd, memo)
            .await
            .expect_err("refused: no permit, no wire");
        self.probe.assert_never_ran();
        match err {
            PaymentError::Unauthorized(refusal) => refusal,
            other => panic!("refused by AtlaSent, not by the rail: {other}"),
        }
    }
}
