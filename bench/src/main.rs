//! `kefu-bench`: Kefu's load generator and benchmark suite.
//!
//! `kefu-bench run` starts a real `kefu` process on a temp SQLite database, spreads shoppers
//! and agents over worker processes (`kefu-bench worker`, one per ~5,000 sockets, each from
//! its own 127.x.y.z source addresses), drives the scenarios of docs/BENCHMARKS.md at
//! open-loop rates and prints the figures. Every message is checked: acknowledged once,
//! delivered once, in order.

mod clock;
mod coord;
mod echo;
mod msg;
mod plan;
mod track;
mod worker;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "kefu-bench",
    about = "Load generator and benchmark suite for Kefu"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the benchmark suite against a fresh `kefu` process.
    Run(coord::RunArgs),
    /// Internal: one load-generating process, driven over stdin/stdout by `run`.
    #[command(hide = true)]
    Worker,
    /// Internal: the raw tokio TCP echo server measured as the floor.
    #[command(hide = true)]
    EchoServer,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Run(args) => rt.block_on(coord::run(args)),
        Command::Worker => rt.block_on(worker::main()),
        Command::EchoServer => rt.block_on(echo::serve()),
    }
}

/// This executable, to start workers and the echo server from.
fn this_exe() -> PathBuf {
    std::env::current_exe().expect("the running executable has a path")
}
