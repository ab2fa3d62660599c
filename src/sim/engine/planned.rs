//! The engine driven per container, as jetpool's planner drives the live
//! Docker engine and agents: a [`Containers`] implementation in virtual
//! time, and the listing with reports the controller looks at.

use super::{ScaleIn, Sim, State};
use crate::plan::Phase;
use crate::protocol::{AgentState, Command, Reply};
use crate::sim::controller::{AgentSnapshot, Containers, Controller, Report};

impl Sim<'_> {
    /// One tick of a per-container controller: it sees every container
    /// not yet removed, with its agent's report, and acts on them.
    pub(super) fn act(&mut self, ctl: &mut dyn Controller) {
        let before = self.v.current();
        let view = self.v;
        let snapshot = self.snapshot();
        ctl.act(&view, &snapshot, self);
        let after = self.v.current();
        self.record_change(i64::from(after) - i64::from(before));
    }

    fn snapshot(&self) -> Vec<AgentSnapshot> {
        self.agents
            .iter()
            .enumerate()
            .filter(|(_, a)| a.state != State::Stopped && !a.name.is_empty())
            .map(|(i, a)| {
                // A starting agent reports `starting` (with its capacity)
                // as the reference agent does from the moment it runs.
                let state = match a.state {
                    State::Starting => Some(AgentState::Starting),
                    // A drained agent's last report (`drained`, with its
                    // final counts) goes out before it exits, as the
                    // reference agent's does; a killed one sends none.
                    State::Exited if !a.killed => Some(AgentState::Drained),
                    State::Exited | State::Stopped => None,
                    State::Standby => Some(AgentState::Standby),
                    State::Leaving => Some(AgentState::Draining),
                    State::Ready if a.work.is_empty() => Some(AgentState::Ready),
                    State::Ready => Some(AgentState::Busy),
                };
                AgentSnapshot {
                    name: a.name.clone(),
                    phase: if a.state == State::Exited {
                        Phase::Exited
                    } else {
                        Phase::Running
                    },
                    created: i as i64,
                    exit_code: (a.state == State::Exited).then_some(if a.killed { 137 } else { 0 }),
                    report: state.map(|state| Report {
                        state,
                        in_flight: a.work.len() as u64,
                        capacity: self.k as u64,
                        completed: a.completed,
                    }),
                }
            })
            .collect()
    }

    fn reply(&self, id: u32, ok: bool) -> Option<Reply> {
        let a = &self.agents[id as usize];
        let state = match a.state {
            State::Leaving | State::Exited => AgentState::Draining,
            State::Standby => AgentState::Standby,
            _ if a.work.is_empty() => AgentState::Ready,
            _ => AgentState::Busy,
        };
        Some(Reply {
            v: crate::protocol::VERSION,
            ok,
            state,
            in_flight: a.work.len() as u64,
            error: None,
        })
    }
}

impl Containers for Sim<'_> {
    fn start(&mut self, name: &str, standby: bool) {
        let id = self.start_agent(name.to_string(), standby);
        self.names.insert(name.to_string(), id);
    }

    fn control(&mut self, name: &str, command: Command) -> Option<Reply> {
        let id = *self.names.get(name)?;
        let state = self.agents[id as usize].state;
        match (command, state) {
            // Not up yet, or gone: nobody answers.
            (_, State::Starting | State::Exited | State::Stopped) => None,
            (Command::Drain, State::Ready) => {
                self.leave(id);
                if self.agents[id as usize].work.is_empty() {
                    let r = self.reply(id, true);
                    self.exit(id);
                    r
                } else if self.w.scale_in == ScaleIn::Abrupt {
                    let r = self.reply(id, true);
                    self.kill(id);
                    r
                } else {
                    self.reply(id, true)
                }
            }
            (Command::Resume, State::Leaving) => {
                self.v.draining -= 1;
                self.fetch(id);
                self.reply(id, true)
            }
            (Command::Activate, State::Standby) => {
                self.v.standby -= 1;
                self.fetch(id);
                self.reply(id, true)
            }
            // Already what was asked, or not applicable: refused.
            _ => self.reply(id, false),
        }
    }

    fn stop(&mut self, name: &str) {
        if let Some(&id) = self.names.get(name) {
            self.terminate(id);
        }
    }

    fn remove(&mut self, name: &str) {
        if let Some(id) = self.names.remove(name) {
            let a = &mut self.agents[id as usize];
            if a.state == State::Exited {
                a.state = State::Stopped;
            }
        }
    }
}
