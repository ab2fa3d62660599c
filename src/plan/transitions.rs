//! The roster's transitions: an action about to run ([`Roster::begin`])
//! and how an operation ended ([`Roster::fold`]). Pure, taking `now`; each
//! returns the events to announce.

use jiff::Timestamp;

use super::roster::{Drain, Member, Pending, Role, Roster};
use super::{Action, DrainCause, Event, JobEnd, Outcome, RemoveCause, ReplaceReason, StopCause};
use crate::clock::{after, since};
use crate::config::AgentsSpec;
use crate::telemetry::JobOutcome;

impl Roster {
    /// Records a start about to be requested for the container `name`.
    pub fn starting(&mut self, name: &str, standby: bool, now: Timestamp) {
        self.pending.insert(
            name.to_string(),
            Pending {
                standby,
                requested: now,
            },
        );
    }

    /// Records an action about to run (for [`Action::Start`], see
    /// [`Roster::starting`], which needs the container's name).
    pub fn begin(&mut self, action: &Action, now: Timestamp) -> Vec<Event> {
        let mut events = Vec::new();
        let Some(id) = action.id() else {
            return events;
        };
        let Some(m) = self.members.get_mut(id) else {
            return events;
        };
        let name = m.name.clone();
        match *action {
            Action::Start { .. } => {}
            Action::Activate { .. } => m.role = Role::Activating,
            Action::Resume { .. } => {
                if let Role::Draining(d) = m.role {
                    m.role = Role::Resuming(d);
                }
            }
            Action::Drain { held, cause, .. } => {
                let d = Drain {
                    since: now,
                    deadline: None,
                    held,
                };
                m.role = match cause {
                    DrainCause::ScaleIn => Role::Draining(d),
                    DrainCause::Roll => {
                        events.push(Event::Rolled { name: name.clone() });
                        Role::Rolling(d)
                    }
                };
                events.push(Event::Draining { name, held });
            }
            Action::Stop { cause, .. } => {
                let prior = match m.role {
                    Role::Draining(d) | Role::Rolling(d) | Role::Resuming(d) => Some(d),
                    _ => None,
                };
                m.role = Role::Stopping { cause, prior };
                if let Some(e) = stop_event(cause, name) {
                    events.push(e);
                }
            }
            Action::Remove { cause, .. } => {
                let held = match m.role {
                    Role::Draining(d) | Role::Rolling(d) => d.held,
                    _ => 0,
                };
                m.role = Role::Stopping {
                    cause: StopCause::Remove(cause),
                    prior: None,
                };
                match cause {
                    RemoveCause::Drained => events.push(Event::Drained { name, held }),
                    RemoveCause::Exited => events.push(Event::Exited { name }),
                    RemoveCause::Crashed => {
                        let retry_in = self.backoff.fail(now);
                        events.push(Event::Crashed {
                            name,
                            failures: self.backoff.failures(),
                            retry_in,
                        });
                    }
                    RemoveCause::Leftover => {}
                    RemoveCause::NeverStarted => events.push(Event::Replaced {
                        name,
                        reason: ReplaceReason::NeverStarted,
                    }),
                    RemoveCause::Job {
                        end,
                        exit_code,
                        crashed,
                    } => {
                        let outcome = match end {
                            JobEnd::Succeeded => JobOutcome::Succeeded,
                            JobEnd::Failed => JobOutcome::Failed,
                        };
                        events.push(Event::JobEnded {
                            name: name.clone(),
                            outcome,
                            exit_code,
                        });
                        if crashed {
                            let retry_in = self.backoff.fail(now);
                            events.push(Event::Crashed {
                                name,
                                failures: self.backoff.failures(),
                                retry_in,
                            });
                        }
                    }
                }
            }
        }
        events
    }

