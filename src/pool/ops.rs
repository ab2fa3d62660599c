//! Operations the pool loop runs in the background (container starts and
//! stops, protocol requests) and what it does when each one finishes. The
//! loop never waits on Docker or an agent inline: a slow `docker stop` must
//! not delay the next decision.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{error, info, warn};

use super::PoolRunner;
use super::members::{Draining, Starting};
use crate::observe::{AgentControl, MetricsSource};
use crate::protocol::{Command, Reply};
use crate::target::{ContainerId, Listed, ScaleTarget, TargetError};
use crate::telemetry;

/// The outcome of a background operation.
pub enum Op {
    /// A start finished.
    Started {
        /// Container name.
        name: String,
        /// When it was requested.
        requested: Instant,
        /// Started as standby.
        standby: bool,
        /// The container id, or why it failed.
        result: Result<ContainerId, TargetError>,
    },
    /// A stop (and removal) finished.
    Stopped {
        /// Container id.
        id: ContainerId,
        /// Container name.
        name: String,
        /// Whether it worked.
        result: Result<(), TargetError>,
    },
    /// Removal of an exited container finished.
    Removed {
        /// Container id.
        id: ContainerId,
    },
    /// An agent answered (or not) a drain request.
    DrainAnswered {
        /// The container.
        container: Listed,
        /// Tasks it held by our last report.
        held: u64,
        /// Its answer; `None` if it did not answer.
        reply: Option<Reply>,
    },
    /// An agent answered (or not) a resume request.
    Resumed {
        /// Container id.
        id: ContainerId,
        /// The drain that was cancelled, to restore if the agent refused.
        drain: Draining,
        /// Its answer.
        reply: Option<Reply>,
    },
    /// A standby answered (or not) an activation.
    Activated {
        /// Container name.
        name: String,
        /// Its answer.
        reply: Option<Reply>,
    },
}

/// Exponential back-off for starts that fail or crash.
#[derive(Debug)]
pub struct Backoff {
    /// Consecutive failures.
    failures: u32,
    /// No start is attempted before this instant.
    until: Option<Instant>,
    /// When the latest failure happened.
    last_failure: Option<Instant>,
    /// The longest delay.
    max: Duration,
}

impl Backoff {
    /// A back-off that retries the first failure at once (one crash is an
    /// accident, not a loop), then waits 1 s, doubling up to `max`.
    pub fn new(max: Duration) -> Self {
        Backoff {
            failures: 0,
            until: None,
            last_failure: None,
            max,
        }
    }

    /// Records a failure; returns the delay before the next start.
    pub fn fail(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let delay = match self.failures {
            1 => Duration::ZERO,
            n => Duration::from_secs(1u64 << (n - 2).min(20)).min(self.max),
        };
        let now = Instant::now();
        self.until = Some(now + delay);
        self.last_failure = Some(now);
        delay
    }

    /// When the latest failure happened, if any is on record.
    pub fn last_failure(&self) -> Option<Instant> {
        self.last_failure
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records a success.
    pub fn reset(&mut self) {
        self.failures = 0;
        self.until = None;
        self.last_failure = None;
    }

    /// Whether starts must wait.
    pub fn blocked(&self) -> bool {
        self.until.is_some_and(|u| Instant::now() < u)
    }

    /// Time left before starts are allowed.
    pub fn remaining(&self) -> Duration {
        self.until.map_or(Duration::ZERO, |u| {
            u.saturating_duration_since(Instant::now())
        })
    }
}

impl<S: MetricsSource, T: ScaleTarget, A: AgentControl> PoolRunner<S, T, A> {
    pub(super) fn spawn_start(&mut self, standby: bool) {
        // The template names the container (compose numbers its replicas),
        // so the request is prepared here, in order, before the spawn.
        let mut req = self
            .spec
            .template
            .start_request(&self.spec.name, &self.agent_nats_url);
        req.standby = standby;
        let name = req.name.clone();
        let requested = Instant::now();
        self.members
            .starting
            .insert(name.clone(), Starting { standby });
        if standby {
            self.members.standby.insert(name.clone());
        }
        let target = self.io.target.clone();
        self.ops.spawn(async move {
            let result = target.start(req).await;
            Op::Started {
                name,
                requested,
                standby,
                result,
            }
        });
    }

    pub(super) fn spawn_stop(&mut self, c: Listed) {
        info!(pool = %self.spec.name, agent = %c.name, "stopping agent");
        self.members.stopping.insert(c.id.clone());
        let target = self.io.target.clone();
        let timeout = self.spec.template.stop_timeout();
        self.ops.spawn(async move {
            let result = match target.stop(&c.id, timeout).await {
                Ok(()) => target.remove(&c.id).await,
                Err(e) => Err(e),
            };
            Op::Stopped {
                id: c.id,
                name: c.name,
                result,
            }
        });
    }

    pub(super) fn spawn_remove(&mut self, c: &Listed) {
        self.members.stopping.insert(c.id.clone());
        let target = self.io.target.clone();
        let id = c.id.clone();
        self.ops.spawn(async move {
            if let Err(e) = target.remove(&id).await {
                warn!(error = %e, "cannot remove exited agent");
            }
            Op::Removed { id }
        });
    }

