//! Running the planner's actions: each becomes one background operation
//! on the target or an agent, whose [`Outcome`] is folded back into the
//! roster here ([`PoolRunner::finish`]). Nothing here decides anything.

use tracing::{debug, info, warn};

use super::{PoolRunner, SHUTDOWN_GRACE};
use crate::lease::{NOT_LEADER, Ticket};
use crate::observe::{AgentControl, MetricsSource};
use std::time::Duration;

use crate::plan::{Action, Outcome, Phase, StopCause};
use crate::protocol::Command;
use crate::target::ScaleTarget;
use crate::telemetry::{self, ScaleDirection};

impl<S: MetricsSource, T: ScaleTarget, A: AgentControl> PoolRunner<S, T, A> {
    /// Runs the planned actions: each is recorded in the roster, then run
    /// in the background.
    pub(super) fn act(&mut self, actions: Vec<Action>, now: jiff::Timestamp) {
        let name = &self.spec.name;
        for (sign, direction) in [(1, ScaleDirection::Up), (-1, ScaleDirection::Down)] {
            if actions.iter().any(|a| a.direction() == sign) {
                telemetry::scale_event(name, direction);
            }
        }
        if self.last.as_ref().is_some_and(|d| d.desired > d.current)
            && self.roster.backoff.blocked(now)
        {
            debug!(pool = %name, "start back-off in effect");
        }
        for a in actions {
            if let Some(tap) = &self.options.tap {
                let _ = tap.send(a.clone());
            }
            self.spawn(a, now);
        }
    }

    /// Applies the outcome of a background operation.
    pub(super) fn finish(&mut self, outcome: Outcome) {
        let now = self.clock.now();
        if let Some((id, Some(reply))) = outcome.reply()
            && let Some(m) = self.roster.get(id.as_str())
        {
            // So a report from before the command does not undo it until
            // the agent's next report.
            self.reports.note_state(&m.name, reply.state);
        }
        let (events, then) = self.roster.fold(outcome, &self.spec.agents, now);
        self.emit(events);
        for a in then {
            if let Some(tap) = &self.options.tap {
                let _ = tap.send(a.clone());
            }
            self.run_op(a);
        }
    }

    /// Whether this loop acts: always, unless `--ha` makes it follow.
    pub(super) fn leads(&self) -> bool {
        self.options
            .fence
            .as_ref()
            .is_none_or(|f| f.current().is_some())
    }

    /// The ticket of acts planned now: each checks it again just before
    /// its Docker or agent call, so an act planned by a leader that has
    /// lost the lease since does not run.
    fn ticket(&self) -> Ticket {
        self.options
            .fence
            .as_ref()
            .map_or_else(Ticket::free, |f| f.ticket())
    }

    /// Records `action` in the roster and starts its operation.
    pub(super) fn spawn(&mut self, action: Action, now: jiff::Timestamp) {
        match action {
            Action::Start { standby } => {
                // The template names the container (compose numbers its
                // replicas), so the request is prepared here, in order.
                let mut req = self
                    .spec
                    .template
                    .start_request(&self.spec.name, &self.options.agent_nats_url);
                req.standby = standby;
                let name = req.name.clone();
                self.roster.starting(&name, standby, now);
                let target = self.io.target.clone();
                let (ticket, pool) = (self.ticket(), self.spec.name.clone());
                self.ops.spawn(async move {
                    let result = if ticket.admit("start", &pool, &name) {
                        target.start(req).await.map_err(|e| e.to_string())
                    } else {
                        Err(NOT_LEADER.to_string())
                    };
                    Outcome::Started { name, result }
                });
            }
            other => {
                let events = self.roster.begin(&other, now);
                self.emit(events);
                self.run_op(other);
            }
        }
    }

