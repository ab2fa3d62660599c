//! The agent-protocol edge on jetpool's side: a registry of the stats each
//! agent reports (owned by its pool's loop), and control requests to one
//! agent (drain, resume, activate).

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use jiff::Timestamp;

use crate::policy::AgentStats;
use crate::protocol::{self, Command, Control, Reply, Stats};
use crate::telemetry::ReportRejected;

/// A stats report as it arrives: screened, or why it was refused.
pub type Report = Result<Stats, ReportRejected>;

/// The largest report accepted, bytes: a real one is about 150.
pub const MAX_REPORT_BYTES: usize = 4096;

/// The most slots an agent can have (the reference agent's limit).
pub const MAX_CAPACITY: u64 = 10_000;

/// Counters past this are not counts an agent reached (2^53: beyond it an
/// f64 no longer holds every integer).
const MAX_COUNTER: u64 = 1 << 53;

/// Screens one report that came on `subject` for `pool`: well-formed,
/// small, naming the pool and agent of its subject, with counts an agent
/// can have. Whether the agent is one of the pool's is the loop's check.
pub fn screen(pool: &str, subject: &str, payload: &[u8]) -> Report {
    if payload.len() > MAX_REPORT_BYTES {
        return Err(ReportRejected::Oversized);
    }
    let stats: Stats = serde_json::from_slice(payload).map_err(|_| ReportRejected::Malformed)?;
    let id = subject
        .strip_prefix(&format!("{}.{pool}.", protocol::PREFIX))
        .and_then(|rest| rest.strip_suffix(".stats"));
    if stats.pool != pool || id != Some(stats.id.as_str()) {
        return Err(ReportRejected::Mismatch);
    }
    let implausible = stats.capacity > MAX_CAPACITY
        || (stats.capacity > 0 && stats.in_flight > stats.capacity)
        || stats.completed > MAX_COUNTER
        || stats.failed > MAX_COUNTER;
    if implausible {
        return Err(ReportRejected::Implausible);
    }
    Ok(stats)
}

/// The latest report of one agent and when it arrived.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The report.
    pub stats: Stats,
    /// When it was received, by the pool's clock.
    pub at: Timestamp,
}

/// What a pool knows about its agents from their reports.
#[derive(Debug, Default, Clone)]
pub struct AgentRegistry {
    /// Latest report per agent id.
    agents: HashMap<String, Seen>,
    /// Completed + failed per agent at the last report, to turn the
    /// agents' monotonic counters into deltas.
    baseline: HashMap<String, u64>,
    /// Completions reported since the last aggregate.
    completed_delta: u64,
}

impl AgentRegistry {
    /// Records a report.
    pub fn record(&mut self, stats: Stats, at: Timestamp) {
        let total = stats.completed.saturating_add(stats.failed);
        match self.baseline.insert(stats.id.clone(), total) {
            // A counter that went down belongs to a restarted agent that
            // reused its id: count nothing for this report.
            Some(prev) if total >= prev => self.completed_delta += total - prev,
            // The first report: work done before it is not attributable to
            // this interval.
            _ => {}
        }
        self.agents.insert(stats.id.clone(), Seen { stats, at });
    }

    /// Records the state an agent gave in a control reply, so a report
    /// from before the command does not undo it until the next report.
    pub fn note_state(&mut self, id: &str, state: crate::protocol::AgentState) {
        if let Some(seen) = self.agents.get_mut(id) {
            seen.stats.state = state;
        }
    }

    /// The latest report of `id`, if any.
    pub fn get(&self, id: &str) -> Option<&Seen> {
        self.agents.get(id)
    }

    /// The latest report of `id` if it is younger than `within`.
    pub fn fresh(&self, id: &str, now: Timestamp, within: Duration) -> Option<&Stats> {
        self.agents
            .get(id)
            .filter(|s| crate::clock::since(s.at, now) <= within)
            .map(|s| &s.stats)
    }

    /// Forgets an agent that is gone.
    pub fn forget(&mut self, id: &str) {
        self.agents.remove(id);
        self.baseline.remove(id);
    }

