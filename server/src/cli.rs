//! The `kefu` command line. Accepts the Go-style `-config=prod.toml` as well as `--config`.

use std::{io::BufRead, path::PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{
    auth::password,
    config::{self, Settings, Site},
    seed,
    store::{NewAgent, Role},
};

/// Kefu (客服): self-hosted customer service for retailers.
#[derive(Debug, Parser)]
#[command(name = "kefu", version, about)]
pub struct Cli {
    /// Configuration file (TOML). `KEFU_*` environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Serve with demo data: a demo site, groups and a `demo` admin on an empty database.
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve {
        /// Seed demo data (see `kefu --help`).
        #[arg(long)]
        demo: bool,
    },
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage agent accounts.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Manage bot accounts (the bot API, see docs/plugins.md).
    #[command(subcommand)]
    Bot(BotCommand),
    /// Print the REST API's OpenAPI 3.1 description, as this configuration serves it.
    Openapi,
    /// Bring the database's schema up to date (`store.url`), then exit. `kefu` also does
    /// this at start; run it alone to migrate before rolling out new nodes.
    Migrate,
    /// Database maintenance.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Write a consistent copy of the embedded database and the attachments to FILE (one
    /// tar file) while kefu serves. PostgreSQL installations use pg_dump instead.
    Backup {
        /// The backup to write; never overwritten.
        file: PathBuf,
    },
    /// Restore a backup made by `kefu backup` into an empty data directory (stop kefu
    /// first; run as the user kefu runs as, e.g. `sudo -u kefu kefu restore FILE`).
    Restore { file: PathBuf },
    /// Check the configuration, data directory, database, back office, open-files limit and
    /// listen address, and say how to fix what is wrong. Exits 1 if anything fails.
    Doctor,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy every row of a SQLite database into an empty PostgreSQL database (moving a
    /// single node to PostgreSQL), then compare row counts. Stop kefu first.
    Copy {
        /// The SQLite database (`sqlite:///var/lib/kefu/kefu.db` or a file path).
        #[arg(long, value_name = "URL")]
        from: String,
        /// The PostgreSQL database (`postgres://user:password@host/database`); its schema
        /// is created if missing.
        #[arg(long, value_name = "URL")]
        to: String,
        /// Copy into a target that already has rows: finishes an interrupted copy, skipping
        /// the rows already there.
        #[arg(long)]
        resume: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BotCommand {
    /// Create a bot account and print its token (shown only this once) on stdout.
    Add {
        /// Name shoppers and agents see on the bot's messages.
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented example configuration (with freshly drawn secrets).
    Example,
    /// Load and validate the configuration, then print it with secrets redacted, and run
    /// each back-office mapping filter on its sample answer, printing what it maps to.
    Check {
        /// A sample answer for one filter, `KEY=FILE` (KEY: customer, customers, orders,
        /// returns, created_return, cancelled_order, order, create_return_request,
        /// cancel_order_request); adds to `[integrations.backoffice.samples]`. Repeatable.
        #[arg(long = "sample", value_name = "KEY=FILE")]
        samples: Vec<String>,
    },
    /// Write a new configuration file: the example with fresh random secrets (the packages
    /// run this at first install). Never overwrites.
    Init {
        file: PathBuf,
        /// Where kefu keeps its database and attachments.
        #[arg(long, default_value = "kefu-data")]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create an account (e.g. the first admin). Reads the password from stdin.
    Add {
        #[arg(long)]
        username: String,
        /// Name shown to shoppers; defaults to the username.
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "agent")]
        role: Role,
        /// Group membership; repeat for several.
        #[arg(long = "group")]
        groups: Vec<String>,
        /// Concurrent conversations; defaults to `routing.default_capacity`.
        #[arg(long)]
        capacity: Option<i64>,
    },
}

impl clap::ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        &[Role::Agent, Role::Supervisor, Role::Admin]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }))
    }
}

