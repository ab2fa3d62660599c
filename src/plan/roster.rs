//! The roster: the one record of who is what in a pool. One [`Member`] per
//! container, keyed by its [`ContainerId`], with a typed [`Role`]; starts
//! still in flight (no id yet) are kept by name. The engine's listing says
//! what exists; the roster says what jetpool intends and is waiting for,
//! and the two together give the counts `decide` sees.
//!
//! Three pure steps change it, each taking `now`:
//! - [`Roster::sync`] folds in a listing and the agents' reports (forget
//!   what vanished, adopt what a previous jetpool left, promote agents that
//!   reported, reset the start back-off);
//! - [`Roster::begin`] records an action about to run, and
//! - [`Roster::fold`] how a background operation ended (both in
//!   `transitions`).
//!
//! Each returns the [`Event`]s a person or a dashboard should hear about.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use jiff::Timestamp;

use super::{ContainerId, Event, Listed, Phase, StopCause};
use crate::clock::{after, since};
use crate::config::AgentsSpec;
use crate::observe::AgentRegistry;
use crate::policy::Replicas;
use crate::protocol::AgentState;

pub use super::backoff::Backoff;

/// A drain under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Drain {
    /// When the drain was requested.
    pub since: Timestamp,
    /// When the agent gets the stop signal if it has not exited by then;
    /// `None` while the request is in flight (not yet acknowledged).
    pub deadline: Option<Timestamp>,
    /// Tasks it held when the drain began.
    pub held: u64,
}

/// What jetpool is doing with one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// Started, not yet working: no report yet. `requested` is when the
    /// start was asked for (none for a container found already created).
    Starting {
        /// When the start was requested, for the cold-start measurement.
        requested: Option<Timestamp>,
    },
    /// Working: takes tasks.
    Ready,
    /// A warm standby: connected, not fetching, until activated.
    Standby,
    /// An activation request is in flight.
    Activating,
    /// Leaving because the pool needs fewer agents: not fetching,
    /// finishing what it holds. Demand coming back may resume it.
    Draining(Drain),
    /// Leaving because it runs an older template; never resumed.
    Rolling(Drain),
    /// A resume (drain cancel) request is in flight; the drain is kept to
    /// restore if the agent refuses.
    Resuming(Drain),
    /// Exited, its exit accounted for; its removal failed and is retried.
    Gone,
    /// A stop or removal is in flight.
    Stopping {
        /// Why.
        cause: StopCause,
        /// The drain it was in, restored if the stop fails.
        prior: Option<Drain>,
    },
}

impl Role {
    /// The role's name, for `/status` and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Starting { .. } => "starting",
            Role::Ready => "ready",
            Role::Standby => "standby",
            Role::Activating => "activating",
            Role::Draining(_) => "draining",
            Role::Rolling(_) => "rolling",
            Role::Resuming(_) => "resuming",
            Role::Stopping { .. } => "stopping",
            Role::Gone => "gone",
        }
    }

    /// True for a container that is leaving (draining, rolling, stopping).
    pub fn leaving(&self) -> bool {
        matches!(
            self,
            Role::Draining(_) | Role::Rolling(_) | Role::Stopping { .. }
        )
    }
}

/// One container of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Container name, which is also the agent id of the protocol.
    pub name: String,
    /// What jetpool is doing with it.
    pub role: Role,
    /// When this process saw its start succeed (`None` for adopted
    /// containers): an exit soon after is a crash.
    pub started: Option<Timestamp>,
    /// When its start was requested, until its first report: the cold
    /// start is measured from create to first report, however long the
    /// agent takes to load (a role may turn ready sooner, at
    /// `stats_timeout`, so the measurement cannot hang on the role).
    pub awaiting_report: Option<Timestamp>,
}

/// A start in flight: the container has no id yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Started as a warm standby.
    pub standby: bool,
    /// When it was requested.
    pub requested: Timestamp,
}

