//! The events of the service around the pools: compose discovery and
//! reloads of the policy files, each logging and counting in one place.

use std::fmt::Display;
use std::time::Duration;

use metrics::counter;
use tracing::{error, info, warn};

use crate::config::ConfigErrors;
use crate::telemetry::labels::{ComposeErrorReason, ReloadOutcome};

/// A compose service is not pooled (an invalid label, a taken name, a
/// container that cannot be cloned).
pub struct ServiceNotPooled<'a> {
    /// The compose service (`project/service`).
    pub service: &'a dyn Display,
    /// Why, as a label.
    pub reason: ComposeErrorReason,
    /// What is wrong, for the log.
    pub problem: &'a str,
}

impl ServiceNotPooled<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        error!(service = %self.service, problem = %self.problem, "compose service not pooled");
        compose_error(self.reason);
    }
}

/// Compose discovery itself failed: the container list or the events
/// stream.
pub struct DiscoveryFailed<'a> {
    /// Which (`docker` or `events`).
    pub reason: ComposeErrorReason,
    /// What went wrong.
    pub error: &'a dyn Display,
    /// For the events stream: when it is retried.
    pub retry_in: Option<Duration>,
}

impl DiscoveryFailed<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        match self.retry_in {
            Some(retry_in) => warn!(error = %self.error, retry_in = ?retry_in,
                                    "Docker events stream lost; reconnecting (scans continue)"),
            None => warn!(error = %self.error, "cannot list compose containers; pools unchanged"),
        }
        compose_error(self.reason);
    }
}

fn compose_error(reason: ComposeErrorReason) {
    counter!("jetpool_compose_errors_total", "reason" => reason.as_str()).increment(1);
}

/// The policy files were loaded again and the pools follow them.
pub struct PoliciesReloaded<'a> {
    /// What caused the reload (`SIGHUP`, `file change`).
    pub trigger: &'a str,
    /// Pools started.
    pub added: &'a [String],
    /// Pools stopped (their agents keep running).
    pub removed: &'a [String],
    /// Pools that took a new spec in place.
    pub updated: &'a [String],
    /// Pools started anew for another stream or consumer.
    pub restarted: &'a [String],
}

impl PoliciesReloaded<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        let none = [self.added, self.removed, self.updated, self.restarted]
            .iter()
            .all(|v| v.is_empty());
        if none {
            info!(trigger = %self.trigger, "policy files reloaded; nothing changed");
        } else {
            info!(trigger = %self.trigger, added = ?self.added, removed = ?self.removed,
                  updated = ?self.updated, restarted = ?self.restarted, "policy files reloaded");
        }
        reload(ReloadOutcome::Applied);
    }
}

/// A reload found the policy files invalid: nothing changes.
pub struct ReloadRefused<'a> {
    /// What caused the reload.
    pub trigger: &'a str,
    /// Every problem, located.
    pub errors: &'a ConfigErrors,
}

impl ReloadRefused<'_> {
    /// Logs (one line per problem) and counts the event.
    pub fn emit(&self) {
        for e in &self.errors.0 {
            error!(trigger = %self.trigger, problem = %e, "policy reload refused; the running policies stay");
        }
        reload(ReloadOutcome::Refused);
    }
}

fn reload(outcome: ReloadOutcome) {
    counter!("jetpool_policy_reloads_total", "outcome" => outcome.as_str()).increment(1);
}
