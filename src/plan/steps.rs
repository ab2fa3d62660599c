//! The steps of [`plan`](super::plan), each a pure function of the input
//! and of the actions the earlier steps chose: they run on a scratch copy
//! of the roster that every chosen action is applied to, exactly as the
//! loop will apply it to the real one.

use super::victims::{self, Candidate, Choice, Selector};
use super::{
    Action, ContainerId, DrainCause, Input, Listed, Phase, RemoveCause, Role, Roster, StopCause,
};
use crate::clock::since;

/// One run of the planner.
pub(super) struct Planner<'a> {
    /// What it looks at.
    pub(super) i: &'a Input<'a>,
    /// The roster as the actions chosen so far leave it.
    pub(super) r: Roster,
    /// The actions chosen so far.
    out: Vec<Action>,
}

impl<'a> Planner<'a> {
    /// A planner over `input`.
    pub fn new(input: &'a Input<'a>) -> Self {
        Planner {
            i: input,
            r: input.roster.clone(),
            out: Vec::new(),
        }
    }

    /// Runs every step, in order.
    pub fn run(mut self) -> Vec<Action> {
        if let Some(rules) = self.i.jobs {
            // A job pool: reap finished jobs, kill those past their
            // timeout, start one per task; never a drain, a roll or a
            // scale-in stop.
            self.reap_unstarted();
            self.reap_jobs();
            self.time_out_jobs(rules);
            self.start_jobs();
            return self.out;
        }
        self.reap_unstarted();
        self.reap();
        self.heal();
        self.deadlines();
        self.roll();
        self.scale();
        self.warm();
        self.out
    }

    /// Chooses `a`, applying it to the scratch roster.
    pub(super) fn push(&mut self, a: Action) {
        match a {
            Action::Start { standby } => {
                // The real name comes from the template when the loop runs
                // the start; any unique placeholder counts the same.
                let name = format!("(planned start {})", self.out.len());
                self.r.starting(&name, standby, self.i.now);
            }
            ref other => {
                self.r.begin(other, self.i.now);
            }
        }
        self.out.push(a);
    }

    /// Listed containers that are members (not starts in flight), with
    /// their role.
    pub(super) fn members(&self, phase: Phase) -> Vec<(&'a Listed, Role)> {
        self.i
            .listed
            .iter()
            .filter(|c| c.phase == phase && !self.r.is_pending(&c.name))
            .filter_map(|c| self.r.get(c.id.as_str()).map(|m| (c, m.role)))
            .collect()
    }

    /// Removes containers an earlier jetpool created and never started (it
    /// was killed between the create and the start): nobody else will
    /// start them, and each would count as an agent starting forever. A
    /// grace of `stats_timeout` from their creation leaves alone a start
    /// another writer (compose) is still making.
    pub(super) fn reap_unstarted(&mut self) {
        let grace = self.i.agents.stats_timeout;
        for (c, _) in self.members(Phase::Created) {
            let adopted = self
                .r
                .get(c.id.as_str())
                .is_some_and(|m| m.started.is_none());
            if adopted && age_of(c.created, self.i.now) >= grace {
                self.push(Action::Remove {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    cause: RemoveCause::NeverStarted,
                });
            }
        }
    }

    /// Removes exited containers: a finished drain, a crash (which backs
    /// starts off), an exit on its own.
    fn reap(&mut self) {
        let window = self.i.agents.crash_window;
        for (c, role) in self.members(Phase::Exited) {
            let started = self.r.get(c.id.as_str()).and_then(|m| m.started);
            let cause = match role {
                Role::Stopping { .. } => continue,
                Role::Gone => RemoveCause::Leftover,
                Role::Draining(_) | Role::Rolling(_) => RemoveCause::Drained,
                _ if !self.i.engine_back
                    && started.is_some_and(|s| since(s, self.i.now) < window) =>
                {
                    RemoveCause::Crashed
                }
                _ => RemoveCause::Exited,
            };
            self.push(Action::Remove {
                id: c.id.clone(),
                name: c.name.clone(),
                cause,
            });
        }
    }

