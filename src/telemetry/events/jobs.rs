//! The events of job pools.

use metrics::counter;
use tracing::{info, warn};

use super::super::labels::JobOutcome;

/// A job of a job pool ended.
pub struct JobEnded<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The container name.
    pub agent: &'a str,
    /// How it ended.
    pub outcome: JobOutcome,
    /// Its exit code, when the engine said.
    pub exit_code: Option<i64>,
}

impl JobEnded<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        let exit_code = self.exit_code.map_or_else(|| "-".into(), |c| c.to_string());
        match self.outcome {
            JobOutcome::Succeeded => {
                info!(pool = %self.pool, agent = %self.agent, "job succeeded")
            }
            JobOutcome::Failed => {
                warn!(pool = %self.pool, agent = %self.agent, exit_code, "job failed; its task is redelivered")
            }
            JobOutcome::Killed => {
                warn!(pool = %self.pool, agent = %self.agent, "job ran past job_timeout; killed")
            }
        }
        counter!("jetpool_jobs_total", "pool" => self.pool.to_string(), "outcome" => self.outcome.as_str())
            .increment(1);
    }
}
