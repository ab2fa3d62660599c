//! A pool loop's part of the hand-over: at its start and when it takes
//! over, it reads what the last acting jetpool wrote (seeding the
//! estimator, restoring the drains' deadlines) before its first act; while
//! it acts, it writes its own. With `--ha` the successor is another
//! instance; without it, the same jetpool restarted. With `--no-state`
//! none of this runs.

use jiff::Timestamp;
use tokio::sync::watch;
use tracing::{info, warn};

use super::PoolRunner;
use crate::clock::after;
use crate::lease::Handover;
use crate::lease::store::Pending;
use crate::observe::{AgentControl, MetricsSource};
use crate::plan::KnownDrain;
use crate::target::ScaleTarget;

/// What the loop remembers of the hand-over between ticks.
#[derive(Debug, Default)]
pub(super) struct Carry {
    /// Whether the loop led at its last tick: a change to leading is a
    /// takeover.
    leading: bool,
    /// Whether the hand-over was read since the loop started.
    loaded: bool,
    /// Drains read and not yet restored: an agent shows as draining only
    /// once its report is in.
    drains: Vec<KnownDrain>,
    /// Until when those are tried: reports arrive within `stats_timeout`.
    until: Option<Timestamp>,
    /// The last hand-over given to the writer.
    sent: Option<Handover>,
    /// The writer, started at the first write.
    writer: Option<watch::Sender<Pending>>,
}

impl<S: MetricsSource, T: ScaleTarget, A: AgentControl> PoolRunner<S, T, A> {
    /// Reads the last leader's hand-over at the loop's first tick and when
    /// `leading` starts: seeds the estimator where it knows less, and keeps
    /// the drains for [`restore`](Self::restore). Runs before the tick
    /// observes, so the first act of a new leader already uses it.
    pub(super) async fn take_over(&mut self, leading: bool) {
        let takeover = leading && !self.carry.leading;
        self.carry.leading = leading;
        let Some(store) = self.options.state.clone() else {
            return;
        };
        if self.carry.loaded && !takeover {
            return;
        }
        self.carry.loaded = true;
        let pool = &self.spec.name;
        let now = self.clock.now();
        match store.load(pool).await {
            Ok(Some(h)) => {
                let learned = h.learned_for(now, &self.spec.template.id());
                let seeded = self.state.estimator.seed(&learned);
                info!(pool = %pool, takeover, drains = h.drains.len(), seeded, written_at = %h.at,
                      "read the last leader's state");
                self.carry.drains = h.drains;
                self.carry.until = Some(after(now, self.spec.agents.stats_timeout));
            }
            Ok(None) => info!(pool = %pool, takeover, "no state from an earlier leader"),
            Err(e) => warn!(pool = %pool, error = %e, "the last leader's state was not read"),
        }
    }

    /// After each sync: the drains read take their original deadlines as
    /// soon as the roster shows their agents draining.
    pub(super) fn restore(&mut self, now: Timestamp) {
        if self.carry.drains.is_empty() {
            return;
        }
        let before = self.roster.drains();
        let done = self.roster.restore_drains(&self.carry.drains);
        // Logged once per drain: a takeover reads again what the start read.
        for k in self.carry.drains.iter().filter(|k| done.contains(&k.name)) {
            if !before.contains(k) {
                info!(pool = %self.spec.name, agent = %k.name, deadline = %k.deadline,
                      "drain taken over with its original deadline");
            }
        }
        self.carry.drains.retain(|k| !done.contains(&k.name));
        if self.carry.until.is_some_and(|u| now >= u) {
            self.carry.drains.clear();
        }
    }

    /// After each tick that acted: hands the pool's drains and estimates to
    /// the writer when they are due (see [`Handover::due`]). With `--ha`
    /// only within a term of this instance's (term 0 without `--ha`: the
    /// lone jetpool always acts).
    pub(super) fn save(&mut self, now: Timestamp) {
        let Some(store) = &self.options.state else {
            return;
        };
        let fence = self.options.fence.clone();
        let term = match &fence {
            Some(f) => match f.current() {
                Some(term) => term,
                None => return,
            },
            None => 0,
        };
        let h = Handover {
            at: now,
            drains: self.roster.drains(),
            learned: self.state.estimator.learned(),
            template: Some(self.spec.template.id()),
        };
        if !h.due(self.carry.sent.as_ref()) {
            return;
        }
        let tx = self
            .carry
            .writer
            .get_or_insert_with(|| store.writer(&self.spec.name, fence));
        tx.send_replace(Some((term, h.clone())));
        self.carry.sent = Some(h);
    }
}