    /// Starts the operation of an action already recorded in the roster.
    pub(super) fn run_op(&mut self, action: Action) {
        let pool = self.spec.name.clone();
        let ticket = self.ticket();
        match action {
            // Starts are prepared by `spawn`, which names the container.
            Action::Start { .. } => {}
            Action::Stop { id, name, cause } => {
                info!(pool = %pool, agent = %name, cause = ?cause, "stopping agent");
                let target = self.io.target.clone();
                // A job past its timeout is killed, not asked to finish:
                // finishing is what it failed to do in time.
                let timeout = if cause == StopCause::JobTimeout {
                    Duration::ZERO
                } else {
                    self.spec.template.stop_timeout()
                };
                self.ops.spawn(async move {
                    if !ticket.admit("stop", &pool, &name) {
                        return Outcome::Stopped {
                            id,
                            result: Err(NOT_LEADER.to_string()),
                        };
                    }
                    let result = match target.stop(&id, timeout).await {
                        // The stop may take the whole stop timeout: the
                        // removal is checked again.
                        Ok(()) if ticket.admit("remove", &pool, &name) => target.remove(&id).await,
                        Ok(()) => {
                            return Outcome::Stopped {
                                id,
                                result: Err(NOT_LEADER.to_string()),
                            };
                        }
                        Err(e) => Err(e),
                    };
                    Outcome::Stopped {
                        id,
                        result: result.map_err(|e| e.to_string()),
                    }
                });
            }
            Action::Remove { id, name, .. } => {
                let target = self.io.target.clone();
                self.ops.spawn(async move {
                    let result = if ticket.admit("remove", &pool, &name) {
                        target.remove(&id).await.map_err(|e| e.to_string())
                    } else {
                        Err(NOT_LEADER.to_string())
                    };
                    Outcome::Stopped { id, result }
                });
            }
            Action::Drain { id, name, .. } => {
                let agents = self.io.agents.clone();
                self.ops.spawn(async move {
                    let reply = if ticket.admit("drain", &pool, &name) {
                        agents.control(&pool, &name, Command::Drain).await
                    } else {
                        None
                    };
                    Outcome::DrainAnswered { id, reply }
                });
            }
            Action::Resume { id, name } => {
                info!(pool = %pool, agent = %name, "demand is back: cancelling the drain");
                let agents = self.io.agents.clone();
                self.ops.spawn(async move {
                    let reply = if ticket.admit("resume", &pool, &name) {
                        agents.control(&pool, &name, Command::Resume).await
                    } else {
                        None
                    };
                    Outcome::Resumed { id, reply }
                });
            }
            Action::Activate { id, name } => {
                info!(pool = %pool, agent = %name, "activating warm agent");
                let agents = self.io.agents.clone();
                self.ops.spawn(async move {
                    let reply = if ticket.admit("activate", &pool, &name) {
                        agents.control(&pool, &name, Command::Activate).await
                    } else {
                        None
                    };
                    Outcome::Activated { id, reply }
                });
            }
        }
    }

    /// After shutdown: no more decisions. Operations in flight may finish
    /// within [`SHUTDOWN_GRACE`]; what is still running then is abandoned,
    /// and a container whose start was cut short is removed rather than
    /// left created and never started.
    pub(super) async fn wind_down(mut self) {
        let name = self.spec.name.clone();
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while !self.ops.is_empty() {
            match tokio::time::timeout_at(deadline, self.ops.join_next()).await {
                Ok(Some(Ok(outcome))) => self.finish(outcome),
                Ok(Some(Err(_))) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if !self.ops.is_empty() {
            warn!(pool = %name, left = self.ops.len(), "operations still running at shutdown; abandoning them");
            self.ops.abort_all();
            while self.ops.join_next().await.is_some() {}
        }
        let cut_short: Vec<String> = self.roster.pending().keys().cloned().collect();
        let ticket = self.ticket();
        if !cut_short.is_empty()
            && let Ok(listed) = self.io.target.list(&name).await
        {
            for c in listed
                .iter()
                .filter(|c| c.phase == Phase::Created && cut_short.contains(&c.name))
            {
                if !ticket.admit("remove", &name, &c.name) {
                    break;
                }
                info!(pool = %name, agent = %c.name, "removing a container whose start was cut short by shutdown");
                let _ = self.io.target.remove(&c.id).await;
            }
        }
        info!(pool = %name, "pool loop stopped; agents left running");
    }
}