    pub(super) fn spawn_drain(&mut self, c: Listed, held: u64) {
        info!(pool = %self.spec.name, agent = %c.name, held, "draining agent");
        self.members.drain_requested.insert(c.id.clone());
        let agents = self.io.agents.clone();
        let pool = self.spec.name.clone();
        self.ops.spawn(async move {
            let reply = agents.control(&pool, &c.name, Command::Drain).await;
            Op::DrainAnswered {
                container: c,
                held,
                reply,
            }
        });
    }

    pub(super) fn spawn_control_resume(&mut self, id: ContainerId, name: String, drain: Draining) {
        info!(pool = %self.spec.name, agent = %name, "demand is back: cancelling the drain");
        let agents = self.io.agents.clone();
        let pool = self.spec.name.clone();
        self.ops.spawn(async move {
            let reply = agents.control(&pool, &name, Command::Resume).await;
            Op::Resumed { id, drain, reply }
        });
    }

    pub(super) fn spawn_activate(&mut self, name: String) {
        info!(pool = %self.spec.name, agent = %name, "activating warm agent");
        let agents = self.io.agents.clone();
        let pool = self.spec.name.clone();
        self.ops.spawn(async move {
            let reply = agents.control(&pool, &name, Command::Activate).await;
            Op::Activated { name, reply }
        });
    }

    /// Applies the outcome of a background operation.
    pub(super) fn finish(&mut self, op: Op) {
        let pool = self.spec.name.clone();
        match op {
            Op::Started {
                name,
                requested,
                standby,
                result,
            } => {
                self.members.starting.remove(&name);
                match result {
                    Ok(_) => {
                        let secs = requested.elapsed().as_secs_f64();
                        telemetry::container_op(&pool, true);
                        self.members.started_at.insert(name.clone(), Instant::now());
                        if !standby {
                            self.cold_start_sample = Some(secs);
                        }
                        info!(pool = %pool, agent = %name, seconds = secs, standby, "agent started");
                    }
                    Err(e) => {
                        self.members.standby.remove(&name);
                        telemetry::docker_error(&pool, "start");
                        let delay = self.backoff.fail();
                        error!(pool = %pool, agent = %name, error = %e, retry_in = ?delay,
                               "cannot start agent; backing off");
                    }
                }
            }
            Op::Stopped { id, name, result } => {
                self.members.stopping.remove(&id);
                match result {
                    Ok(()) => {
                        telemetry::container_op(&pool, false);
                        info!(pool = %pool, agent = %name, "agent stopped and removed");
                    }
                    Err(e) => {
                        telemetry::docker_error(&pool, "stop");
                        error!(pool = %pool, agent = %name, error = %e, "cannot stop agent");
                    }
                }
            }
            Op::Removed { id } => {
                self.members.stopping.remove(&id);
            }
            Op::DrainAnswered {
                container,
                held,
                reply,
            } => {
                self.members.drain_requested.remove(&container.id);
                if let Some(r) = &reply {
                    self.registry.note_state(&container.name, r.state);
                }
                match reply {
                    Some(r) if r.ok => {
                        let deadline = Instant::now() + self.spec.agents.drain_timeout;
                        telemetry::drain_started(&pool, r.in_flight > 0);
                        self.members.draining.insert(
                            container.id.clone(),
                            Draining {
                                name: container.name.clone(),
                                deadline,
                                held: r.in_flight.max(held),
                            },
                        );
                    }
                    other => {
                        let why = other
                            .and_then(|r| r.error)
                            .unwrap_or_else(|| "no answer".into());
                        warn!(pool = %pool, agent = %container.name, reason = %why,
                              "drain not acknowledged; stopping with the stop timeout");
                        telemetry::drain_outcome(&pool, "refused");
                        self.spawn_stop(container);
                    }
                }
            }
            Op::Resumed { id, drain, reply } => {
                self.members.resuming.remove(&id);
                if let Some(r) = &reply {
                    self.registry.note_state(&drain.name, r.state);
                }
                if reply.as_ref().is_some_and(|r| r.ok) {
                    telemetry::drain_outcome(&pool, "cancelled");
                    info!(pool = %pool, agent = %drain.name, "drain cancelled; agent working again");
                } else {
                    // The agent cannot go back (SIGTERM received, or it is
                    // gone): it keeps draining and the next tick starts a
                    // replacement if one is still needed.
                    self.members.draining.insert(id, drain);
                }
            }
            Op::Activated { name, reply } => {
                self.members.activating.remove(&name);
                self.members.standby.remove(&name);
                if let Some(r) = &reply {
                    self.registry.note_state(&name, r.state);
                }
                if reply.as_ref().is_some_and(|r| r.ok) {
                    telemetry::warm_activation(&pool);
                    info!(pool = %pool, agent = %name, "warm agent activated");
                } else {
                    warn!(pool = %pool, agent = %name, "warm agent did not activate; treating it as a plain agent");
                }
            }
        }
    }
}
