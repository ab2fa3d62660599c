//! Placeholder, being built.

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {}

/// Entry point; returns the exit code.
pub async fn main(_args: RunArgs) -> i32 {
    2
}