/// Rewrites single-dash long options (`-config=x`, `-config x`, `-demo`) to the double-dash
/// form clap expects, so Go-style invocations work unchanged.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let is_go_style = i > 0
                && a.starts_with('-')
                && !a.starts_with("--")
                && a.len() > 2
                && a[1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic());
            if is_go_style { format!("-{a}") } else { a }
        })
        .collect()
}

/// Parses the process arguments and runs the chosen command.
pub async fn main() -> anyhow::Result<()> {
    main_with(crate::plugins::Registry::builtin()).await
}

/// [`main`] with your own plugins available to `[plugins]` besides the built-ins: the whole
/// `main` of a custom Kefu build (see `docs/plugins.md`).
pub async fn main_with(registry: crate::plugins::Registry) -> anyhow::Result<()> {
    let cli = Cli::parse_from(normalize_args(std::env::args()));
    match cli.command {
        None => serve(cli.config, cli.demo, registry).await,
        Some(Command::Serve { demo }) => serve(cli.config, demo || cli.demo, registry).await,
        Some(Command::Config(ConfigCommand::Example)) => {
            // With fresh secrets: the example's placeholder is refused at start.
            print!(
                "{}",
                config::init::fresh(std::path::Path::new("kefu-data"))?
            );
            Ok(())
        }
        Some(Command::Config(ConfigCommand::Init { file, data_dir })) => {
            config::init::write_new(&file, &data_dir)?;
            println!(
                "wrote {} with fresh secrets; data in {}",
                file.display(),
                data_dir.display()
            );
            Ok(())
        }
        Some(Command::Backup { file }) => {
            let settings = Settings::load(cli.config.as_deref())?;
            let manifest = tokio::task::spawn_blocking(move || {
                crate::ops::backup::backup(&settings, &file).map(|m| (m, file))
            })
            .await??;
            println!("backup written to {}: {}", manifest.1.display(), manifest.0);
            Ok(())
        }
        Some(Command::Restore { file }) => {
            let settings = Settings::load(cli.config.as_deref())?;
            let data_dir = settings.server.data_dir.clone();
            let manifest =
                tokio::task::spawn_blocking(move || crate::ops::backup::restore(&settings, &file))
                    .await??;
            println!("restored into {}: {manifest}", data_dir.display());
            Ok(())
        }
        Some(Command::Doctor) => {
            let checks = crate::ops::doctor::run(cli.config.as_deref(), &registry).await;
            anyhow::ensure!(
                crate::ops::doctor::print(&checks),
                "kefu doctor found problems (above)"
            );
            Ok(())
        }
        Some(Command::Config(ConfigCommand::Check { samples })) => {
            let settings = Settings::load(cli.config.as_deref())?;
            registry.build(&settings.plugins)?;
            // Secrets are redacted: this output ends up in tickets and CI logs.
            println!("{}", settings.redacted_json());
            check_mappings(&settings, &samples)
        }
        Some(Command::Migrate) => {
            let settings = Settings::load(cli.config.as_deref())?;
            let store = crate::open_store(&settings).await?;
            store.close().await;
            println!(
                "the database {} is up to date",
                config::url_without_password(&settings.store_url())
            );
            Ok(())
        }
        Some(Command::Store(StoreCommand::Copy { from, to, resume })) => {
            let options = crate::store::copy::Options {
                resume,
                ..Default::default()
            };
            let report = crate::store::copy::copy(&from, &to, &options).await?;
            print!("{report}");
            let differing = report.differing();
            anyhow::ensure!(
                differing.is_empty(),
                "row counts differ in {}: was the source written to during the copy, or did \
                 the target hold other rows? Stop kefu and run the copy again with --resume",
                differing.join(", ")
            );
            println!("copy complete: every table has the same number of rows on both sides");
            Ok(())
        }
        Some(Command::Openapi) => {
            let settings = Settings::load(cli.config.as_deref())?;
            println!("{}", crate::gateway::openapi::json(&settings));
            Ok(())
        }
        Some(Command::Bot(BotCommand::Add { name })) => {
            let settings = Settings::load(cli.config.as_deref())?;
            let store = crate::open_store(&settings).await?;
            let (bot, token) =
                crate::accounts::new_bot(&name).map_err(|e| anyhow::anyhow!("{e}"))?;
            store.create_bot(&bot).await?;
            eprintln!("created bot `{}` ({}); its token:", bot.name, bot.id);
            println!("{token}");
            store.close().await;
            Ok(())
        }
        Some(Command::Agent(AgentCommand::Add {
            username,
            name,
            role,
            groups,
            capacity,
        })) => {
            let settings = Settings::load(cli.config.as_deref())?;
            let store = crate::open_store(&settings).await?;
            seed::ensure_groups(store.as_ref()).await?;
            eprintln!("password for {username} (one line on stdin):");
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading password from stdin")?;
            let password = line.trim_end_matches(['\r', '\n']).to_string();
            crate::gateway::admin::check_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
            let agent = store
                .create_agent(&NewAgent {
                    display_name: name.unwrap_or_else(|| username.clone()),
                    username,
                    password_hash: password::hash(password).await?,
                    role,
                    capacity: capacity.unwrap_or(settings.routing.default_capacity as i64),
                    groups,
                })
                .await?;
            println!(
                "created {:?} `{}` ({})",
                agent.role, agent.username, agent.id
            );
            store.close().await;
            Ok(())
        }
    }
}

