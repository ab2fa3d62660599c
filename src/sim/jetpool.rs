//! jetpool's own row: the live service's code in virtual time. Every
//! `policy.interval` it reads the consumer (the snapshot's `at` is the
//! read time, as a CONSUMER.INFO answer's is), records the agents'
//! reports, syncs the [`Roster`] with the listing, builds the observation
//! with the live loop's builder, calls [`decide`] and [`plan`], and runs
//! the actions on the simulated engine, folding their outcomes back as
//! the live loop does. Drains, warm standbys, rolling and healing are
//! simulated by the code that runs live, and so is the arrival watcher:
//! a task that is news brings the next decision forward.

use jiff::Timestamp;

use super::controller::{AgentSnapshot, Clock, Containers, Controller, View};
use crate::config::AgentsSpec;
use crate::observe::wake::Surprise;
use crate::observe::{self, AgentRegistry};
use crate::plan::{self, Action, ContainerId, Event, Listed, Outcome, Phase, Roster};
use crate::policy::cold_start::Landings;
use crate::policy::{ConsumerStats, Policy, PoolState, decide};
use crate::protocol::{Command, Stats};

/// Virtual time 0 as a wall-clock instant (2023-11-14T22:13:20Z): any fixed
/// instant works, since `decide` only looks at differences.
const EPOCH_MS: i64 = 1_700_000_000_000;

/// From a task's publish to the decision it wakes, seconds: the median
/// `make bench-live` measures live (bench/results/live.md).
const WAKE_LATENCY_S: f64 = 0.002;

/// The template id of every simulated agent: the simulator does not roll.
const TEMPLATE: &str = "sim";

