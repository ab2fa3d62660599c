//! Building pool loops: what every pool shares (the NATS connection, the
//! agent-protocol edge, the budget, the dry-run flag) in one place, so the
//! policy-file pools and the compose pools are wired exactly alike.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::PoolSpec;
use super::{CONTROL_TIMEOUT, PoolIo, PoolRunner, PoolStatus};
use crate::budget::BudgetClient;
use crate::lease::{Fence, StateStore};
use crate::observe::{JetStreamSource, NatsControl};
use crate::overrides::Overrides;
use crate::target::ScaleTarget;
use crate::target::allow::Allowed;

/// The shared parts of every pool loop of one service.
#[derive(Clone)]
pub struct RunnerFactory {
    /// The service's NATS connection.
    client: async_nats::Client,
    /// Control requests to agents, over that connection.
    agents: Arc<NatsControl>,
    /// The global agent budget, when set.
    budget: Option<BudgetClient>,
    /// Whether targets are virtual (`--dry-run`).
    dry_run: bool,
    /// `NATS_URL` for agents whose template names none.
    agent_nats_url: String,
    /// Runtime overrides, when the service follows them.
    overrides: Option<Overrides>,
    /// What templates may be made of.
    allowed: Arc<Allowed>,
    /// With `--ha`: the lease every loop acts under.
    fence: Option<Fence>,
    /// With `--ha`: where leaders keep the hand-over.
    state: Option<StateStore>,
}

/// A pool loop reading its consumer through JetStream and reaching its
/// agents over NATS.
pub type Runner<T> = PoolRunner<JetStreamSource, T, NatsControl>;

impl RunnerFactory {
    /// The shared parts for a service connected with `client`.
    pub fn new(
        client: async_nats::Client,
        budget: Option<BudgetClient>,
        dry_run: bool,
        agent_nats_url: String,
    ) -> Self {
        RunnerFactory {
            agents: Arc::new(NatsControl::new(client.clone(), CONTROL_TIMEOUT)),
            client,
            budget,
            dry_run,
            agent_nats_url,
            overrides: None,
            allowed: Arc::default(),
            fence: None,
            state: None,
        }
    }

    /// Refuses templates outside `allowed` from now on.
    pub fn with_allowed(mut self, allowed: Allowed) -> Self {
        self.allowed = Arc::new(allowed);
        self
    }

    /// What templates may be made of.
    pub fn allowed(&self) -> &Allowed {
        &self.allowed
    }

    /// Makes every pool loop made from now on act only while `fence` says
    /// this instance leads (`--ha`).
    pub fn with_fence(mut self, fence: Option<Fence>) -> Self {
        self.fence = fence;
        self
    }

    /// Makes every pool loop made from now on keep its drains and
    /// estimates in `state` while it leads, and read them at its start and
    /// when it takes over (`--ha`).
    pub fn with_state(mut self, state: Option<StateStore>) -> Self {
        self.state = state;
        self
    }

    /// Hands every pool loop made from now on its runtime override.
    pub fn with_overrides(mut self, overrides: Overrides) -> Self {
        self.overrides = Some(overrides);
        self
    }

    /// A loop for `spec` acting on `target`, with the receiver of its
    /// status snapshots.
    pub fn runner<T: ScaleTarget>(
        &self,
        spec: PoolSpec,
        target: Arc<T>,
    ) -> (Runner<T>, watch::Receiver<PoolStatus>) {
        // A read must finish well inside the staleness bound, or a slow
        // server would hold up the loop longer than the data is trusted.
        let timeout = spec.policy.scaling.stale_after.min(Duration::from_secs(5));
        let source =
            JetStreamSource::new(self.client.clone(), &spec.stream, &spec.consumer, timeout);
        let io = PoolIo {
            source,
            target,
            agents: self.agents.clone(),
        };
        let spec_name = spec.name.clone();
        let (mut runner, rx) = PoolRunner::new(spec, io, self.agent_nats_url.clone());
        runner = runner.dry_run(self.dry_run);
        if let Some(b) = &self.budget {
            runner = runner.with_budget(b.clone());
        }
        if let Some(f) = &self.fence {
            runner = runner.with_fence(f.clone());
        }
        if let Some(s) = &self.state {
            runner = runner.with_state(s.clone());
        }
        if let Some(o) = &self.overrides {
            runner = runner.with_overrides(o.subscribe(&spec_name));
        }
        (runner, rx)
    }

    /// Withdraws a removed pool's claim on the budget.
    pub fn forget(&self, pool: &str) {
        if let Some(b) = &self.budget {
            b.forget(pool);
        }
    }
}

/// Resolves once the watch holds `true` (or its sender is gone): the stop
/// signal the service and the compose supervisor give the loops they run.
pub async fn wait_for(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|&v| v).await;
}
