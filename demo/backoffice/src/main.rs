//! `kefu-demo-backoffice`: serves the demo retail data set over HTTP (demo data, not
//! product code). Prints `kefu-demo-backoffice listening on http://ADDR` once it accepts
//! connections; logs go to stderr.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use clap::Parser;
use kefu_demo_backoffice::{Config, DEFAULT_SEED, serve_with};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// Demo back office for Kefu: customers, orders and returns of a pretend shop, in Kefu's
/// generic back-office format.
#[derive(Debug, Parser)]
#[command(name = "kefu-demo-backoffice", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Seed of the generated data set; the same seed always gives the same data.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Delay every response by this many milliseconds, to show a slow back office.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let listener = TcpListener::bind(args.listen).await.with_context(|| {
        format!(
            "binding {} (is the port in use? try --listen 127.0.0.1:0)",
            args.listen
        )
    })?;
    let addr = listener.local_addr().context("reading the bound address")?;
    println!("kefu-demo-backoffice listening on http://{addr}");

    let config = Config {
        seed: args.seed,
        delay: Duration::from_millis(args.delay_ms),
    };
    serve_with(listener, config, shutdown_signal())
        .await
        .context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