/// Virtual seconds as a timestamp, at the millisecond resolution the
/// decision core uses. Always in range: virtual time is at most a few
/// years.
pub fn timestamp(t: f64) -> Timestamp {
    let ms = EPOCH_MS + (t * 1000.0).round() as i64;
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The `jetpool` controller.
#[derive(Debug, Clone)]
pub struct Jetpool {
    /// The pool's policy.
    policy: Policy,
    /// Its agent lifecycle settings (drains, warm standbys, healing).
    agents: AgentsSpec,
    /// The decision core's memory.
    state: PoolState,
    /// Who is what.
    roster: Roster,
    /// The agents' reports.
    reports: AgentRegistry,
    /// Containers being stopped: the stop finishes when they exit.
    stopping: Vec<ContainerId>,
    /// Cold starts measured since the last decision.
    cold_starts: Landings,
    /// Names handed out so far.
    started: u64,
    /// The tick cadence.
    clock: Clock,
    /// The live loop's arrival watcher ([`Surprise`]), in virtual time.
    surprise: Surprise,
    /// A decision brought forward by an arrival that was news.
    wake_at: Option<f64>,
    /// The last decision's reason, for debugging a run.
    pub last_reason: String,
    /// The last decision's measured share of tasks started past the wait
    /// SLO (a `wait_slo` pool), to check it against the run's real one.
    pub last_late_share: Option<f64>,
}

impl Jetpool {
    /// A controller for `policy` with default agent settings, observing
    /// from time 0.
    pub fn new(policy: Policy) -> Self {
        Self::with_agents(policy, AgentsSpec::default())
    }

    /// A controller for `policy` and the agent settings of its pool.
    pub fn with_agents(policy: Policy, agents: AgentsSpec) -> Self {
        let period = policy.interval.as_secs_f64().max(1e-3);
        Jetpool {
            roster: Roster::new(timestamp(0.0), agents.max_backoff),
            policy,
            agents,
            state: PoolState::default(),
            reports: AgentRegistry::default(),
            stopping: Vec::new(),
            cold_starts: Landings::default(),
            started: 0,
            clock: Clock::new(period, 0.0),
            surprise: Surprise::new(),
            wake_at: None,
            last_reason: String::new(),
            last_late_share: None,
        }
    }

    /// The consumer's numbers as a CONSUMER.INFO answer would give them.
    pub fn consumer(v: &View) -> ConsumerStats {
        let delivered_stream = v.delivered.saturating_sub(v.redelivered);
        ConsumerStats {
            at: timestamp(v.now),
            pending: v.pending,
            ack_pending: v.ack_pending,
            waiting: v.capacity.saturating_sub(v.in_flight),
            redelivered: v.redelivered,
            delivered_consumer_seq: v.delivered,
            delivered_stream_seq: delivered_stream,
            ack_floor_consumer_seq: v.delivered.saturating_sub(v.ack_pending),
            ack_floor_stream_seq: delivered_stream.saturating_sub(v.ack_pending),
            max_ack_pending: v.max_ack_pending,
            oldest_pending_at: v.oldest_pending_arrival.map(timestamp),
        }
    }

    /// Finishes the stops whose containers exited (`docker stop` returns
    /// once the container is down, then it is removed); returns the
    /// listing without them.
    fn finish_stops(
        &mut self,
        agents: &[AgentSnapshot],
        c: &mut dyn Containers,
        now: Timestamp,
    ) -> Vec<Listed> {
        let mut listed = Vec::with_capacity(agents.len());
        for a in agents {
            let id = ContainerId::from(a.name.as_str());
            if a.phase == Phase::Exited && self.stopping.contains(&id) {
                self.stopping.retain(|s| *s != id);
                c.remove(&a.name);
                self.fold(Outcome::Stopped { id, result: Ok(()) }, c, now);
                continue;
            }
            listed.push(Listed {
                id: ContainerId::from(a.name.as_str()),
                name: a.name.clone(),
                phase: a.phase,
                created: a.created,
                template: Some(TEMPLATE.into()),
                unhealthy: false,
                exit_code: a.exit_code,
            });
        }
        listed
    }

    /// Runs `actions` on the engine, as the live loop's operations would.
    fn run(&mut self, actions: Vec<Action>, c: &mut dyn Containers, now: Timestamp) {
        for a in actions {
            let outcome = match a {
                Action::Start { standby } => {
                    self.started += 1;
                    let name = format!("agent-{}", self.started);
                    self.roster.starting(&name, standby, now);
                    c.start(&name, standby);
                    Outcome::Started {
                        result: Ok(ContainerId::from(name.as_str())),
                        name,
                    }
                }
                other => {
                    let events = self.roster.begin(&other, now);
                    self.note(events);
                    match other {
                        Action::Drain { id, name, .. } => Outcome::DrainAnswered {
                            reply: c.control(&name, Command::Drain),
                            id,
                        },
                        Action::Resume { id, name } => Outcome::Resumed {
                            reply: c.control(&name, Command::Resume),
                            id,
                        },
                        Action::Activate { id, name } => Outcome::Activated {
                            reply: c.control(&name, Command::Activate),
                            id,
                        },
                        Action::Stop { id, name, .. } => {
                            c.stop(&name);
                            self.stopping.push(id);
                            continue;
                        }
                        Action::Remove { id, name, .. } => {
                            c.remove(&name);
                            Outcome::Stopped { id, result: Ok(()) }
                        }
                        Action::Start { .. } => continue,
                    }
                }
            };
            self.fold(outcome, c, now);
        }
    }

    /// Folds an outcome into the roster and runs its follow-ups.
    fn fold(&mut self, outcome: Outcome, c: &mut dyn Containers, now: Timestamp) {
        if let Some((id, Some(reply))) = outcome.reply() {
            self.reports.note_state(id.as_str(), reply.state);
        }
        let (events, then) = self.roster.fold(outcome, &self.agents, now);
        self.note(events);
        for a in then {
            // Follow-ups are already recorded in the roster.
            if let Action::Stop { id, name, .. } = a {
                c.stop(&name);
                self.stopping.push(id);
            }
        }
    }

    /// Keeps what the decision needs from the roster's events.
    fn note(&mut self, events: Vec<Event>) {
        for e in events {
            if let Event::ColdStart {
                seconds, requested, ..
            } = e
            {
                self.cold_starts.add(seconds, requested);
            }
        }
    }
}

impl Controller for Jetpool {
    fn name(&self) -> &str {
        "jetpool"
    }

    fn next_tick(&self) -> f64 {
        self.wake_at
            .map_or(self.clock.next(), |w| w.min(self.clock.next()))
    }

    fn arrival(&mut self, now: f64) {
        if self.wake_at.is_none() && self.surprise.arrival(now) {
            self.wake_at = Some(now + WAKE_LATENCY_S);
        }
    }

    fn tick(&mut self, _view: &View) -> Option<u32> {
        None
    }

    fn per_container(&self) -> bool {
        true
    }

    fn act(&mut self, v: &View, agents: &[AgentSnapshot], c: &mut dyn Containers) {
        match self.wake_at.take() {
            // As the live loop's `reset_immediately`: the tick after a
            // woken decision is one period later.
            Some(w) if w < self.clock.next() => {
                self.clock = Clock::new(self.clock.period, v.now + self.clock.period);
            }
            _ => self.clock.advance(),
        }
        let now = timestamp(v.now);
        for a in agents {
            if let Some(r) = a.report {
                let stats = Stats {
                    v: crate::protocol::VERSION,
                    id: a.name.clone(),
                    pool: String::new(),
                    state: r.state,
                    in_flight: r.in_flight,
                    capacity: r.capacity,
                    completed: r.completed,
                    failed: 0,
                };
                self.reports.record(stats, now);
            }
        }
        let listed = self.finish_stops(agents, c, now);
        let roster = &self.roster;
        let names: std::collections::HashSet<&str> =
            listed.iter().map(|c| c.name.as_str()).collect();
        self.reports
            .retain(|name| roster.is_pending(name) || names.contains(name));
        let events = self.roster.sync(&listed, &self.reports, &self.agents, now);
        self.note(events);
        let cold = std::mem::take(&mut self.cold_starts);
        let tick = observe::Tick {
            consumer: Some(Self::consumer(v)),
            failure: None,
            replicas: self.roster.replicas(&listed),
            cold_starts: cold,
            budget: None,
            // The simulator models the backlog only (no cpu or prometheus).
            triggers: Vec::new(),
        };
        let working = self.roster.working(&listed);
        let obs = observe::observation(
            tick,
            &mut self.reports,
            working,
            self.agents.stats_timeout,
            now,
        );
        let d = decide(&self.policy, &mut self.state, &obs, now);
        let actions = plan::plan(&plan::Input {
            decision: &d,
            roster: &self.roster,
            listed: &listed,
            reports: &self.reports,
            agents: &self.agents,
            template: TEMPLATE,
            nats_ok: true,
            engine_back: false,
            jobs: plan::JobRules::of(&self.policy),
            ack_pending: Some(v.ack_pending),
            now,
        });
        self.surprise.expect(d.desired == 0);
        self.last_late_share = d.slo_late_share;
        self.last_reason = d.reason;
        self.run(actions, c, now);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sim::dist::Dist;
    use crate::sim::engine::{ScaleIn, World, run};
    use crate::sim::trace::Task;

    /// The late share jetpool measures from the consumer alone matches the
    /// share of tasks that really started past the SLO: ten minutes of
    /// 20 tasks/s from a cold pool whose agents take 60 s to start, twice
    /// the SLO, so the first surge's oldest tasks miss.
    #[test]
    fn the_measured_late_share_matches_the_real_one() {
        let tasks: Vec<Task> = (0..12_000)
            .map(|i| Task {
                arrival: f64::from(i) * 0.05,
                service: 1.0,
            })
            .collect();
        let world = World {
            concurrency: 1,
            ack_wait: 30.0,
            grace: 30.0,
            scale_in: ScaleIn::Graceful,
            max_ack_pending: None,
            cold_start: Dist::Const(60.0).sampler(),
            seed: 1,
            bucket: 1.0,
            duration: 600.0,
            once_wait: None,
        };
        let mut policy = Policy {
            max: 1000,
            ..Policy::default()
        };
        policy.scaling.wait_slo = Some(Duration::from_secs(30));
        let mut jp = Jetpool::new(policy);
        let out = run(&tasks, &world, &mut jp);
        let late = out.waits.iter().filter(|&&w| w > 30.0).count() as f64 / tasks.len() as f64;
        let measured = jp.last_late_share.expect("measured");
        assert!(late > 0.02, "the first surge misses: {late}");
        // The window weighs the early misses a little less (e^-1/6).
        assert!(
            (measured - late).abs() < 0.2 * late,
            "measured {measured}, real {late}"
        );
    }
}
