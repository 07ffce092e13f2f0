//! `kefu-demo-backoffice`: serves the demo retail data set over HTTP (demo data, not
//! product code), and the demo shop website with the Kefu chat widget at `/`. Prints
//! `kefu-demo-backoffice listening on http://ADDR` once it accepts connections, then where
//! the shop is; logs go to stderr.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use clap::Parser;
use kefu_demo_backoffice::{
    Config, DEFAULT_IDENTITY_SECRET, DEFAULT_KEFU_URL, DEFAULT_SEED, dataset, serve_with,
};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// Demo back office for Kefu: customers, orders and returns of a pretend shop, in Kefu's
/// generic back-office format; and that shop's website with the Kefu chat widget.
///
/// JSON: /customers?email=|phone=|q=, /customers/{id}[/orders|/returns], POST /returns,
/// POST /orders/{id}/cancel, /healthz. Shop: / and /products/{sku} (add ?lang=zh-CN for
/// Chinese); its demo bar signs in as a customer via Kefu.identify with a signed id.
#[derive(Debug, Parser)]
#[command(name = "kefu-demo-backoffice", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Seed of the generated data set; the same seed always gives the same data.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Delay every JSON response by this many milliseconds, to show a slow back office
    /// (the shop pages are not delayed).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Kefu server the shop pages load the chat widget from ({URL}/widget.js).
    #[arg(long, value_name = "URL", default_value = DEFAULT_KEFU_URL, value_parser = http_url)]
    kefu_url: String,
    /// Identity secret of Kefu's `demo` site: the shop signs customer ids with it
    /// (hex HMAC-SHA256). The default is the one `kefu --demo` uses.
    #[arg(long, value_name = "SECRET", default_value = DEFAULT_IDENTITY_SECRET)]
    identity_secret: String,
    /// Scripted shoppers chatting at once with Kefu's `demo` site over the widget's socket
    /// (0: none), so the supervisor's live floor has something to show.
    #[arg(long, value_name = "N", default_value_t = 0)]
    shoppers: usize,
}

/// An `http://` or `https://` base URL, without a trailing slash.
fn http_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(|| {
            "expected an http:// or https:// URL, e.g. http://127.0.0.1:8080".to_owned()
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("the URL has no host, e.g. http://127.0.0.1:8080".to_owned());
    }
    Ok(text.trim_end_matches('/').to_owned())
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
    println!(
        "  demo shop: http://{addr}/  (chat widget from {}/widget.js, site `demo`)",
        args.kefu_url
    );

    if args.shoppers > 0 {
        let script = kefu_demo_backoffice::shoppers::Script {
            kefu_url: args.kefu_url.clone(),
            origin: format!("http://{addr}"),
            identity_secret: args.identity_secret.clone(),
            customers: kefu_demo_backoffice::shoppers::customers(&dataset(args.seed)),
            thinking: kefu_demo_backoffice::shoppers::THINKING,
        };
        println!(
            "  {} scripted shoppers chat with {}",
            args.shoppers, args.kefu_url
        );
        tokio::spawn(kefu_demo_backoffice::shoppers::run(script, args.shoppers));
    }

    let config = Config {
        seed: args.seed,
        delay: Duration::from_millis(args.delay_ms),
        kefu_url: args.kefu_url,
        identity_secret: args.identity_secret,
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
