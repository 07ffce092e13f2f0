//! `kefu`: parse the command line and hand over to `kefu_server::cli`.

use std::process::ExitCode;

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
