//! The planner's view of agents still starting: which cannot be stopped
//! safely yet, and which of those are overdue (asked for more than twice
//! the typical cold start ago). Scale-in keeps working agents for the
//! overdue ones; behind the SLO, scale-out replaces them.

use super::steps::Planner;
use super::{Phase, Role};
use crate::clock::unix_s;

impl Planner<'_> {
    /// Whether an agent is running but not safe to stop: in a pool whose
    /// agents report, one that has not reported as working yet may be
    /// fetching already, and a stop signal that reaches it before it
    /// installs its handler is ignored (it is PID 1 in its container), so
    /// it would be killed at the stop timeout with whatever it fetched.
    pub(super) fn unsafe_to_stop(&self, phase: Phase, role: Role) -> bool {
        phase == Phase::Running && matches!(role, Role::Starting { .. }) && self.r.speaks()
    }

    /// The starters that cannot be stopped yet, and how many of them are
    /// overdue: asked for more than twice the typical cold start ago.
    pub(super) fn unstoppable_starters(&self) -> (usize, usize) {
        let i = self.i;
        let due_within = 2.0 * i.decision.estimates.horizon_s.max(0.0);
        let now = unix_s(i.now);
        let mut all = 0;
        let mut overdue = 0;
        for (c, role) in self.members(Phase::Running) {
            if !self.unsafe_to_stop(Phase::Running, role) {
                continue;
            }
            all += 1;
            let asked = match role {
                Role::Starting { requested: Some(r) } => unix_s(r),
                _ => c.created as f64,
            };
            if now - asked > due_within {
                overdue += 1;
            }
        }
        (all, overdue)
    }
}
