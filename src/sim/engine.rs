//! The discrete-event simulation: a JetStream pull consumer feeding agent
//! containers, in virtual time.
//!
//! - The consumer keeps new messages in FIFO order and redeliveries ahead of
//!   them (JetStream redelivers before it delivers new messages). It stops
//!   delivering new messages while `ack_pending` is at `max_ack_pending`.
//! - An agent is a container: created on a scale-out, ready after a cold
//!   start drawn from the cold-start distribution, then it holds up to
//!   `concurrency` tasks. Its free slots are open pull requests, served in
//!   the order they were opened (the server's waiting-request queue).
//! - A task's queue wait is from its arrival to the start of the delivery
//!   that completes it: work lost with a killed agent, and the AckWait
//!   before its redelivery, count as waiting.
//! - Agent-seconds run from the start request to the stop, through cold
//!   start, work, idle time and drain.
//! - A lost task is redelivered AckWait after the kill: agents extend the
//!   ack deadline (`+WPI`) while they work, so the timer runs from the kill.
//! - In a job world ([`World::once_wait`]) every agent is a job, the
//!   reference agent's `--once`: it takes one task, works it and exits;
//!   one that gets none within the wait exits with nothing done.

use std::collections::{BinaryHeap, VecDeque};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::controller::{Controller, View};
use super::dist::Sampler;
use super::trace::Task;

/// How scaled-in agents leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScaleIn {
    /// Each policy's own way: jetpool drains; peers send SIGTERM and kill
    /// after the grace period.
    Graceful,
    /// Victims are killed at once; their tasks are lost and redelivered.
    Abrupt,
}

/// The world's fixed parameters.
#[derive(Debug, Clone)]
pub struct World {
    /// Tasks one agent holds at once.
    pub concurrency: u32,
    /// JetStream AckWait, seconds.
    pub ack_wait: f64,
    /// SIGTERM-to-SIGKILL grace period, seconds.
    pub grace: f64,
    /// Scale-in mode.
    pub scale_in: ScaleIn,
    /// The consumer's `max_ack_pending`.
    pub max_ack_pending: Option<u64>,
    /// Container start to ready agent, seconds.
    pub cold_start: Sampler,
    /// Seeds the cold-start draws and the victim order.
    pub seed: u64,
    /// Width of the time-series buckets kept for plots, seconds.
    pub bucket: f64,
    /// The trace's length, seconds: the run lasts at least this long.
    pub duration: f64,
    /// A job world: each agent works one task and exits, or exits after
    /// this many seconds up without one (`--once-wait`). `None`: agents
    /// work until stopped.
    pub once_wait: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In its cold start: not up, not reporting.
    Starting,
    /// Fetching.
    Ready,
    /// A warm standby: up, not fetching.
    Standby,
    /// Not fetching, finishing what it holds (a drain, or SIGTERM).
    Leaving,
    /// Its process ended; the container is still listed until removed.
    Exited,
    /// Removed (or never listed: the peers' orchestrators remove at once).
    Stopped,
}

#[derive(Debug)]
struct Agent {
    state: State,
    cold: f64,
    /// `(task, start of this attempt)`.
    work: Vec<(u32, f64)>,
    /// Its name, for per-container controllers.
    name: String,
    /// Started as a warm standby: up after its cold start, not fetching.
    standby: bool,
    /// Tasks it completed, for its reports.
    completed: u64,
    /// Killed (SIGKILL after its grace period, or abruptly): it exits
    /// 137; an agent that ends on its own exits 0.
    killed: bool,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Done {
        agent: u32,
        task: u32,
        attempt: u8,
    },
    Ready {
        agent: u32,
    },
    Kill {
        agent: u32,
    },
    Redeliver {
        task: u32,
    },
    /// A job's wait for its one task ran out.
    Expire {
        agent: u32,
    },
}

/// Runs `ctl` over `tasks` in `world`.
pub fn run(tasks: &[Task], world: &World, ctl: &mut dyn Controller) -> Outcome {
    let mut sim = Sim::new(tasks, world);
    sim.run(ctl);
    sim.out
}

