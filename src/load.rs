//! Placeholder, being built.

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {}

/// Entry point; returns the exit code.
pub async fn main(_args: LoadArgs) -> i32 {
    2
}
