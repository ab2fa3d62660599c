//! jetpool autoscales pools of agent containers from NATS JetStream backlog.
//!
//! A map of the crate, from the pure core outward:
//! - [`policy`]: the decision core, `decide(policy, state, observation,
//!   now)`: sizing from arrival rate, throughput and backlog, and every
//!   guardrail around it. No I/O, no clock; the live loop and the simulator
//!   call the same code.
//! - [`config`]: policy files read into their raw serde shapes, every
//!   problem reported with file, line and column; the bottom of the
//!   dependency order. [`policy::validate`] holds the rules and returns the
//!   typed [`policy::Policy`]; [`pool::spec`] joins the two into
//!   [`pool::PoolSpec`]s.
//! - [`protocol`]: the agent protocol (stats, drain, resume, activate).
//! - [`observe`]: the metrics edge: consumer info through the JetStream API,
//!   the agents' own reports, and the arrival watcher that wakes an idle
//!   pool on its first task.
//! - [`target`]: the engine-neutral scale target: the `ScaleTarget` trait
//!   over jetpool's own `ContainerSpec`, the live `Template` that prepares
//!   each new container (from a policy file's `[pool.container]` or cloned
//!   from a compose service), the Docker edge (the only place bollard's
//!   types appear), its in-memory twin for dry runs and tests, and
//!   several Docker engines as one target (`--engine`).
//! - [`compose`]: pools discovered from compose service labels, started and
//!   stopped as services come and go.
//! - [`swarm`]: pools discovered from Swarm service labels, scaled by the
//!   service's replica count, drained before the count drops.
//! - [`pool`]: one loop per pool: observe, decide, act (start, drain, stop,
//!   heal); it owns all of its pool's state.
//! - [`budget`]: the global agent budget shared by pool priority.
//! - [`lease`]: `--ha`: one leader through a JetStream key-value lease;
//!   the others observe, and every act is fenced by the lease's term.
//! - [`overrides`]: runtime pause and pin, kept in a JetStream key-value
//!   bucket and handed to each pool loop.
//! - [`service`]: `jetpool run`: wires the pools, the edges and [`http`]
//!   (the status page at `/`, `/events`, `/metrics`, `/healthz`,
//!   `/status`) with [`telemetry`]; the policy files' pools follow the
//!   files (SIGHUP, changes) in place.
//! - [`inspect`]: `jetpool status` and `jetpool explain`, read from a
//!   running service's HTTP endpoints.
//! - [`agent`] and [`load`]: the reference agent (also a command wrapper)
//!   and the load generator.
//! - [`sim`]: the trace-driven simulator and the peer emulations.
//! - [`check`], [`cli`], [`nats`], [`clock`], [`error`]: the command line,
//!   connections and the shared plumbing.

#![warn(missing_docs)]

pub mod agent;
pub mod budget;
pub mod check;
pub mod cli;
pub mod clock;
pub mod compose;
pub mod config;
pub mod error;
pub mod http;
pub mod inspect;
pub mod lease;
pub mod load;
pub mod nats;
pub mod observe;
pub mod overrides;
pub mod plan;
pub mod policy;
pub mod pool;
pub mod protocol;
pub mod service;
pub mod sim;
pub mod swarm;
pub mod target;
pub mod telemetry;

pub use error::{Error, Result};