struct Sim<'a> {
    tasks: &'a [Task],
    w: &'a World,
    k: usize,
    now: f64,
    next_arrival: usize,
    backlog: VecDeque<u32>,
    redeliver: VecDeque<u32>,
    free: VecDeque<u32>,
    agents: Vec<Agent>,
    /// Ready or starting agents: the scale-in candidates of the peers'
    /// orchestrators.
    active: Vec<u32>,
    /// Agents by name, for per-container controllers.
    names: std::collections::HashMap<String, u32>,
    heap: BinaryHeap<Ev>,
    seq: u64,
    /// Delivery attempt per task; a completion event of an older attempt
    /// is stale. Wrapping at 256 is harmless: a stale event is popped by the
    /// end of its service time, long before 256 AckWaits have passed.
    attempts: Vec<u8>,
    v: View,
    alive: u32,
    cold_rng: ChaCha8Rng,
    victim_rng: ChaCha8Rng,
    last_delta: i64,
    last_completion: f64,
    agent_area: f64,
    backlog_area: f64,
    bucket_end: f64,
    out: Outcome,
}

impl<'a> Sim<'a> {
    fn new(tasks: &'a [Task], w: &'a World) -> Self {
        Sim {
            tasks,
            w,
            // A job takes one task: `--once` runs at concurrency 1.
            k: if w.once_wait.is_some() {
                1
            } else {
                w.concurrency.max(1) as usize
            },
            now: 0.0,
            next_arrival: 0,
            backlog: VecDeque::new(),
            redeliver: VecDeque::new(),
            free: VecDeque::new(),
            agents: Vec::new(),
            active: Vec::new(),
            names: std::collections::HashMap::new(),
            heap: BinaryHeap::new(),
            seq: 0,
            attempts: vec![0; tasks.len()],
            v: View {
                max_ack_pending: w.max_ack_pending,
                ..View::default()
            },
            alive: 0,
            // Every policy sees the same sequence of cold starts (the i-th
            // container started gets the i-th draw) and its own victim order.
            cold_rng: ChaCha8Rng::seed_from_u64(w.seed ^ 0xC01D_57A7),
            victim_rng: ChaCha8Rng::seed_from_u64(w.seed ^ 0x0076_1C71),
            last_delta: 0,
            last_completion: 0.0,
            agent_area: 0.0,
            backlog_area: 0.0,
            bucket_end: w.bucket,
            out: Outcome {
                // NaN until the task completes.
                waits: vec![f32::NAN; tasks.len()],
                ..Outcome::default()
            },
        }
    }

    fn push(&mut self, t: f64, kind: Kind) {
        self.seq += 1;
        self.heap.push(Ev {
            t,
            seq: self.seq,
            kind,
        });
    }

    /// Moves the clock to `t`, integrating lag, agents and backlog.
    fn advance(&mut self, t: f64) {
        while t > self.bucket_end {
            self.integrate(self.bucket_end);
            self.out
                .agents
                .push((self.agent_area / self.w.bucket) as f32);
            self.out
                .backlog
                .push((self.backlog_area / self.w.bucket) as f32);
            self.agent_area = 0.0;
            self.backlog_area = 0.0;
            self.bucket_end += self.w.bucket;
        }
        self.integrate(t);
    }

    fn integrate(&mut self, t: f64) {
        let dt = t - self.now;
        if dt > 0.0 {
            self.v.lag_integral += self.v.lag() as f64 * dt;
            self.agent_area += f64::from(self.alive) * dt;
            self.backlog_area += self.v.pending as f64 * dt;
            self.out.agent_seconds += f64::from(self.alive) * dt;
            self.now = t;
        }
    }