    /// Forgets every agent for which `keep` is false (containers gone).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.agents.retain(|id, _| keep(id));
        self.baseline.retain(|id, _| keep(id));
    }

    /// Mean capacity of the agents with a fresh report that gives one,
    /// whatever their state.
    pub fn slots_per_agent(&self, now: Timestamp, within: Duration) -> Option<f64> {
        let (n, sum) = self
            .agents
            .values()
            .filter(|s| s.stats.capacity > 0 && crate::clock::since(s.at, now) <= within)
            .fold((0u32, 0u64), |(n, sum), s| (n + 1, sum + s.stats.capacity));
        (n > 0).then(|| sum as f64 / f64::from(n))
    }

    /// Sums the reports of the agents named in `working`, and takes the
    /// completions since the last call. `None` unless every one of them has
    /// a fresh report: partial sums would undercount, and the consumer's
    /// own numbers are the better source then.
    pub fn aggregate<'a>(
        &mut self,
        working: impl IntoIterator<Item = &'a str>,
        now: Timestamp,
        within: Duration,
    ) -> Option<AgentStats> {
        let delta = std::mem::take(&mut self.completed_delta);
        let mut sum = AgentStats {
            at: now,
            completed_delta: delta,
            ..Default::default()
        };
        for id in working {
            let s = self.fresh(id, now, within)?;
            sum.reporting += 1;
            sum.in_flight += s.in_flight;
            sum.capacity += s.capacity;
        }
        (sum.reporting > 0).then_some(sum)
    }
}

/// Sends control requests to agents; NATS request/reply in production, a
/// fake in loop tests.
pub trait AgentControl: Send + Sync + 'static {
    /// Sends `command` to agent `id` of `pool`. `None` when no agent
    /// answered: it does not speak the protocol (or is gone).
    fn control(
        &self,
        pool: &str,
        id: &str,
        command: Command,
    ) -> impl Future<Output = Option<Reply>> + Send;

    /// The stream of stats reports of `pool`'s agents.
    fn stats(&self, pool: &str) -> impl Future<Output = BoxStream<'static, Report>> + Send;
}

/// [`AgentControl`] over the service's NATS connection.
#[derive(Clone)]
pub struct NatsControl {
    /// The shared connection.
    client: async_nats::Client,
    /// How long an agent has to answer a control request.
    timeout: Duration,
}

impl NatsControl {
    /// Control over `client`, waiting `timeout` for answers.
    pub fn new(client: async_nats::Client, timeout: Duration) -> Self {
        NatsControl { client, timeout }
    }
}

impl AgentControl for NatsControl {
    async fn control(&self, pool: &str, id: &str, command: Command) -> Option<Reply> {
        let body = serde_json::to_vec(&Control {
            v: protocol::VERSION,
            command,
        })
        .ok()?;
        let subject = protocol::control_subject(pool, id);
        let answer = tokio::time::timeout(self.timeout, self.client.request(subject, body.into()))
            .await
            .ok()?
            .ok()?;
        serde_json::from_slice(&answer.payload).ok()
    }

