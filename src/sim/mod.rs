//! `jetpool simulate`: replays workload traces through jetpool's decision
//! core and emulations of its peers, in virtual time. (Being built.)

/// Arguments of `jetpool simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {}

/// Entry point; returns the process exit code.
pub fn main(_args: &SimulateArgs) -> i32 {
    eprintln!("error: the simulator is not built yet");
    2
}
