//! Placeholder, being built.

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {}

/// Entry point; returns the exit code.
pub async fn main(_args: AgentArgs) -> i32 {
    2
}
