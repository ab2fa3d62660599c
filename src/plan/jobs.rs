//! The planner's steps for a job pool (`mode = "job"`): each container
//! works one task and exits. Finished jobs are removed and counted by
//! exit code, a job past `job_timeout` is killed, and containers are
//! started up to the decision's count. Nothing else: a running job is
//! never drained, stopped to scale in, or rolled to a new template (a
//! template change reaches the next jobs).

use super::steps::{Planner, age_of};
use super::{Action, JobEnd, JobRules, Phase, RemoveCause, Role, StopCause};
use crate::clock::since;

impl Planner<'_> {
    /// Removes exited jobs, with how each ended.
    pub(super) fn reap_jobs(&mut self) {
        for (c, role) in self.members(Phase::Exited) {
            let cause = match role {
                Role::Stopping { .. } => continue,
                Role::Gone => RemoveCause::Leftover,
                _ => {
                    let end = if c.exit_code == Some(0) {
                        JobEnd::Succeeded
                    } else {
                        JobEnd::Failed
                    };
                    // Failing without a single report is the template's
                    // fault (a wrong command, no NATS), not the task's:
                    // back off as for a crash. A task that fails is NAKed
                    // with its own back-off.
                    let started = self.r.get(c.id.as_str()).and_then(|m| m.started);
                    let quick =
                        started.is_some_and(|s| since(s, self.i.now) < self.i.agents.crash_window);
                    let crashed = end == JobEnd::Failed
                        && quick
                        && self.i.reports.get(&c.name).is_none()
                        && !self.i.engine_back;
                    RemoveCause::Job {
                        end,
                        exit_code: c.exit_code,
                        crashed,
                    }
                }
            };
            self.push(Action::Remove {
                id: c.id.clone(),
                name: c.name.clone(),
                cause,
            });
        }
    }

    /// Kills jobs that ran past the timeout.
    pub(super) fn time_out_jobs(&mut self, rules: JobRules) {
        let Some(limit) = rules.timeout else { return };
        let now = self.i.now;
        let expired: Vec<_> = self
            .members(Phase::Running)
            .into_iter()
            .filter(|(_, role)| !matches!(role, Role::Stopping { .. } | Role::Gone))
            .filter(|(c, _)| {
                let started = self.r.get(c.id.as_str()).and_then(|m| m.started);
                // Adopted jobs (started by an earlier jetpool) count from
                // their creation.
                started.map_or_else(|| age_of(c.created, now) > limit, |s| since(s, now) > limit)
            })
            .map(|(c, _)| (c.id.clone(), c.name.clone()))
            .collect();
        for (id, name) in expired {
            self.push(Action::Stop {
                id,
                name,
                cause: StopCause::JobTimeout,
            });
        }
    }

    /// Starts jobs up to the decided count.
    pub(super) fn start_jobs(&mut self) {
        let current = self.r.replicas(self.i.listed).current();
        let desired = self.i.decision.desired;
        if desired > current && !self.r.backoff.blocked(self.i.now) {
            for _ in current..desired {
                self.push(Action::Start { standby: false });
            }
        }
    }
}