    /// Records how a background operation ended. Returns the events and
    /// the follow-up actions (a refused drain becomes a stop at once).
    pub fn fold(
        &mut self,
        outcome: Outcome,
        agents: &AgentsSpec,
        now: Timestamp,
    ) -> (Vec<Event>, Vec<Action>) {
        let mut events = Vec::new();
        let mut then = Vec::new();
        match outcome {
            Outcome::Started { name, result } => {
                let Some(p) = self.pending.remove(&name) else {
                    return (events, then);
                };
                match result {
                    Ok(id) => {
                        events.push(Event::Started {
                            name: name.clone(),
                            seconds: since(p.requested, now).as_secs_f64(),
                            standby: p.standby,
                        });
                        let role = if p.standby {
                            Role::Standby
                        } else {
                            Role::Starting {
                                requested: Some(p.requested),
                            }
                        };
                        self.members.insert(
                            id,
                            Member {
                                name,
                                role,
                                started: Some(now),
                                awaiting_report: Some(p.requested),
                            },
                        );
                    }
                    Err(error) => {
                        let retry_in = self.backoff.fail(now);
                        self.last_start_error = Some((now, error.clone()));
                        events.push(Event::StartFailed {
                            name,
                            error,
                            retry_in,
                        });
                    }
                }
            }
            Outcome::Stopped { id, result } => {
                let Some(m) = self.members.get_mut(&id) else {
                    return (events, then);
                };
                let name = m.name.clone();
                match result {
                    // Stopped and removed: the next listing will not have
                    // it (or a compose target keeps it, hidden).
                    Ok(()) => {
                        let removal = matches!(
                            m.role,
                            Role::Stopping {
                                cause: StopCause::Remove(_),
                                ..
                            }
                        );
                        self.members.remove(&id);
                        if !removal {
                            events.push(Event::Stopped { name });
                        }
                    }
                    Err(error) => {
                        m.role = match m.role {
                            // An exited container whose removal failed is
                            // removed again, without counting its exit twice.
                            Role::Stopping {
                                cause: StopCause::Remove(_),
                                ..
                            } => Role::Gone,
                            // A drain whose stop failed is still a drain: its
                            // deadline, already past, retries the stop.
                            Role::Stopping { prior: Some(d), .. } => Role::Draining(d),
                            _ => Role::Ready,
                        };
                        events.push(Event::StopFailed { name, error });
                    }
                }
            }
            Outcome::DrainAnswered { id, reply } => {
                let Some(m) = self.members.get_mut(&id) else {
                    return (events, then);
                };
                let (d, roll) = match m.role {
                    Role::Draining(d) => (d, false),
                    Role::Rolling(d) => (d, true),
                    _ => return (events, then),
                };
                match reply {
                    Some(r) if r.ok => {
                        let d = Drain {
                            deadline: Some(after(now, agents.drain_timeout)),
                            held: r.in_flight.max(d.held),
                            ..d
                        };
                        m.role = if roll {
                            Role::Rolling(d)
                        } else {
                            Role::Draining(d)
                        };
                        events.push(Event::DrainAcked {
                            name: m.name.clone(),
                            held: d.held,
                        });
                    }
                    other => {
                        let why = other
                            .and_then(|r| r.error)
                            .unwrap_or_else(|| "no answer".into());
                        let stop = Action::Stop {
                            id: id.clone(),
                            name: m.name.clone(),
                            cause: StopCause::DrainRefused,
                        };
                        events.push(Event::DrainRefused {
                            name: m.name.clone(),
                            why,
                        });
                        events.extend(self.begin(&stop, now));
                        then.push(stop);
                    }
                }
            }
            Outcome::Resumed { id, reply } => {
                if let Some(m) = self.members.get_mut(&id)
                    && let Role::Resuming(d) = m.role
                {
                    if reply.is_some_and(|r| r.ok) {
                        m.role = Role::Ready;
                        events.push(Event::Resumed {
                            name: m.name.clone(),
                        });
                    } else {
                        // SIGTERM received, or gone: it keeps draining and
                        // the next plan starts a replacement if needed.
                        m.role = Role::Draining(d);
                    }
                }
            }
            Outcome::Activated { id, reply } => {
                if let Some(m) = self.members.get_mut(&id)
                    && m.role == Role::Activating
                {
                    m.role = Role::Ready;
                    events.push(Event::Activated {
                        name: m.name.clone(),
                        ok: reply.is_some_and(|r| r.ok),
                    });
                }
            }
        }
        (events, then)
    }
}

/// The event a stop of `cause` is announced with.
fn stop_event(cause: StopCause, name: String) -> Option<Event> {
    match cause {
        StopCause::Unhealthy => Some(Event::Replaced {
            name,
            reason: ReplaceReason::Unhealthy,
        }),
        StopCause::Silent => Some(Event::Replaced {
            name,
            reason: ReplaceReason::Silent,
        }),
        StopCause::DrainDeadline => Some(Event::DrainDeadline { name }),
        StopCause::Roll => Some(Event::Rolled { name }),
        StopCause::JobTimeout => Some(Event::JobEnded {
            name,
            outcome: JobOutcome::Killed,
            exit_code: None,
        }),
        StopCause::ScaleIn | StopCause::DrainRefused | StopCause::Remove(_) => None,
    }
}
