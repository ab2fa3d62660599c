//! How a running loop is configured and reconfigured: the builder
//! options set once, and a new spec taken in place (a policy file or
//! compose labels changed) without losing the loop's state.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;
use tracing::error;

use super::{PoolRunner, PoolSpec};
use crate::budget::BudgetClient;
use crate::lease::{Fence, StateStore};
use crate::observe::{AgentControl, MetricsSource};
use crate::plan::Action;
use crate::policy::Override;
use crate::target::ScaleTarget;
use crate::telemetry::events::PoolUpdated;

impl<S: MetricsSource, T: ScaleTarget, A: AgentControl> PoolRunner<S, T, A> {
    /// Marks the loop as a dry run (its target is virtual), so its log
    /// lines say so.
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.options.dry_run = yes;
        self
    }

    /// Acts only while `fence` says this instance leads (`--ha`); observes
    /// otherwise.
    pub fn with_fence(mut self, fence: Fence) -> Self {
        self.options.fence = Some(fence);
        self
    }

    /// Keeps the pool's drains and estimates in `state` while it leads, and
    /// reads them at the start and on takeover (`--ha`).
    pub fn with_state(mut self, state: StateStore) -> Self {
        self.options.state = Some(state);
        self
    }

    /// Shares the global agent budget with the other pools.
    pub fn with_budget(mut self, budget: BudgetClient) -> Self {
        self.options.budget = Some(budget);
        self
    }

    /// Sends every action the loop runs to `tap`, in order.
    pub fn with_tap(mut self, tap: mpsc::UnboundedSender<Action>) -> Self {
        self.options.tap = Some(tap);
        self
    }

    /// Follows `updates`: each new spec replaces the loop's in place, so
    /// its estimates, windows, history and roster are kept.
    pub fn with_updates(mut self, updates: watch::Receiver<Arc<PoolSpec>>) -> Self {
        self.options.updates = Some(updates);
        self
    }

    /// Follows the pool's runtime override: each tick decides with it
    /// folded into the policy ([`Override::apply`]), and a change wakes the
    /// loop at once, so it takes effect within one tick.
    pub fn with_overrides(mut self, rx: watch::Receiver<Override>) -> Self {
        self.options.overrides = Some(rx);
        self
    }

    /// Takes a new spec in place, keeping every piece of state; a spec of
    /// another pool or consumer is refused (its owner starts a new loop).
    pub(super) fn update(&mut self, new: Arc<PoolSpec>, ticker: &mut tokio::time::Interval) {
        if !self.spec.same_consumer(&new) {
            error!(pool = %self.spec.name, to_pool = %new.name, stream = %new.stream, consumer = %new.consumer,
                   "a new spec names another pool or consumer; ignored (such a change starts a new loop)");
            return;
        }
        let changes = self.spec.changes(&new);
        if changes.is_empty() {
            return;
        }
        if new.policy.interval != self.spec.policy.interval {
            *ticker = tokio::time::interval(new.policy.interval);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        }
        self.roster.backoff.set_max(new.agents.max_backoff);
        let (min, max) = (new.policy.min, new.policy.max);
        self.status.send_modify(|s| {
            s.min = min;
            s.max = max;
        });
        PoolUpdated {
            pool: &self.spec.name,
            changes: &changes,
            min,
            max,
        }
        .emit();
        self.spec = new;
        self.start_readers();
        // Act on the change now, not an interval later.
        ticker.reset_immediately();
    }
}

/// The next spec from `updates`, or never when there is no channel (or
/// its sender is gone).
pub(super) async fn next_update(
    updates: &mut Option<watch::Receiver<Arc<PoolSpec>>>,
) -> Option<Arc<PoolSpec>> {
    match updates {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(rx.borrow_and_update().clone()),
            Err(_) => {
                *updates = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

/// Resolves when the runtime override changes; never without one.
pub(super) async fn override_changed(rx: &mut Option<watch::Receiver<Override>>) -> Option<()> {
    match rx {
        Some(rx) => rx.changed().await.ok(),
        None => std::future::pending().await,
    }
}