    fn run(&mut self, ctl: &mut dyn Controller) {
        let n = self.tasks.len() as u64;
        let limit = self.w.duration + self.w.duration.max(3600.0);
        loop {
            let ta = self
                .tasks
                .get(self.next_arrival)
                .map_or(f64::INFINITY, |t| t.arrival);
            let te = self.heap.peek().map_or(f64::INFINITY, |e| e.t);
            let tc = ctl.next_tick();
            let t = ta.min(te).min(tc);
            if self.v.completed == n && t >= self.w.duration {
                break;
            }
            if t > limit {
                break;
            }
            self.advance(t);
            if te <= ta && te <= tc {
                if let Some(ev) = self.heap.pop() {
                    self.event(ev.kind);
                }
            } else if ta <= tc {
                self.v.pending += 1;
                self.backlog.push_back(self.next_arrival as u32);
                self.next_arrival += 1;
                self.deliver();
                ctl.arrival(self.now);
            } else {
                self.v.now = self.now;
                self.v.oldest_pending_arrival = self
                    .backlog
                    .front()
                    .map(|&i| self.tasks[i as usize].arrival);
                if ctl.per_container() {
                    self.act(ctl);
                } else if let Some(d) = ctl.tick(&self.v) {
                    self.scale(d);
                }
            }
        }
        let end = if self.v.completed == n {
            self.w.duration.max(self.last_completion)
        } else {
            limit
        };
        self.advance(end);
        let covered = end - (self.bucket_end - self.w.bucket);
        if covered > 1e-9 {
            self.out.agents.push((self.agent_area / covered) as f32);
            self.out.backlog.push((self.backlog_area / covered) as f32);
        }
        // Tasks never finished wait until the end: they miss any SLO.
        self.out.unfinished = n - self.v.completed;
        for (w, t) in self.out.waits.iter_mut().zip(self.tasks) {
            if w.is_nan() {
                *w = (end - t.arrival).max(0.0) as f32;
            }
        }
        self.out.end = end;
    }

    fn event(&mut self, kind: Kind) {
        match kind {
            Kind::Done {
                agent,
                task,
                attempt,
            } => {
                if self.attempts[task as usize] != attempt {
                    return; // lost with a killed agent
                }
                let a = &mut self.agents[agent as usize];
                let Some(pos) = a.work.iter().position(|w| w.0 == task) else {
                    return;
                };
                let (_, start) = a.work.swap_remove(pos);
                let wait = start - self.tasks[task as usize].arrival;
                self.out.waits[task as usize] = wait as f32;
                a.completed += 1;
                self.v.ack_pending -= 1;
                self.v.in_flight -= 1;
                self.v.completed += 1;
                self.last_completion = self.now;
                if attempt > 0 {
                    self.v.redelivered = self.v.redelivered.saturating_sub(1);
                }
                match a.state {
                    // A job's one task is done: it exits.
                    State::Ready if self.w.once_wait.is_some() => {
                        self.leave(agent);
                        self.exit(agent);
                    }
                    State::Ready => self.free.push_back(agent),
                    State::Leaving if a.work.is_empty() => self.exit(agent),
                    _ => {}
                }
                self.deliver();
            }
            Kind::Ready { agent } => {
                let a = &mut self.agents[agent as usize];
                if a.state != State::Starting {
                    return; // cancelled during its cold start
                }
                self.v.starting -= 1;
                self.v.cold_start_sum += a.cold;
                self.v.cold_start_count += 1;
                if a.standby {
                    a.state = State::Standby;
                    self.v.standby += 1;
                } else {
                    if let Some(wait) = self.w.once_wait {
                        self.push(self.now + wait, Kind::Expire { agent });
                    }
                    self.fetch(agent);
                }
            }
            Kind::Expire { agent } => {
                let a = &self.agents[agent as usize];
                if a.state == State::Ready && a.work.is_empty() && a.completed == 0 {
                    self.leave(agent);
                    self.exit(agent);
                }
            }
            Kind::Kill { agent } => {
                if self.agents[agent as usize].state == State::Leaving {
                    self.kill(agent);
                }
            }
            Kind::Redeliver { task } => {
                self.redeliver.push_back(task);
                self.deliver();
            }
        }
    }
}

mod deliver;
mod event;
mod outcome;
mod planned;
mod scale;

use event::Ev;
pub use outcome::Outcome;

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