    /// Replaces running agents Docker reports unhealthy, or that reported
    /// and then went silent (only while jetpool's own NATS connection
    /// works: otherwise every agent would look silent).
    fn heal(&mut self) {
        let i = self.i;
        for (c, role) in self.members(Phase::Running) {
            if matches!(role, Role::Stopping { .. } | Role::Gone) {
                continue;
            }
            let silent = i.nats_ok
                && !matches!(role, Role::Starting { .. })
                && i.reports
                    .get(&c.name)
                    .is_some_and(|s| since(s.at, i.now) > i.agents.stats_timeout);
            let cause = if c.unhealthy {
                StopCause::Unhealthy
            } else if silent {
                StopCause::Silent
            } else {
                continue;
            };
            self.push(Action::Stop {
                id: c.id.clone(),
                name: c.name.clone(),
                cause,
            });
        }
    }

    /// Stops drains that outlived their deadline.
    fn deadlines(&mut self) {
        for (c, role) in self.members(Phase::Running) {
            if let Role::Draining(d) | Role::Rolling(d) = role
                && d.deadline.is_some_and(|t| self.i.now >= t)
            {
                self.push(Action::Stop {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    cause: StopCause::DrainDeadline,
                });
            }
        }
    }

    /// Retires one agent made from an older template, when no other roll,
    /// start or back-off is under way: the scale step then sees one agent
    /// fewer and starts its replacement from the current template, so
    /// capacity dips by at most one agent at a time. A standby of an older
    /// template is simply stopped (and refilled).
    fn roll(&mut self) {
        let i = self.i;
        if self.r.rolling() || !self.r.pending().is_empty() || self.r.backoff.blocked(i.now) {
            return;
        }
        // Right after a restart an agent's first report may not be in yet:
        // wait for it (or for `stats_timeout`) so a protocol speaker is
        // drained, not stopped.
        let settled = since(self.r.since, i.now) >= i.agents.stats_timeout;
        let outdated = |c: &Listed| {
            c.template.as_deref().is_some_and(|t| t != i.template)
                && (settled || i.reports.get(&c.name).is_some())
        };
        let oldest = |role: Role| {
            self.members(Phase::Running)
                .into_iter()
                .filter(|(c, r)| *r == role && outdated(c))
                .map(|(c, _)| c)
                .min_by_key(|c| (c.created, c.name.clone()))
        };
        if let Some(c) = oldest(Role::Standby) {
            self.push(Action::Stop {
                id: c.id.clone(),
                name: c.name.clone(),
                cause: StopCause::Roll,
            });
        } else if let Some(c) = oldest(Role::Ready) {
            let held = i.reports.get(&c.name).map_or(0, |s| s.stats.in_flight);
            self.retire(c, held, DrainCause::Roll);
        }
    }

    /// Takes an agent out of service: a drain when it speaks the protocol
    /// (and drains are on), else a stop.
    fn retire(&mut self, c: &Listed, held: u64, cause: DrainCause) {
        let speaks = self.i.reports.get(&c.name).is_some();
        let (id, name) = (c.id.clone(), c.name.clone());
        if self.i.agents.drain && speaks && c.phase == Phase::Running {
            self.push(Action::Drain {
                id,
                name,
                held,
                cause,
            });
        } else {
            let cause = match cause {
                DrainCause::ScaleIn => StopCause::ScaleIn,
                DrainCause::Roll => StopCause::Roll,
            };
            self.push(Action::Stop { id, name, cause });
        }
    }

    /// Moves toward the desired count from what the earlier steps left:
    /// out by cancelling drains, then activating standbys, then starting
    /// containers; in by draining the least busy.
    fn scale(&mut self) {
        let current = self.r.replicas(self.i.listed).current();
        let desired = self.i.decision.desired;
        // Behind the SLO, a starter overdue by a measured start may take
        // minutes more: it is not counted on for scale-out, up to one
        // replacement per desired agent (so a start that hangs for every
        // agent cannot start containers without end). It still counts for
        // scale-in, which does not stop it.
        let d = self.i.decision;
        let overdue = if d.behind && d.estimates.cold_start_measured {
            self.unstoppable_starters().1 as u32
        } else {
            0
        };
        let counted = current.saturating_sub(overdue.min(desired));
        if desired > counted {
            let mut need = (desired - counted) as usize;
            need -= self.resume(need);
            need -= self.activate(need);
            if need > 0 && !self.r.backoff.blocked(self.i.now) {
                for _ in 0..need {
                    self.push(Action::Start { standby: false });
                }
            }
        } else if desired < current {
            self.scale_in((current - desired) as usize, current);
        }
    }

