//! docker-compose end to end, with the installed docker-compose, the real
//! Docker engine and a real nats-server: pools discovered from labels,
//! replicas compose lists and removes, cloned templates, rolling, the kept
//! last container, and the shipped stack. One test binary, so the cases
//! run side by side.

mod common;

#[path = "compose_e2e/mixed.rs"]
mod mixed;
#[path = "compose_e2e/scale.rs"]
mod scale;
#[path = "compose_e2e/stack.rs"]
mod stack;
#[path = "compose_e2e/template.rs"]
mod template;
