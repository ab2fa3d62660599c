//! The consumer's side of the world: handing messages to agents' open
//! pull requests.

use super::{Kind, Sim, State};

impl Sim<'_> {
    /// Hands messages to open pull requests while both exist.
    pub(super) fn deliver(&mut self) {
        loop {
            let from_redelivery = !self.redeliver.is_empty();
            if !from_redelivery
                && (self.backlog.is_empty()
                    || self
                        .w
                        .max_ack_pending
                        .is_some_and(|m| self.v.ack_pending >= m))
            {
                return;
            }
            let Some(agent) = self.free.pop_front() else {
                return;
            };
            let a = &self.agents[agent as usize];
            if a.state != State::Ready || a.work.len() >= self.k {
                continue; // a stale pull request of an agent that left
            }
            let task = if from_redelivery {
                self.redeliver.pop_front()
            } else {
                self.v.pending -= 1;
                self.v.ack_pending += 1;
                self.backlog.pop_front()
            };
            let Some(task) = task else { return };
            self.v.delivered += 1;
            self.v.in_flight += 1;
            let attempt = self.attempts[task as usize];
            let done = self.now + self.tasks[task as usize].service;
            self.agents[agent as usize].work.push((task, self.now));
            self.push(
                done,
                Kind::Done {
                    agent,
                    task,
                    attempt,
                },
            );
        }
    }
}