/// Who is what in one pool.
#[derive(Debug, Clone)]
pub struct Roster {
    /// Every known container.
    pub(super) members: BTreeMap<ContainerId, Member>,
    /// Starts in flight, by container name.
    pub(super) pending: BTreeMap<String, Pending>,
    /// Back-off of failing or crashing starts.
    pub backoff: Backoff,
    /// When this roster began: until `stats_timeout` has passed since, an
    /// agent that has not reported yet may still speak the protocol.
    pub since: Timestamp,
    /// The last failed start: when, and the engine's reason.
    pub last_start_error: Option<(Timestamp, String)>,
    /// Whether any agent of the pool has reported: then a new agent is
    /// starting until its first report (it may be loading a model); in a
    /// pool of agents that do not speak the protocol, a running container
    /// is all there is to know.
    speaks: bool,
}

impl Roster {
    /// An empty roster, as a loop has at its start.
    pub fn new(now: Timestamp, max_backoff: Duration) -> Self {
        Roster {
            members: BTreeMap::new(),
            pending: BTreeMap::new(),
            backoff: Backoff::new(max_backoff),
            since: now,
            last_start_error: None,
            speaks: false,
        }
    }

    /// The member with `id`.
    pub fn get(&self, id: &str) -> Option<&Member> {
        self.members.get(id)
    }

    /// Every member, by id.
    pub fn members(&self) -> impl Iterator<Item = (&ContainerId, &Member)> {
        self.members.iter()
    }

    /// Starts in flight, by name.
    pub fn pending(&self) -> &BTreeMap<String, Pending> {
        &self.pending
    }

    /// True once any agent of the pool has reported: its agents speak the
    /// protocol.
    pub fn speaks(&self) -> bool {
        self.speaks
    }

    /// True when the container named `name` is being started.
    pub fn is_pending(&self, name: &str) -> bool {
        self.pending.contains_key(name)
    }

