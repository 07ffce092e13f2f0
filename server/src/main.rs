//! `kefu`: parse the command line and hand over to `kefu_server::cli`.

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: glibc kept every freed 19 MiB argon2 block resident
/// (RSS grew by 19 MiB per sign-in, for good) and its per-thread arenas cost more per idle
/// socket. Figures in docs/BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match kefu_server::cli::main().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kefu: {e:#}");
            ExitCode::FAILURE
        }
    }
}
