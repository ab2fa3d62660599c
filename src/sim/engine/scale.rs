//! Scale-out and scale-in: starting containers, picking victims the way
//! each policy's orchestrator does, and draining, terminating or killing
//! them.

use rand::seq::SliceRandom;

use super::{Agent, Kind, ScaleIn, Sim, State};
use crate::sim::controller::{Retire, Victims};

impl Sim<'_> {
    pub(super) fn record_change(&mut self, delta: i64) {
        if delta != 0 {
            if self.last_delta != 0 && (delta > 0) != (self.last_delta > 0) {
                self.out.direction_changes += 1;
            }
            self.last_delta = delta;
        }
    }

    /// Sets the replica count to `desired`.
    pub(super) fn scale(&mut self, desired: u32, victims: Victims, retire: Retire) {
        let current = self.v.current();
        self.record_change(i64::from(desired) - i64::from(current));
        for _ in current..desired {
            let cold = self.w.cold_start.sample(&mut self.cold_rng).max(0.0);
            let id = self.agents.len() as u32;
            self.agents.push(Agent {
                state: State::Starting,
                cold,
                work: Vec::with_capacity(self.k),
            });
            self.active.push(id);
            self.alive += 1;
            self.v.starting += 1;
            self.out.starts += 1;
            self.push(self.now + cold, Kind::Ready { agent: id });
        }
        if desired >= current {
            return;
        }
        let n = (current - desired) as usize;
        let mut cand = std::mem::take(&mut self.active);
        match victims {
            Victims::IdleFirst => cand.sort_by_key(|&i| {
                let a = &self.agents[i as usize];
                (a.work.len(), a.state == State::Ready, std::cmp::Reverse(i))
            }),
            Victims::Orchestrator => {
                cand.shuffle(&mut self.victim_rng);
                // Stable: not-ready first, the shuffled order otherwise.
                cand.sort_by_key(|&i| self.agents[i as usize].state == State::Ready);
            }
        }
        let chosen: Vec<u32> = cand.drain(..n.min(cand.len())).collect();
        cand.sort_unstable();
        self.active = cand;
        for id in chosen {
            self.retire(id, retire);
        }
    }

    fn retire(&mut self, id: u32, retire: Retire) {
        let a = &mut self.agents[id as usize];
        match a.state {
            State::Starting => {
                self.v.starting -= 1;
                self.stop(id);
            }
            State::Ready => {
                a.state = State::Leaving;
                let idle = a.work.is_empty();
                self.v.ready -= 1;
                self.v.capacity -= self.k as u64;
                self.v.draining += 1;
                if idle {
                    self.stop(id);
                } else if self.w.scale_in == ScaleIn::Abrupt {
                    self.kill(id);
                } else if retire == Retire::Sigterm {
                    self.push(self.now + self.w.grace, Kind::Kill { agent: id });
                }
            }
            State::Leaving | State::Stopped => {}
        }
    }

    /// Kills a leaving agent: its tasks are lost and redelivered after
    /// AckWait.
    pub(super) fn kill(&mut self, id: u32) {
        let work = std::mem::take(&mut self.agents[id as usize].work);
        for (task, _) in work {
            let at = &mut self.attempts[task as usize];
            if *at == 0 {
                self.v.redelivered += 1;
            }
            *at = at.wrapping_add(1);
            self.v.in_flight -= 1;
            self.out.lost += 1;
            self.push(self.now + self.w.ack_wait, Kind::Redeliver { task });
        }
        self.stop(id);
    }

    pub(super) fn stop(&mut self, id: u32) {
        let a = &mut self.agents[id as usize];
        if a.state == State::Leaving {
            self.v.draining -= 1;
        }
        a.state = State::Stopped;
        a.work = Vec::new();
        self.alive -= 1;
        self.out.stops += 1;
    }
}
