//! `kefu-bench run`: starts kefu and the workers, runs the scenarios in order on one set of
//! connections, prints the figures against the budgets, and exits non-zero if any message
//! was lost, duplicated or reordered.

mod disk;
mod fleet;
mod report;
mod scenarios;
mod server;

use std::path::PathBuf;

use anyhow::Context as _;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The short run CI executes (about a minute): small counts, no throughput ceiling.
    #[arg(long)]
    quick: bool,
    /// The kefu binary to measure; defaults to the one next to this executable.
    #[arg(long)]
    kefu: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Shoppers to connect (default: 19,000; quick: 1,000).
    #[arg(long)]
    shoppers: Option<usize>,
    /// Message rates of scenario 2 in msg/s, e.g. `--rates 5000` (default: 1000,5000,10000).
    #[arg(long, value_delimiter = ',')]
    rates: Option<Vec<f64>>,
    /// Run only these scenarios after connecting everyone (for profiling one of them):
    /// rates, stall, fanout, storm, ceiling, echo.
    #[arg(long, value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// Keep kefu's data on this PostgreSQL server (`postgres://user@host:port/database`):
    /// the run gets a fresh database there, dropped afterwards. Default: a temp SQLite file.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Run kefu as this many cluster nodes (needs `--store`), joined by a NATS cluster of
    /// three servers the run starts (scripts/nats.sh); each socket connects to one node and
    /// moves to the next when it fails. Adds the chaos scenario (a node killed every 30 s).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
}

/// How big a run is.
pub struct Scale {
    pub shoppers: usize,
    pub agents: usize,
    /// Shoppers chatting with an agent during the message scenarios.
    pub chatting: usize,
    pub rates: Vec<f64>,
    pub secs: f64,
    pub reply_every: u32,
    pub fanout_opens: usize,
    pub storm_secs: f64,
    pub stall_rate: f64,
    pub ceiling: Vec<f64>,
    pub ceiling_secs: f64,
    /// fsyncs of 4 KiB and of 1 MiB measuring the disk floor.
    pub disk_syncs: (usize, usize),
    /// Chaos (cluster runs): msg/s, how long, and how often a node is killed.
    pub chaos: (f64, f64, f64),
    /// Scenarios to run; `None` runs all of them.
    pub only: Option<Vec<String>>,
}

impl Scale {
    fn new(args: &RunArgs) -> Self {
        let mut s = if args.quick {
            Self {
                shoppers: 1_000,
                agents: 20,
                chatting: 100,
                rates: vec![500.0],
                secs: 4.0,
                reply_every: 10,
                fanout_opens: 20,
                storm_secs: 5.0,
                stall_rate: 300.0,
                ceiling: vec![],
                ceiling_secs: 0.0,
                disk_syncs: (100, 4),
                chaos: (500.0, 20.0, 10.0),
                only: None,
            }
        } else {
            Self {
                shoppers: 19_000,
                agents: 200,
                chatting: 1_000,
                rates: vec![1_000.0, 5_000.0, 10_000.0],
                secs: 20.0,
                reply_every: 10,
                fanout_opens: 100,
                storm_secs: 60.0,
                stall_rate: 1_000.0,
                ceiling: vec![
                    2_000.0, 3_000.0, 4_000.0, 5_000.0, 7_500.0, 10_000.0, 15_000.0, 20_000.0,
                    25_000.0,
                ],
                ceiling_secs: 10.0,
                disk_syncs: (1_000, 64),
                chaos: (2_000.0, 180.0, 30.0),
                only: None,
            }
        };
        if let Some(n) = args.shoppers {
            s.shoppers = n;
        }
        if let Some(rates) = &args.rates {
            s.rates.clone_from(rates);
        }
        s.only.clone_from(&args.only);
        s
    }

    /// Whether scenario `name` is part of this run.
    pub fn runs(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|o| o == name))
    }

    /// Each agent can hold its share of the chats and of the fan-out conversations.
    fn capacity(&self) -> usize {
        (self.chatting + self.fanout_opens).div_ceil(self.agents) + 2
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let scale = Scale::new(&args);
    let bin = args
        .kefu
        .unwrap_or_else(|| crate::this_exe().with_file_name("kefu"));
    anyhow::ensure!(
        bin.exists(),
        "no kefu binary at {} (build it: cargo build --release -p kefu-server, or pass --kefu)",
        bin.display()
    );
    if let Some(url) = &args.store {
        anyhow::ensure!(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "--store takes a postgres:// URL (without it the run uses SQLite)"
        );
    }
    anyhow::ensure!(
        args.nodes == 1 || args.store.is_some(),
        "--nodes needs --store postgres://…: cluster nodes share one PostgreSQL database"
    );
    let kefu = server::Kefu::start(&bin, scale.capacity(), args.store.as_deref(), args.nodes)?;
    eprintln!(
        "kefu {} ({} node(s)) on {}; data in {}",
        bin.display(),
        args.nodes,
        kefu.addr,
        match &args.store {
            Some(_) => "a fresh PostgreSQL database".to_string(),
            None => kefu.data_dir().display().to_string(),
        }
    );
    let outcome = scenarios::all(&kefu, &scale, args.quick).await;
    let results = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kefu's last log lines:\n{}", kefu.log_tail());
            return Err(e);
        }
    };
    println!("{}", results.markdown());
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    anyhow::ensure!(
        results.verdict.clean(),
        "messages lost, duplicated or reordered: {:?}",
        results.verdict
    );
    Ok(())
}
