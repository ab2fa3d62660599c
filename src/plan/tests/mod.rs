//! Table tests of the planner: a roster, a listing, reports and a decision
//! in; actions out. This file holds the fixture; the cases are in
//! `scale` (scale out and in, drains) and `health` (reaping, healing,
//! rolling, warm standbys, adoption).

use std::time::Duration;

use jiff::Timestamp;

use super::*;

mod handover;
mod health;
mod jobs;
mod scale;
use crate::clock::after;
use crate::policy::{Estimates, Limit};
use crate::protocol::{AgentState, Reply, Stats};

/// A pool's world as the planner sees it, built step by step.
pub(super) struct World {
    pub roster: Roster,
    pub listed: Vec<Listed>,
    pub reports: AgentRegistry,
    pub agents: AgentsSpec,
    pub template: String,
    pub now: Timestamp,
    pub nats_ok: bool,
    pub engine_back: bool,
    pub jobs: Option<JobRules>,
    /// The typical cold start the decisions carry, seconds (measured
    /// when above zero).
    pub cold_start_s: f64,
    /// Whether the decisions say the pool is behind its SLO.
    pub behind: bool,
}

impl World {
    pub fn new() -> Self {
        let now = Timestamp::UNIX_EPOCH;
        let agents = AgentsSpec::default();
        World {
            roster: Roster::new(now, agents.max_backoff),
            listed: Vec::new(),
            reports: AgentRegistry::default(),
            agents,
            template: "t1".into(),
            now,
            nats_ok: true,
            engine_back: false,
            jobs: None,
            cold_start_s: 0.0,
            behind: false,
        }
    }

    /// A running container `name` of template `t1`, created at `created`.
    pub fn container(mut self, name: &str, created: i64) -> Self {
        self.listed.push(Listed {
            id: ContainerId::from(format!("id-{name}")),
            name: name.into(),
            phase: Phase::Running,
            created,
            template: Some("t1".into()),
            unhealthy: false,
            exit_code: None,
        });
        self
    }

    /// A fresh report of agent `name`.
    pub fn report(mut self, name: &str, state: AgentState, in_flight: u64) -> Self {
        self.reports.record(
            Stats {
                v: 1,
                id: name.into(),
                pool: "p".into(),
                state,
                in_flight,
                capacity: 4,
                completed: 0,
                failed: 0,
            },
            self.now,
        );
        self
    }

    pub fn listed_mut(&mut self, name: &str) -> &mut Listed {
        self.listed
            .iter_mut()
            .find(|c| c.name == name)
            .expect("listed")
    }

    pub fn advance(&mut self, secs: u64) {
        self.now = after(self.now, Duration::from_secs(secs));
    }

    /// Advances time with every agent reporting on, as live agents do.
    pub fn advance_reporting(&mut self, secs: u64) {
        self.advance(secs);
        for c in &self.listed {
            if let Some(seen) = self.reports.get(&c.name) {
                let stats = seen.stats.clone();
                self.reports.record(stats, self.now);
            }
        }
    }

    pub fn sync(&mut self) -> Vec<Event> {
        self.roster
            .sync(&self.listed, &self.reports, &self.agents, self.now)
    }

    /// Syncs, then plans toward `desired`.
    pub fn plan(&mut self, desired: u32) -> Vec<Action> {
        self.sync();
        let current = self.roster.replicas(&self.listed).current();
        let d = Decision {
            desired,
            recommended: desired,
            current,
            limit: Limit::None,
            estimates: Estimates {
                horizon_s: self.cold_start_s,
                cold_start_measured: self.cold_start_s > 0.0,
                ..Estimates::default()
            },
            slo: None,
            slo_late_share: None,
            staleness_s: 0.0,
            reason: String::new(),
            demand: desired,
            min: 0,
            max: 100,
            triggers: Vec::new(),
            behind: self.behind,
        };
        plan(&Input {
            decision: &d,
            roster: &self.roster,
            listed: &self.listed,
            reports: &self.reports,
            agents: &self.agents,
            template: &self.template,
            nats_ok: self.nats_ok,
            engine_back: self.engine_back,
            jobs: self.jobs,
            ack_pending: None,
            now: self.now,
        })
    }

    /// Plans, then records the actions as the loop would (starts named
    /// `new-<n>`).
    pub fn step(&mut self, desired: u32) -> Vec<Action> {
        let actions = self.plan(desired);
        for (n, a) in actions.iter().enumerate() {
            match a {
                Action::Start { standby } => {
                    self.roster
                        .starting(&format!("new-{n}"), *standby, self.now)
                }
                other => {
                    self.roster.begin(other, self.now);
                }
            }
        }
        actions
    }

    /// Starts `new-0` from this process, then lists it exited with
    /// `exit_code`, as it is seen right after a quick exit.
    pub fn started_and_exited(&mut self, exit_code: Option<i64>) {
        self.step(1);
        self.fold(Outcome::Started {
            name: "new-0".into(),
            result: Ok(id("new-0")),
        });
        self.listed.push(Listed {
            id: "id-new-0".into(),
            name: "new-0".into(),
            phase: Phase::Exited,
            created: 1,
            template: Some("t1".into()),
            unhealthy: false,
            exit_code,
        });
    }

    pub fn role(&self, name: &str) -> Role {
        self.roster.get(&format!("id-{name}")).expect("member").role
    }

    pub fn fold(&mut self, outcome: Outcome) -> (Vec<Event>, Vec<Action>) {
        self.roster.fold(outcome, &self.agents, self.now)
    }
}

pub(super) fn id(name: &str) -> ContainerId {
    ContainerId::from(format!("id-{name}"))
}

pub(super) fn ok(state: AgentState, in_flight: u64) -> Option<Reply> {
    Some(Reply {
        v: 1,
        ok: true,
        state,
        in_flight,
        error: None,
    })
}

pub(super) fn drain(name: &str, held: u64, cause: DrainCause) -> Action {
    Action::Drain {
        id: id(name),
        name: name.into(),
        held,
        cause,
    }
}

pub(super) fn stop(name: &str, cause: StopCause) -> Action {
    Action::Stop {
        id: id(name),
        name: name.into(),
        cause,
    }
}

/// Three working agents, `a` busy with 3 tasks, `b` idle, `c` with 1.
pub(super) fn three_agents() -> World {
    World::new()
        .container("a", 1)
        .container("b", 2)
        .container("c", 3)
        .report("a", AgentState::Busy, 3)
        .report("b", AgentState::Ready, 0)
        .report("c", AgentState::Busy, 1)
}