async fn serve(
    config_file: Option<PathBuf>,
    demo: bool,
    registry: crate::plugins::Registry,
) -> anyhow::Result<()> {
    let mut settings = Settings::load(config_file.as_deref())?;
    crate::telemetry::init_logging(&settings.log);
    raise_open_files_limit();
    if demo && settings.sites.is_empty() {
        let port = settings
            .server
            .listen
            .rsplit(':')
            .next()
            .unwrap_or("8080")
            .to_string();
        let scheme = if settings.server.tls.enabled() {
            "https"
        } else {
            "http"
        };
        let mut allowed_origins = vec![
            format!("{scheme}://127.0.0.1:{port}"),
            format!("{scheme}://localhost:{port}"),
        ];
        // The demo back office also serves the demo shop's pages, which embed the widget.
        if let Some(origin) = settings
            .integrations
            .backoffice
            .as_ref()
            .and_then(|b| origin_of(&b.base_url))
        {
            allowed_origins.push(origin);
        }
        settings.sites.push(Site {
            id: "demo".into(),
            name: "Demo shop".into(),
            allowed_origins,
            identity_secret: "demo-identity-secret".into(),
            default_group: "pre-sales".into(),
            welcome: String::new(),
        });
    }
    if demo && settings.plugins.is_empty() {
        settings.plugins = config::example_plugins();
    }
    let store = crate::open_store(&settings).await?;
    if demo {
        seed::demo(store.as_ref()).await?;
    } else {
        seed::ensure_groups(store.as_ref()).await?;
    }
    let listener = tokio::net::TcpListener::bind(&settings.server.listen)
        .await
        .with_context(|| {
            format!(
                "listening on {} (config key server.listen)",
                settings.server.listen
            )
        })?;
    let addr = listener.local_addr()?;
    let (http, ws) = if settings.server.tls.enabled() {
        ("https", "wss")
    } else {
        ("http", "ws")
    };
    println!("kefu listening on {http}://{addr}");
    println!("  data directory: {}", settings.server.data_dir.display());
    if demo {
        println!(
            "  demo agent: username `{}`, password `{}`",
            seed::DEMO_USER,
            seed::DEMO_PASSWORD
        );
        println!(
            "  demo site id: `demo`  (agents: {ws}://{addr}/ws/agent, shoppers: {ws}://{addr}/ws/shopper)"
        );
    }
    crate::run_with(settings, store, listener, shutdown_signal(), registry).await
}

