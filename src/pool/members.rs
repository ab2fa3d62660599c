//! What the pool loop is doing to each of its containers: the transitions
//! in flight (starting, draining, stopping, activating, resuming) and the
//! warm standbys. Docker's listing says what exists; this says what jetpool
//! intends, and the two together give the counts `decide` sees.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use super::status::AgentView;
use crate::observe::AgentRegistry;
use crate::policy::Replicas;
use crate::protocol::AgentState;
use crate::target::{ContainerId, Listed, Phase};

/// A container being created and started.
#[derive(Debug, Clone, Copy)]
pub struct Starting {
    /// Started as a warm standby.
    pub standby: bool,
}

/// An agent that acknowledged a drain request.
#[derive(Debug, Clone)]
pub struct Draining {
    /// Container name.
    pub name: String,
    /// When it gets `docker stop` if it has not exited by itself.
    pub deadline: Instant,
    /// Tasks it held when the drain began.
    pub held: u64,
}

/// The loop's intentions, keyed by container name or id.
#[derive(Debug, Default)]
pub struct Members {
    /// Names of containers being started.
    pub starting: HashMap<String, Starting>,
    /// When each container this process started came up (for crash
    /// detection: an exit soon after the start is a crash).
    pub started_at: HashMap<String, Instant>,
    /// Ids with a drain request in flight.
    pub drain_requested: HashSet<ContainerId>,
    /// Ids of agents draining.
    pub draining: HashMap<ContainerId, Draining>,
    /// Ids being stopped (`docker stop`) or removed.
    pub stopping: HashSet<ContainerId>,
    /// Ids with a resume (drain cancel) in flight.
    pub resuming: HashSet<ContainerId>,
    /// Names of warm standby agents.
    pub standby: HashSet<String>,
    /// Names with an activation in flight.
    pub activating: HashSet<String>,
    /// Id of the agent being rolled out (made from an older template):
    /// one at a time, and never resumed to cover demand.
    pub rolling: Option<ContainerId>,
}

impl Members {
    /// True if the container is in any transition (so it is neither a
    /// scale-in candidate nor a hung-agent suspect).
    pub fn busy(&self, c: &Listed) -> bool {
        self.starting.contains_key(&c.name)
            || self.drain_requested.contains(&c.id)
            || self.draining.contains_key(&c.id)
            || self.stopping.contains(&c.id)
            || self.resuming.contains(&c.id)
            || self.standby.contains(&c.name)
            || self.activating.contains(&c.name)
    }

    /// Drops state about containers that no longer exist.
    pub fn retain_listed(&mut self, containers: &[Listed], registry: &mut AgentRegistry) {
        let ids: HashSet<&str> = containers.iter().map(|c| c.id.as_str()).collect();
        let names: HashSet<&str> = containers.iter().map(|c| c.name.as_str()).collect();
        self.draining.retain(|id, _| ids.contains(id.as_str()));
        self.resuming.retain(|id| ids.contains(id.as_str()));
        // A standby or activation is kept while its start is in flight.
        let starting: HashSet<String> = self.starting.keys().cloned().collect();
        self.standby
            .retain(|n| names.contains(n.as_str()) || starting.contains(n));
        self.activating.retain(|n| names.contains(n.as_str()));
        if self
            .rolling
            .as_ref()
            .is_some_and(|id| !ids.contains(id.as_str()))
        {
            self.rolling = None;
        }
        self.started_at
            .retain(|n, _| names.contains(n.as_str()) || starting.contains(n));
        for id in registry.ids() {
            if !names.contains(id.as_str()) {
                registry.forget(&id);
            }
        }
    }

    /// Adopts standbys this process did not start (after a restart): any
    /// running agent whose own report says `standby`.
    pub fn adopt_standbys(&mut self, containers: &[Listed], registry: &AgentRegistry) {
        for c in containers {
            if c.phase == Phase::Running
                && !self.busy(c)
                && registry
                    .get(&c.name)
                    .is_some_and(|s| s.stats.state == AgentState::Standby)
            {
                self.standby.insert(c.name.clone());
            }
        }
    }