    /// Cancels up to `need` drains; returns how many.
    fn resume(&mut self, need: usize) -> usize {
        // The agents holding the most work are the furthest from exiting.
        let mut draining: Vec<(&Listed, u64)> = self
            .members(Phase::Running)
            .into_iter()
            .filter_map(|(c, role)| match role {
                Role::Draining(d) if d.deadline.is_some() => Some((c, d.held)),
                _ => None,
            })
            .collect();
        draining.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.name.cmp(&b.0.name)));
        let chosen: Vec<&Listed> = draining.into_iter().take(need).map(|(c, _)| c).collect();
        for c in &chosen {
            self.push(Action::Resume {
                id: c.id.clone(),
                name: c.name.clone(),
            });
        }
        chosen.len()
    }

    /// Activates up to `need` standbys; returns how many.
    fn activate(&mut self, need: usize) -> usize {
        let mut ready: Vec<&Listed> = self
            .members(Phase::Running)
            .into_iter()
            .filter(|(_, role)| *role == Role::Standby)
            .map(|(c, _)| c)
            .collect();
        ready.sort_by(|a, b| a.name.cmp(&b.name));
        ready.truncate(need);
        for c in &ready {
            self.push(Action::Activate {
                id: c.id.clone(),
                name: c.name.clone(),
            });
        }
        ready.len()
    }

    /// Drains (or stops) `n` of the least busy agents.
    fn scale_in(&mut self, n: usize, current: u32) {
        let i = self.i;
        let mut candidates = Vec::new();
        let (unstoppable, overdue) = self.unstoppable_starters();
        // Those due within twice the typical start stand in for working
        // agents: they land soon.
        let landing_soon = unstoppable - overdue;
        for phase in [Phase::Created, Phase::Running] {
            for (c, role) in self.members(phase) {
                let starting = matches!(role, Role::Starting { .. });
                if self.unsafe_to_stop(phase, role) || (role != Role::Ready && !starting) {
                    continue;
                }
                let held = if phase == Phase::Created || starting {
                    Some(0)
                } else {
                    i.reports
                        .fresh(&c.name, i.now, i.agents.stats_timeout)
                        .map(|s| s.in_flight)
                };
                candidates.push(Candidate {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    held,
                    current_template: c.template.as_deref().is_none_or(|t| t == i.template),
                    working: !starting && phase == Phase::Running,
                    created: c.created,
                });
            }
        }
        let choice = Choice {
            candidates,
            average_in_flight: i.ack_pending.unwrap_or(0) as f64 / f64::from(current.max(1)),
            n,
            // Agents that cannot be stopped yet count toward `current`.
            // Those overdue may take minutes more, so working agents are
            // never drained below the desired count for them: each agent
            // landing after a surge's over-order would otherwise be drained
            // at once while the starters left did no work.
            keep_working: (i.decision.desired as usize).saturating_sub(landing_soon),
        };
        let chosen: Vec<(ContainerId, Option<u64>)> = victims::select(Selector::LeastBusy, &choice)
            .into_iter()
            .map(|v| (v.id.clone(), v.held))
            .collect();
        for (id, held) in chosen {
            if let Some(c) = i.listed.iter().find(|c| c.id == id) {
                self.retire(c, held.unwrap_or(0), DrainCause::ScaleIn);
            }
        }
    }

    /// Keeps `warm` standbys started (never during a start back-off).
    fn warm(&mut self) {
        let want = self.i.agents.warm;
        let have = self.r.replicas(self.i.listed).standby;
        if have < want && !self.r.backoff.blocked(self.i.now) {
            for _ in have..want {
                self.push(Action::Start { standby: true });
            }
        }
    }
}

/// How long ago Unix second `created` was.
pub(super) fn age_of(created: i64, now: jiff::Timestamp) -> std::time::Duration {
    let secs = now.as_second().saturating_sub(created);
    std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}
