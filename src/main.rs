//! The `jetpool` binary: parses arguments and hands over to the library.

use clap::Parser;
use jetpool::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Check(_)
            | Command::Simulate(_)
            | Command::Matrix(_)
            | Command::Status(_)
            | Command::Explain(_)
    ) {
        end_quietly_on_closed_pipe();
    }
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

/// The commands that print a report end as Unix tools do when their
/// reader goes away (`jetpool check | head`): killed by SIGPIPE, quietly.
/// Rust ignores SIGPIPE, so without this the next `println!` panics. The
/// services keep ignoring it: a peer closing a socket must not end them.
fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called once at the start of `main`, before any other thread
    // runs; it restores the signal's default disposition and touches no
    // memory of ours.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
