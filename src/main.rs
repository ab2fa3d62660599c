//! The `jetpool` binary: parses arguments and hands over to the library.

use clap::Parser;
use jetpool::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(args) => jetpool::check::check(&args),
        Command::Simulate(args) => jetpool::sim::main(&args),
        Command::Matrix(args) => jetpool::sim::matrix::main(&args),
        Command::Status(args) => jetpool::inspect::status(&args),
        Command::Explain(args) => jetpool::inspect::explain(&args),
        Command::Run(args) => runtime(|| jetpool::service::main(args)),
        Command::Agent(args) => runtime(|| jetpool::agent::main(args)),
        Command::Load(args) => runtime(|| jetpool::load::main(args)),
        Command::Pause(args) => runtime(|| jetpool::overrides::cmd::pause(args)),
        Command::Resume(args) => runtime(|| jetpool::overrides::cmd::resume(args)),
        Command::Pin(args) => runtime(|| jetpool::overrides::cmd::pin(args)),
        Command::Unpin(args) => runtime(|| jetpool::overrides::cmd::unpin(args)),
    };
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Runs an async entry point on a multi-threaded tokio runtime.
fn runtime<F, Fut>(f: F) -> i32
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = i32>,
{
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            1
        }
    }
}