    /// Counts containers by role, consistently with the transitions in
    /// flight (a container being started counts as starting whether or
    /// not Docker lists it yet).
    pub fn replicas(&self, containers: &[Listed]) -> Replicas {
        let mut r = Replicas::default();
        for s in self.starting.values() {
            if s.standby {
                r.standby += 1;
            } else {
                r.starting += 1;
            }
        }
        for c in containers {
            if c.phase == Phase::Exited
                || c.phase == Phase::Removing
                || self.starting.contains_key(&c.name)
            {
                continue;
            }
            if self.stopping.contains(&c.id)
                || self.draining.contains_key(&c.id)
                || self.drain_requested.contains(&c.id)
            {
                r.draining += 1;
            } else if self.resuming.contains(&c.id) || self.activating.contains(&c.name) {
                r.starting += 1;
            } else if self.standby.contains(&c.name) {
                r.standby += 1;
            } else if c.phase == Phase::Created {
                r.starting += 1;
            } else {
                r.ready += 1;
            }
        }
        r
    }

    /// The role of one container, for `/status`.
    pub fn role(&self, c: &Listed) -> &'static str {
        if self.stopping.contains(&c.id) {
            "stopping"
        } else if self.draining.contains_key(&c.id) || self.drain_requested.contains(&c.id) {
            "draining"
        } else if self.resuming.contains(&c.id) || self.activating.contains(&c.name) {
            "activating"
        } else if self.standby.contains(&c.name) {
            "standby"
        } else if self.starting.contains_key(&c.name) || c.phase == Phase::Created {
            "starting"
        } else if c.phase == Phase::Running {
            "ready"
        } else {
            "exited"
        }
    }

    /// Up to `n` scale-in victims: idle agents first, then those holding
    /// the fewest tasks; among equals, one of an older template than
    /// `template` (it would be rolled anyway), then the newest. Agents that
    /// do not report are assumed to hold the pool's average.
    #[allow(clippy::too_many_arguments)]
    pub fn victims(
        &self,
        containers: &[Listed],
        registry: &AgentRegistry,
        average_in_flight: f64,
        template: &str,
        now: Instant,
        fresh: Duration,
        n: usize,
    ) -> Vec<(Listed, Option<u64>)> {
        let current = |c: &Listed| c.template.as_deref().is_none_or(|t| t == template);
        let mut candidates: Vec<(f64, bool, i64, &Listed, Option<u64>)> = containers
            .iter()
            .filter(|c| matches!(c.phase, Phase::Created | Phase::Running) && !self.busy(c))
            .map(|c| {
                let held = if c.phase == Phase::Created {
                    Some(0)
                } else {
                    registry.fresh(&c.name, now, fresh).map(|s| s.in_flight)
                };
                let key = held.map_or(average_in_flight, |h| h as f64);
                (key, current(c), -c.created, c, held)
            })
            .collect();
        candidates.sort_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then(a.1.cmp(&b.1))
                .then(a.2.cmp(&b.2))
                .then_with(|| a.3.name.cmp(&b.3.name))
        });
        candidates
            .into_iter()
            .take(n)
            .map(|(_, _, _, c, held)| (c.clone(), held))
            .collect()
    }

    /// Every listed container with its role and last report, for `/status`.
    pub fn views(&self, containers: &[Listed], registry: &AgentRegistry) -> Vec<AgentView> {
        let mut v: Vec<AgentView> = containers
            .iter()
            .map(|c| {
                let seen = registry.get(&c.name);
                AgentView {
                    name: c.name.clone(),
                    role: self.role(c),
                    state: seen.map(|s| s.stats.state),
                    in_flight: seen.map(|s| s.stats.in_flight),
                }
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(name: &str, created: i64, template: &str) -> Listed {
        Listed {
            id: format!("id-{name}").into(),
            name: name.into(),
            phase: Phase::Running,
            created,
            template: Some(template.into()),
            unhealthy: false,
        }
    }

    #[test]
    fn among_equals_an_older_template_goes_first_then_the_newest() {
        let m = Members::default();
        let registry = AgentRegistry::default();
        let list = [
            agent("old", 1, "t1"),
            agent("new-a", 2, "t2"),
            agent("new-b", 3, "t2"),
        ];
        let pick = |n| {
            m.victims(
                &list,
                &registry,
                0.0,
                "t2",
                Instant::now(),
                Duration::from_secs(15),
                n,
            )
            .into_iter()
            .map(|(c, _)| c.name)
            .collect::<Vec<_>>()
        };
        assert_eq!(pick(1), ["old"]);
        assert_eq!(pick(2), ["old", "new-b"]);
    }
}
