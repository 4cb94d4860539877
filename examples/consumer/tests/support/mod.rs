//! What the behaviour and parallel tests share: a payment rail that
//! records each run of a guarded body in a `BodyProbe`.

use atlasent_consumer_example::payments::{PaymentRail, RailError};
use atlasent_testing::BodyProbe;

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