/// `scheme://host[:port]` of a URL, as browsers send it in `Origin`.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next().filter(|a| !a.is_empty())?;
    Some(format!("{scheme}://{authority}"))
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Each socket is a file descriptor: lift the soft limit to the hard one.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::info!(limit = n, "open files limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open files limit"),
    }
}

/// Runs the back office's mapping filters on their sample answers (`kefu config check`).
fn check_mappings(settings: &Settings, given: &[String]) -> anyhow::Result<()> {
    use crate::integrations::rest::{Mappings, RestConnector, check};
    let Some(b) = settings.integrations.backoffice.clone() else {
        anyhow::ensure!(
            given.is_empty(),
            "--sample needs an [integrations.backoffice] to try"
        );
        return Ok(());
    };
    let mut samples = b.samples.clone();
    for s in given {
        let (key, file) = s
            .split_once('=')
            .with_context(|| format!("--sample {s}: expected KEY=FILE"))?;
        let known = Mappings::sample_keys();
        anyhow::ensure!(
            known.contains(&key),
            "--sample {s}: no filter reads `{key}` (known: {})",
            known.join(", ")
        );
        samples.insert(key.to_string(), PathBuf::from(file));
    }
    if samples.is_empty() {
        // stdout stays the settings' JSON alone, for scripts that read it.
        eprintln!(
            "(to try the back-office mapping, give sample answers: --sample orders=answer.json \
             or [integrations.backoffice.samples])"
        );
        return Ok(());
    }
    let conn = RestConnector::new(b, reqwest::Client::new()).map_err(anyhow::Error::msg)?;
    let (report, ok) = check::report(&conn, &samples);
    println!("{report}");
    anyhow::ensure!(ok, "a mapping failed on its sample (see `error:` above)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn origins_are_cut_from_urls_as_browsers_send_them() {
        assert_eq!(
            origin_of("http://127.0.0.1:8090/api").as_deref(),
            Some("http://127.0.0.1:8090")
        );
        assert_eq!(
            origin_of("https://shop.example").as_deref(),
            Some("https://shop.example")
        );
        assert_eq!(origin_of("not a url"), None);
    }

    #[test]
    fn go_style_flags_are_accepted() {
        let cli = Cli::parse_from(normalize_args(args(&["kefu", "-config=prod.toml"])));
        assert_eq!(
            cli.config.as_deref(),
            Some(std::path::Path::new("prod.toml"))
        );
        let cli = Cli::parse_from(normalize_args(args(&[
            "kefu", "-config", "a.toml", "-demo",
        ])));
        assert_eq!(cli.config.as_deref(), Some(std::path::Path::new("a.toml")));
        assert!(cli.demo);
        let cli = Cli::parse_from(normalize_args(args(&["kefu", "--config", "b.toml"])));
        assert_eq!(cli.config.as_deref(), Some(std::path::Path::new("b.toml")));
    }

    #[test]
    fn store_copy_takes_both_urls_and_resume() {
        let cli = Cli::parse_from(args(&[
            "kefu",
            "store",
            "copy",
            "--from",
            "a.db",
            "--to",
            "postgres://h/k",
            "--resume",
        ]));
        let Some(Command::Store(StoreCommand::Copy { from, to, resume })) = cli.command else {
            panic!(
                "`kefu store copy` parses as the copy command: {:?}",
                cli.command
            );
        };
        assert_eq!(
            (from.as_str(), to.as_str(), resume),
            ("a.db", "postgres://h/k", true)
        );
        let missing = Cli::try_parse_from(args(&["kefu", "store", "copy", "--from", "a.db"]));
        assert!(missing.is_err(), "--to is required: no default target");
    }

    #[test]
    fn negative_numbers_and_short_flags_are_left_alone() {
        assert_eq!(
            normalize_args(args(&["kefu", "-h", "-1"])),
            args(&["kefu", "-h", "-1"])
        );
    }
}
