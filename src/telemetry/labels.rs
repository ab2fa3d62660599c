//! The label values of jetpool's metrics, one enum per label: a bounded
//! set by construction, never an error's text. Each has `as_str()` (the
//! value exported) and `ALL` (every value, so a pool registers each series
//! at zero when it starts).
//!
//! They live here, at the bottom of the modules that emit telemetry
//! (telemetry imports only `policy`'s plain data), so the observer, the
//! target edge, compose and the pool loop can all name them without
//! importing each other.

/// A metric label's fixed set of values.
pub trait MetricLabel: Copy + 'static {
    /// Every value, in export order.
    const ALL: &'static [Self];
    /// The value as exported.
    fn as_str(self) -> &'static str;
}

/// Declares a label enum with its `as_str`, `ALL` and [`MetricLabel`].
macro_rules! metric_label {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in export order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value as exported.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl MetricLabel for $name {
            const ALL: &'static [Self] = $name::ALL;
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

metric_label! {
    /// Which way a scale action moved the pool (`direction`).
    ScaleDirection {
        /// Agents started, activated or drains cancelled.
        Up => "up",
        /// Agents drained or stopped.
        Down => "down",
    }
}

metric_label! {
    /// Why an agent was replaced (`jetpool_agents_replaced_total{reason}`).
    ReplaceReason {
        /// It exited on its own.
        Exited => "exited",
        /// Docker's healthcheck reports it unhealthy.
        Unhealthy => "unhealthy",
        /// It reported stats once and then fell silent.
        Silent => "silent",
        /// An earlier jetpool created it and was stopped before starting
        /// it; it was removed and a fresh one started.
        NeverStarted => "never_started",
    }
}

metric_label! {
    /// How a drain ended (`jetpool_drains_total{outcome}`).
    DrainOutcome {
        /// The agent finished its work and exited.
        Drained => "drained",
        /// The drain deadline passed; the agent got `docker stop`.
        Deadline => "deadline",
        /// The agent did not acknowledge the drain; it got `docker stop`.
        Refused => "refused",
        /// Demand came back and the agent resumed work.
        Cancelled => "cancelled",
    }
}

metric_label! {
    /// How a job of a job pool ended (`outcome` of `jetpool_jobs_total`).
    JobOutcome {
        /// Its container exited 0: the task was acked.
        Succeeded => "succeeded",
        /// Its container exited non-zero: the task was NAKed (or never
        /// taken) and is redelivered.
        Failed => "failed",
        /// It ran past `job_timeout` and was killed; its task is
        /// redelivered after AckWait.
        Killed => "killed",
    }
}

metric_label! {
    /// One Docker Engine API call (`op` of the Docker metrics).
    DockerOp {
        /// Reach the engine: connect, negotiate the API version, ping.
        Ping => "ping",
        /// List containers.
        List => "list",
        /// Inspect a container.
        Inspect => "inspect",
        /// Create a container.
        Create => "create",
        /// Pull an image.
        Pull => "pull",
        /// Connect a container to a network.
        Connect => "connect",
        /// Start a container.
        Start => "start",
        /// Stop a container.
        Stop => "stop",
        /// Remove a container.
        Remove => "remove",
        /// Follow container events.
        Events => "events",
        /// Read a container's resource usage (the stats API).
        Stats => "stats",
    }
}

metric_label! {
    /// Why a consumer read failed (`jetpool_observe_errors_total{reason}`).
    ObserveReason {
        /// The stream does not exist.
        StreamNotFound => "stream_not_found",
        /// The consumer does not exist on the stream.
        ConsumerNotFound => "consumer_not_found",
        /// No answer in time.
        Unavailable => "unavailable",
        /// Anything else.
        Other => "other",
    }
}

metric_label! {
    /// Why an agent's stats report was ignored
    /// (`jetpool_agent_reports_rejected_total{reason}`).
    ReportRejected {
        /// Not a stats report: bad JSON, a missing field, a negative,
        /// fractional or non-numeric count.
        Malformed => "malformed",
        /// Larger than any report an agent sends.
        Oversized => "oversized",
        /// The report names another pool or agent than its subject does.
        Mismatch => "mismatch",
        /// From an agent that is not one of the pool's containers.
        UnknownAgent => "unknown_agent",
        /// Counts no agent can report: a capacity above 10,000 slots, more
        /// in flight than its capacity, counters beyond 2^53.
        Implausible => "implausible",
    }
}

metric_label! {
    /// Why a compose service is not pooled, or discovery failed
    /// (`jetpool_compose_errors_total{reason}`).
    ComposeErrorReason {
        /// A `jetpool.*` label is invalid.
        InvalidLabel => "invalid_label",
        /// The pool name is taken by another pool.
        NameConflict => "name_conflict",
        /// The service's container cannot be cloned.
        Template => "template",
        /// Its image or a host path is outside `--allow-image` or
        /// `--allow-mount`.
        NotAllowed => "not_allowed",
        /// Listing the compose containers failed.
        Docker => "docker",
        /// The Docker events stream broke.
        Events => "events",
    }
}

metric_label! {
    /// Whether a drained agent held tasks when it acknowledged
    /// (`jetpool_drains_started_total{held_work}`).
    HeldWork {
        /// It held tasks, which it finishes before exiting.
        Yes => "true",
        /// It was idle.
        No => "false",
    }
}

metric_label! {
    /// What an agent container is doing, as the replica gauges count it
    /// (`jetpool_pool_replicas{state}`).
    ReplicaState {
        /// Working.
        Ready => "ready",
        /// Being created and started.
        Starting => "starting",
        /// Finishing its work before it exits.
        Draining => "draining",
        /// A warm standby: started, not fetching.
        Standby => "standby",
    }
}

metric_label! {
    /// How a reload of the policy files ended
    /// (`jetpool_policy_reloads_total{outcome}`).
    ReloadOutcome {
        /// The files were valid; the pools follow them.
        Applied => "applied",
        /// The files were invalid; the running policies stay.
        Refused => "refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distinct<L: MetricLabel>() -> bool {
        let names: std::collections::HashSet<&str> = L::ALL.iter().map(|l| l.as_str()).collect();
        names.len() == L::ALL.len()
    }

    #[test]
    fn every_label_set_is_complete_and_distinct() {
        assert!(distinct::<ScaleDirection>() && distinct::<ReplaceReason>());
        assert!(distinct::<DrainOutcome>() && distinct::<DockerOp>());
        assert!(distinct::<JobOutcome>());
        assert!(distinct::<ObserveReason>() && distinct::<ComposeErrorReason>());
        assert!(distinct::<HeldWork>() && distinct::<ReplicaState>());
        assert!(distinct::<ReloadOutcome>());
        assert_eq!(DockerOp::ALL.len(), crate::target::TargetOp::ALL.len());
        assert_eq!(ReplaceReason::Silent.to_string(), "silent");
    }
}