    /// Folds in a listing and the agents' reports: forgets members whose
    /// container is gone, adopts containers it does not know (a previous
    /// jetpool's agents, compose's own replica), promotes starting agents
    /// once they report (or once `stats_timeout` shows they never will),
    /// and ends the start back-off once an agent started after the latest
    /// failure outlived the crash window.
    pub fn sync(
        &mut self,
        listed: &[Listed],
        reports: &AgentRegistry,
        agents: &AgentsSpec,
        now: Timestamp,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        let phases: HashMap<&str, Phase> =
            listed.iter().map(|c| (c.id.as_str(), c.phase)).collect();
        self.members
            .retain(|id, _| phases.contains_key(id.as_str()));
        self.speaks |= listed.iter().any(|c| reports.get(&c.name).is_some());
        let speaks = self.speaks;
        for c in listed {
            if self.pending.contains_key(&c.name) {
                continue;
            }
            let id = c.id.clone();
            let report = reports.get(&c.name);
            let member = self.members.entry(id).or_insert_with(|| {
                let role = adopted_role(c, report.map(|s| &s.stats), now, agents);
                events.push(Event::Adopted {
                    name: c.name.clone(),
                    role: role.as_str(),
                });
                Member {
                    name: c.name.clone(),
                    role,
                    started: None,
                    awaiting_report: None,
                }
            });
            // Some engines name a container themselves (Swarm names a task
            // after its id): the listing's name is the agent's.
            if member.name != c.name {
                member.name.clone_from(&c.name);
            }
            // A `starting` report says the agent runs, not that it works.
            let working = report.filter(|s| s.stats.state != AgentState::Starting);
            if let (Some(r), Some(seen)) = (member.awaiting_report, working) {
                events.push(Event::ColdStart {
                    name: c.name.clone(),
                    seconds: since(r, seen.at).as_secs_f64(),
                    requested: r,
                });
                member.awaiting_report = None;
            }
            match (member.role, report) {
                (Role::Starting { .. }, Some(s)) if s.stats.state != AgentState::Starting => {
                    member.role = Role::Ready
                }
                (Role::Starting { .. }, Some(_)) => {}
                (Role::Starting { requested }, None)
                    if c.phase == Phase::Running
                        && (!speaks
                            || since(member.started.unwrap_or(self.since), now)
                                >= agents.stats_timeout) =>
                {
                    member.role = Role::Ready;
                    // In a pool none of whose agents has reported yet, the
                    // start itself is the only cold start there is to
                    // measure. An agent of a pool that speaks keeps
                    // waiting for its first report, which measures its
                    // load time too (a model load of a minute is the cold
                    // start that matters).
                    if !speaks && let (Some(r), Some(s)) = (requested, member.started) {
                        events.push(Event::ColdStart {
                            name: c.name.clone(),
                            seconds: since(r, s).as_secs_f64(),
                            requested: r,
                        });
                    }
                }
                // A report says what a restarted jetpool could not know.
                (Role::Ready, Some(seen)) if c.phase == Phase::Running => match seen.stats.state {
                    AgentState::Standby => member.role = Role::Standby,
                    AgentState::Draining | AgentState::Drained => {
                        member.role = Role::Draining(Drain {
                            since: now,
                            deadline: Some(after(now, agents.drain_timeout)),
                            held: seen.stats.in_flight,
                        });
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        if let Some(failed) = self.backoff.last_failure()
            && self.members.iter().any(|(id, m)| {
                m.started
                    .is_some_and(|s| s > failed && since(s, now) >= agents.crash_window)
                    && phases.get(id.as_str()) == Some(&Phase::Running)
            })
        {
            self.backoff.reset();
        }
        events
    }

    /// Counts containers by role, consistently with the operations in
    /// flight: a container being started counts as starting (or standby)
    /// whether or not the engine lists it yet.
    pub fn replicas(&self, listed: &[Listed]) -> Replicas {
        let mut r = Replicas::default();
        for p in self.pending.values() {
            if p.standby {
                r.standby += 1;
            } else {
                r.starting += 1;
            }
        }
        for c in listed {
            if matches!(c.phase, Phase::Exited | Phase::Removing)
                || self.pending.contains_key(&c.name)
            {
                continue;
            }
            match self.members.get(c.id.as_str()).map(|m| m.role) {
                Some(role) if role.leaving() => r.draining += 1,
                Some(Role::Resuming(_) | Role::Activating | Role::Starting { .. }) => {
                    r.starting += 1
                }
                Some(Role::Standby) => r.standby += 1,
                _ if c.phase == Phase::Created => r.starting += 1,
                _ => r.ready += 1,
            }
        }
        r
    }

    /// Names of the agents that work and take tasks: their reports are the
    /// pool's agent stats.
    pub fn working<'a>(&'a self, listed: &'a [Listed]) -> impl Iterator<Item = &'a str> + 'a {
        listed
            .iter()
            .filter(|c| c.phase == Phase::Running)
            .filter(|c| {
                self.members
                    .get(c.id.as_str())
                    .is_some_and(|m| m.role == Role::Ready)
            })
            .map(|c| c.name.as_str())
    }

    /// True while a roll is under way (one agent at a time).
    pub fn rolling(&self) -> bool {
        self.members.values().any(|m| {
            matches!(
                m.role,
                Role::Rolling(_)
                    | Role::Stopping {
                        cause: StopCause::Roll,
                        ..
                    }
            )
        })
    }
}

/// The role of a container a previous jetpool (or compose) left, from its
/// phase and its agent's own last report.
fn adopted_role(
    c: &Listed,
    report: Option<&crate::protocol::Stats>,
    now: Timestamp,
    agents: &AgentsSpec,
) -> Role {
    if c.phase == Phase::Created {
        return Role::Starting { requested: None };
    }
    match report.map(|s| (s.state, s.in_flight)) {
        Some((AgentState::Starting, _)) => Role::Starting { requested: None },
        Some((AgentState::Standby, _)) => Role::Standby,
        // A drain the previous jetpool began: finish it, with a deadline
        // counted from now (the old one is unknown).
        Some((AgentState::Draining | AgentState::Drained, held)) => Role::Draining(Drain {
            since: now,
            deadline: Some(after(now, agents.drain_timeout)),
            held,
        }),
        _ => Role::Ready,
    }
}
