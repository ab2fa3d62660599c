//! jetpool autoscales pools of agent containers from NATS JetStream backlog.
//!
//! A map of the crate, from the edges inward:
//! - [`config`]: policy files, parsed once into typed [`config::PoolSpec`]s
//!   with file:line:column errors.
//! - [`policy`]: the pure decision core, `decide(policy, state, observation,
//!   now)`; no I/O, no clock.
//! - [`template`]: prepares each new container, from a policy file's
//!   `[pool.container]` or cloned from a compose service.
//! - [`compose`]: pools discovered from compose service labels, started and
//!   stopped as services come and go.
pub mod config;
pub mod error;
pub mod policy;

pub use error::{Error, Result};
pub mod agent;
pub mod check;
pub mod cli;
pub mod clock;
pub mod compose;
pub mod docker;
pub mod http;
pub mod load;
pub mod nats;
pub mod observe;
pub mod pool;
pub mod service;
pub mod sim;
pub mod telemetry;
pub mod template;
pub mod virtual_target;