    async fn stats(&self, pool: &str) -> BoxStream<'static, Report> {
        match self
            .client
            .subscribe(protocol::pool_stats_subject(pool))
            .await
        {
            Ok(sub) => {
                let pool = pool.to_string();
                sub.map(move |m| screen(&pool, m.subject.as_str(), &m.payload))
                    .boxed()
            }
            Err(e) => {
                tracing::warn!(pool = %pool, error = %e, "cannot subscribe to agent stats; using consumer metrics only");
                futures::stream::pending().boxed()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::after;
    use crate::protocol::AgentState;

    fn json(pool: &str, id: &str, extra: &str) -> String {
        format!(
            r#"{{"v":1,"id":"{id}","pool":"{pool}","state":"busy","in_flight":1,"capacity":4,"completed":0,"failed":0{extra}}}"#
        )
    }

    #[test]
    fn screening_accepts_a_good_report_and_names_why_a_bad_one_is_refused() {
        let subject = "jetpool.agent.p.a1.stats";
        let ok = screen("p", subject, json("p", "a1", "").as_bytes());
        assert!(ok.is_ok_and(|s| s.id == "a1" && s.capacity == 4));
        let cases: Vec<(String, ReportRejected)> = vec![
            ("not json".into(), ReportRejected::Malformed),
            (
                json("p", "a1", "").replace("\"in_flight\":1", "\"in_flight\":-1"),
                ReportRejected::Malformed,
            ),
            (
                json("p", "a1", "").replace("\"in_flight\":1", "\"in_flight\":NaN"),
                ReportRejected::Malformed,
            ),
            (
                json("p", "a1", "").replace("\"in_flight\":1", "\"in_flight\":1.5"),
                ReportRejected::Malformed,
            ),
            (
                format!("{}{}", json("p", "a1", ""), " ".repeat(MAX_REPORT_BYTES)),
                ReportRejected::Oversized,
            ),
            (json("other", "a1", ""), ReportRejected::Mismatch),
            (json("p", "a2", ""), ReportRejected::Mismatch),
            (
                json("p", "a1", "").replace("\"capacity\":4", "\"capacity\":1000000"),
                ReportRejected::Implausible,
            ),
            (
                json("p", "a1", "").replace("\"in_flight\":1", "\"in_flight\":9"),
                ReportRejected::Implausible,
            ),
            (
                json("p", "a1", "")
                    .replace("\"completed\":0", "\"completed\":18446744073709551615"),
                ReportRejected::Implausible,
            ),
        ];
        for (payload, want) in cases {
            let got = screen("p", subject, payload.as_bytes());
            assert_eq!(got.err(), Some(want), "{payload:.80}");
        }
    }

    #[test]
    fn huge_counters_do_not_overflow_the_registry() {
        let mut r = AgentRegistry::default();
        let mut s = report("a", 1, u64::MAX);
        s.failed = u64::MAX;
        r.record(s, Timestamp::UNIX_EPOCH);
    }

    fn report(id: &str, in_flight: u64, completed: u64) -> Stats {
        Stats {
            v: 1,
            id: id.into(),
            pool: "p".into(),
            state: AgentState::Busy,
            in_flight,
            capacity: 4,
            completed,
            failed: 0,
        }
    }

    #[test]
    fn aggregates_only_when_every_agent_reports() {
        let mut r = AgentRegistry::default();
        let now = Timestamp::UNIX_EPOCH;
        let within = Duration::from_secs(5);
        r.record(report("a", 2, 10), now);
        r.record(report("a", 3, 15), now);
        r.record(report("b", 1, 0), now);
        let s = r.aggregate(["a", "b"], now, within).unwrap();
        assert_eq!(
            (s.reporting, s.in_flight, s.capacity, s.completed_delta),
            (2, 4, 8, 5)
        );
        // The delta was taken.
        let s = r.aggregate(["a", "b"], now, within).unwrap();
        assert_eq!(s.completed_delta, 0);
        assert!(r.aggregate(["a", "c"], now, within).is_none());
        let later = after(now, Duration::from_secs(10));
        assert!(
            r.aggregate(["a"], later, within).is_none(),
            "stale reports do not count"
        );
    }

    #[test]
    fn slots_per_agent_counts_every_fresh_report_starting_ones_too() {
        let mut r = AgentRegistry::default();
        let now = Timestamp::UNIX_EPOCH;
        let within = Duration::from_secs(5);
        assert_eq!(r.slots_per_agent(now, within), None);
        let starting = Stats {
            state: AgentState::Starting,
            capacity: 16,
            ..report("s", 0, 0)
        };
        r.record(starting, now);
        assert_eq!(r.slots_per_agent(now, within), Some(16.0));
        r.record(report("a", 1, 0), now);
        assert_eq!(r.slots_per_agent(now, within), Some(10.0));
        let later = after(now, Duration::from_secs(10));
        assert_eq!(
            r.slots_per_agent(later, within),
            None,
            "stale reports do not count"
        );
    }
}
