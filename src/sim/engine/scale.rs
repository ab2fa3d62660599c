//! Scale-out and scale-in: starting containers, picking victims the way
//! each policy's orchestrator does, and draining, terminating or killing
//! them.

use rand::seq::SliceRandom;

use super::{Agent, Kind, ScaleIn, Sim, State};

impl Sim<'_> {
    pub(super) fn record_change(&mut self, delta: i64) {
        if delta != 0 {
            if self.last_delta != 0 && (delta > 0) != (self.last_delta > 0) {
                self.out.direction_changes += 1;
            }
            self.last_delta = delta;
        }
    }

    /// Starts one container (its cold start drawn from the shared
    /// sequence); returns its index.
    pub(super) fn start_agent(&mut self, name: String, standby: bool) -> u32 {
        let cold = self.w.cold_start.sample(&mut self.cold_rng).max(0.0);
        let id = self.agents.len() as u32;
        self.agents.push(Agent {
            state: State::Starting,
            cold,
            work: Vec::with_capacity(self.k),
            name,
            standby,
            completed: 0,
            killed: false,
        });
        self.alive += 1;
        self.v.starting += 1;
        self.out.starts += 1;
        self.push(self.now + cold, Kind::Ready { agent: id });
        id
    }

    /// Sets the replica count to `desired`, as the peers' orchestrators
    /// do: new containers, or victims that are not ready yet first, then
    /// in a seeded random order that ignores the work they hold.
    pub(super) fn scale(&mut self, desired: u32) {
        let current = self.v.current();
        self.record_change(i64::from(desired) - i64::from(current));
        for _ in current..desired {
            let id = self.start_agent(String::new(), false);
            self.active.push(id);
        }
        if desired >= current {
            return;
        }
        let n = (current - desired) as usize;
        let mut cand = std::mem::take(&mut self.active);
        cand.shuffle(&mut self.victim_rng);
        // Stable: not-ready first, the shuffled order otherwise.
        cand.sort_by_key(|&i| self.agents[i as usize].state == State::Ready);
        let chosen: Vec<u32> = cand.drain(..n.min(cand.len())).collect();
        cand.sort_unstable();
        self.active = cand;
        for id in chosen {
            self.terminate(id);
        }
    }

    /// SIGTERM: an agent still starting is gone at once; a working one
    /// stops fetching, finishes what it can, and is killed after the grace
    /// period (at once under `--scale-in abrupt`).
    pub(super) fn terminate(&mut self, id: u32) {
        match self.agents[id as usize].state {
            State::Starting => {
                self.v.starting -= 1;
                self.exit(id);
            }
            State::Standby => {
                self.v.standby -= 1;
                self.exit(id);
            }
            State::Ready => {
                self.leave(id);
                if self.agents[id as usize].work.is_empty() {
                    self.exit(id);
                } else if self.w.scale_in == ScaleIn::Abrupt {
                    self.kill(id);
                } else {
                    self.push(self.now + self.w.grace, Kind::Kill { agent: id });
                }
            }
            State::Leaving => {
                if self.w.scale_in == ScaleIn::Abrupt {
                    self.kill(id);
                } else {
                    self.push(self.now + self.w.grace, Kind::Kill { agent: id });
                }
            }
            State::Exited | State::Stopped => {}
        }
    }

    /// A ready agent stops fetching: it no longer counts as capacity.
    pub(super) fn leave(&mut self, id: u32) {
        let a = &mut self.agents[id as usize];
        if a.state == State::Ready {
            a.state = State::Leaving;
            self.v.ready -= 1;
            self.v.capacity -= self.k as u64;
            self.v.draining += 1;
        }
    }

    /// A ready, starting-done agent (or a resumed one) fetches again.
    pub(super) fn fetch(&mut self, id: u32) {
        let a = &mut self.agents[id as usize];
        a.state = State::Ready;
        let free = self.k.saturating_sub(a.work.len());
        self.v.ready += 1;
        self.v.capacity += self.k as u64;
        for _ in 0..free {
            self.free.push_back(id);
        }
        self.deliver();
    }

    /// Kills a leaving agent: its tasks are lost and redelivered after
    /// AckWait.
    pub(super) fn kill(&mut self, id: u32) {
        if self.agents[id as usize].state != State::Leaving {
            return;
        }
        self.agents[id as usize].killed = true;
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
        self.exit(id);
    }

    /// The agent's process ends: it no longer costs agent time. Its
    /// container stays listed (exited) until a per-container controller
    /// removes it; the peers' orchestrators never look again.
    pub(super) fn exit(&mut self, id: u32) {
        let a = &mut self.agents[id as usize];
        if matches!(a.state, State::Exited | State::Stopped) {
            return;
        }
        if a.state == State::Leaving {
            self.v.draining -= 1;
        }
        a.state = State::Exited;
        a.work = Vec::new();
        self.alive -= 1;
        self.out.stops += 1;
    }
}
