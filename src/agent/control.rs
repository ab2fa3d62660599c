//! The agent's side of the protocol: its mode (starting, standby, active,
//! draining, drained), the stats it publishes, and the control requests it answers.
//! The fetch loop reads the mode; everything else only changes it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::Counters;
use crate::protocol::{self, AgentState, Command, Control, Reply, Stats};

/// What the agent is allowed to do right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Connected, looking up its consumer: not fetching yet.
    Starting,
    /// Connected, not fetching, waiting for `activate`.
    Standby,
    /// Fetching tasks.
    Active,
    /// Finishing held tasks; `resumable` is false once SIGTERM arrived.
    Draining {
        /// Whether a `resume` may still cancel the drain.
        resumable: bool,
    },
    /// Nothing held, about to exit.
    Drained,
}

/// The agent's identity on the protocol.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Pool name.
    pub pool: String,
    /// Agent id.
    pub id: String,
    /// Tasks held at once.
    pub capacity: u64,
}

/// The state the agent reports for `mode` and its load.
pub fn state_of(mode: Mode, in_flight: u64) -> AgentState {
    match mode {
        Mode::Starting => AgentState::Starting,
        Mode::Standby => AgentState::Standby,
        Mode::Active if in_flight > 0 => AgentState::Busy,
        Mode::Active => AgentState::Ready,
        Mode::Draining { .. } => AgentState::Draining,
        Mode::Drained => AgentState::Drained,
    }
}

/// Builds the agent's current stats message.
pub fn stats(who: &Identity, mode: Mode, c: &Counters) -> Stats {
    let in_flight = c.in_flight.load(Ordering::Relaxed);
    Stats {
        v: protocol::VERSION,
        id: who.id.clone(),
        pool: who.pool.clone(),
        state: state_of(mode, in_flight),
        in_flight,
        capacity: who.capacity,
        completed: c.completed.load(Ordering::Relaxed),
        failed: c.failed.load(Ordering::Relaxed),
    }
}

/// Publishes stats every `every` and on each mode change, until the mode
/// is `Drained` (whose final report it sends too).
pub async fn publish_stats(
    client: async_nats::Client,
    who: Identity,
    mut mode: watch::Receiver<Mode>,
    counters: Arc<Counters>,
    every: Duration,
) {
    let subject = protocol::stats_subject(&who.pool, &who.id);
    let mut tick = tokio::time::interval(every);
    loop {
        let current = *mode.borrow_and_update();
        let msg = stats(&who, current, &counters);
        match serde_json::to_vec(&msg) {
            Ok(body) => {
                if let Err(e) = client.publish(subject.clone(), body.into()).await {
                    debug!(error = %e, "stats publish failed");
                }
            }
            Err(e) => warn!(error = %e, "cannot encode stats"),
        }
        if current == Mode::Drained {
            let _ = client.flush().await;
            return;
        }
        tokio::select! {
            _ = tick.tick() => {},
            r = mode.changed() => if r.is_err() { return },
        }
    }
}

/// Answers control requests until the subscription ends.
pub async fn serve_control(
    client: async_nats::Client,
    who: Identity,
    mode: watch::Sender<Mode>,
    counters: Arc<Counters>,
) {
    let subject = protocol::control_subject(&who.pool, &who.id);
    let mut sub = match client.subscribe(subject.clone()).await {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, subject = %subject, "cannot subscribe to control requests; drain requests will not be answered");
            return;
        }
    };
    while let Some(msg) = sub.next().await {
        let Some(reply_to) = msg.reply.clone() else {
            continue;
        };
        let reply = match serde_json::from_slice::<Control>(&msg.payload) {
            Ok(c) if c.v == protocol::VERSION => apply(&mode, c.command, &counters),
            Ok(c) => refuse(
                &mode,
                &counters,
                format!("unsupported protocol version {}", c.v),
            ),
            Err(e) => refuse(&mode, &counters, format!("bad control request: {e}")),
        };
        if let Ok(body) = serde_json::to_vec(&reply)
            && let Err(e) = client.publish(reply_to, body.into()).await
        {
            debug!(error = %e, "control reply failed");
        }
    }
}

fn refuse(mode: &watch::Sender<Mode>, c: &Counters, why: String) -> Reply {
    let in_flight = c.in_flight.load(Ordering::Relaxed);
    Reply {
        v: protocol::VERSION,
        ok: false,
        state: state_of(*mode.borrow(), in_flight),
        in_flight,
        error: Some(why),
    }
}

/// Applies one command to the mode and says how it went.
pub fn apply(mode: &watch::Sender<Mode>, command: Command, c: &Counters) -> Reply {
    let before = *mode.borrow();
    let (next, error) = match (command, before) {
        (Command::Drain, Mode::Active | Mode::Standby | Mode::Starting) => {
            (Mode::Draining { resumable: true }, None)
        }
        (Command::Drain, m @ (Mode::Draining { .. } | Mode::Drained)) => (m, None),
        (Command::Resume, Mode::Draining { resumable: true }) => (Mode::Active, None),
        (Command::Resume, m @ (Mode::Active | Mode::Starting)) => (m, None),
        (Command::Resume, m) => (m, Some("cannot resume: shutting down")),
        (Command::Activate, Mode::Standby | Mode::Active) => (Mode::Active, None),
        (Command::Activate, Mode::Starting) => (Mode::Starting, None),
        (Command::Activate, m) => (m, Some("cannot activate: draining")),
    };
    if next != before {
        info!(?command, from = ?before, to = ?next, "control request");
        let _ = mode.send(next);
    }
    let in_flight = c.in_flight.load(Ordering::Relaxed);
    Reply {
        v: protocol::VERSION,
        ok: error.is_none(),
        state: state_of(next, in_flight),
        in_flight,
        error: error.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_resume_and_sigterm() {
        let (tx, _rx) = watch::channel(Mode::Active);
        let c = Counters::default();
        assert!(apply(&tx, Command::Drain, &c).ok);
        assert_eq!(*tx.borrow(), Mode::Draining { resumable: true });
        assert!(apply(&tx, Command::Resume, &c).ok);
        assert_eq!(*tx.borrow(), Mode::Active);
        let _ = tx.send(Mode::Draining { resumable: false });
        let r = apply(&tx, Command::Resume, &c);
        assert!(!r.ok);
        assert_eq!(r.state, AgentState::Draining);
    }

    #[test]
    fn standby_activates() {
        let (tx, _rx) = watch::channel(Mode::Standby);
        let c = Counters::default();
        let r = apply(&tx, Command::Activate, &c);
        assert!(r.ok);
        assert_eq!(r.state, AgentState::Ready);
        let _ = tx.send(Mode::Drained);
        assert!(!apply(&tx, Command::Activate, &c).ok);
    }

    #[test]
    fn a_starting_agent_reports_starting_and_can_be_drained() {
        let (tx, _rx) = watch::channel(Mode::Starting);
        let c = Counters::default();
        // Resume and activate leave it starting: it fetches once it can.
        let r = apply(&tx, Command::Activate, &c);
        assert!(r.ok);
        assert_eq!(r.state, AgentState::Starting);
        assert_eq!(apply(&tx, Command::Resume, &c).state, AgentState::Starting);
        // A drain before it works ends it with nothing to finish.
        assert!(apply(&tx, Command::Drain, &c).ok);
        assert_eq!(*tx.borrow(), Mode::Draining { resumable: true });
    }
}
