//! The figures of a run, as JSON and as the Markdown tables of docs/BENCHMARKS.md.

use std::fmt::Write as _;

use serde::Serialize;

use super::disk::Disk;
use crate::track::{Hist, Verdict};

/// Latency percentiles, milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Lat {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Lat {
    pub fn of(h: &Hist) -> Self {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: h.max() as f64 / 1000.0,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Idle {
    pub shoppers: usize,
    pub agents: usize,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub per_shopper_kib: f64,
    pub fds_per_shopper: f64,
    pub server_fds: usize,
}

/// One open-loop rate.
#[derive(Debug, Default, Serialize)]
pub struct Point {
    pub target: f64,
    pub messages: u64,
    pub secs: f64,
    pub drain_secs: f64,
    /// Send (intended) → Ack, i.e. stored.
    pub ack: Lat,
    pub to_agent: Lat,
    pub to_shopper: Lat,
    pub server_cpu_us_per_msg: f64,
    pub server_cpu_pct: f64,
    pub generator_cpu_pct: f64,
}

#[derive(Debug, Serialize)]
pub struct Stall {
    pub rate: f64,
    pub baseline_p99_ms: f64,
    pub stalled_p99_ms: f64,
    pub change_pct: f64,
    pub stalled_agent_caught_up: u64,
    pub rss_before_kib: u64,
    pub rss_max_kib: u64,
    pub rss_after_kib: u64,
}

#[derive(Debug, Serialize)]
pub struct Fanout {
    pub conversations: usize,
    pub agents: usize,
    pub incomplete: usize,
    /// From the event's server timestamp until the last agent has it (ms resolution).
    pub last_agent: Lat,
    /// From the shopper's (intended) first message until the last agent has the event:
    /// includes storing the message and opening the conversation.
    pub from_send: Lat,
}

#[derive(Debug, Serialize)]
pub struct Storm {
    pub secs: f64,
    pub reconnects: u64,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub change_pct: f64,
    pub fds_before: usize,
    pub fds_after: usize,
}

/// A node killed every so often under load (cluster runs).
#[derive(Debug, Serialize)]
pub struct Chaos {
    pub rate: f64,
    pub secs: f64,
    pub kills: usize,
    pub messages: u64,
    pub verdict: Verdict,
    pub reconnects: u64,
    /// The longest a socket was without a connection after losing one.
    pub longest_gap_ms: u64,
    pub ack: Lat,
}

/// One step of the durable throughput search.
#[derive(Debug, Serialize)]
pub struct Ceiling {
    pub target: f64,
    /// Messages acked per second, over the paced time plus the drain.
    pub achieved: f64,
    pub ack: Lat,
    pub sustained: bool,
}

impl Point {
    /// Messages stored per second, over the paced time plus the drain.
    pub fn achieved(&self) -> f64 {
        self.messages as f64 / (self.secs + self.drain_secs)
    }
}

impl Ceiling {
    /// Sustained: the server kept up (≥ 97% of the rate, drained within a second) with an
    /// ack p99 under 100 ms.
    pub fn of(p: Point) -> Self {
        let achieved = p.achieved();
        Self {
            target: p.target,
            achieved,
            ack: p.ack,
            sustained: achieved >= 0.97 * p.target && p.drain_secs < 1.0 && p.ack.p99_ms < 100.0,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Results {
    pub quick: bool,
    pub machine: String,
    pub workers: usize,
    pub idle: Option<Idle>,
    pub rates: Vec<Point>,
    pub stall: Option<Stall>,
    pub fanout: Option<Fanout>,
    pub storm: Option<Storm>,
    pub ceiling: Vec<Ceiling>,
    pub echo: Vec<Point>,
    /// Cluster runs: a node killed now and then under load.
    pub chaos: Option<Chaos>,
    /// The disk under kefu's database, measured before the scenarios.
    pub disk: Option<Disk>,
    pub verdict: Verdict,
    pub errors: u64,
    /// Sockets the server closed on the generator (each reconnected and resumed).
    pub dropped: u64,
    pub error_samples: Vec<String>,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {model}")
}

impl Results {
    pub fn new(quick: bool, workers: usize) -> Self {
        Self {
            quick,
            machine: machine(),
            workers,
            idle: None,
            rates: vec![],
            stall: None,
            fanout: None,
            storm: None,
            ceiling: vec![],
            echo: vec![],
            chaos: None,
            disk: None,
            verdict: Verdict::default(),
            errors: 0,
            dropped: 0,
            error_samples: vec![],
        }
    }

    /// The best sustained durable rate.
    pub fn ceiling(&self) -> Option<f64> {
        self.ceiling
            .iter()
            .filter(|c| c.sustained)
            .map(|c| c.achieved)
            .reduce(f64::max)
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Machine: {}; {} worker processes.\n",
            self.machine, self.workers
        );
        self.budgets(&mut s);
        let _ = writeln!(
            s,
            "\n| offered msg/s | achieved msg/s | messages | drain s | ack p50 / p99 / p99.9 ms | shopper→agent p50 / p99 / p99.9 ms | agent→shopper p50 / p99 ms | kefu CPU µs/msg | kefu CPU % | generator CPU % |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
        for p in &self.rates {
            let _ = writeln!(
                s,
                "| {:.0} | {:.0} | {} | {:.1} | {:.2} / {:.2} / {:.2} | {:.2} / {:.2} / {:.2} | {:.2} / {:.2} | {:.0} | {:.0} | {:.0} |",
                p.target,
                p.achieved(),
                p.messages,
                p.drain_secs,
                p.ack.p50_ms,
                p.ack.p99_ms,
                p.ack.p999_ms,
                p.to_agent.p50_ms,
                p.to_agent.p99_ms,
                p.to_agent.p999_ms,
                p.to_shopper.p50_ms,
                p.to_shopper.p99_ms,
                p.server_cpu_us_per_msg,
                p.server_cpu_pct,
                p.generator_cpu_pct
            );
        }
        if !self.ceiling.is_empty() {
            let _ = writeln!(
                s,
                "\n| ceiling step msg/s | achieved msg/s | ack p50 / p99 ms | sustained |"
            );
            let _ = writeln!(s, "|---|---|---|---|");
            for c in &self.ceiling {
                let _ = writeln!(
                    s,
                    "| {:.0} | {:.0} | {:.2} / {:.2} | {} |",
                    c.target, c.achieved, c.ack.p50_ms, c.ack.p99_ms, c.sustained
                );
            }
        }
        if !self.echo.is_empty() {
            let _ = writeln!(
                s,
                "\n| floor: raw tokio TCP echo, msg/s | round trip p50 / p99 / p99.9 ms | echo CPU µs/msg | kefu ack p50 / p99 ÷ echo |"
            );
            let _ = writeln!(s, "|---|---|---|---|");
            for e in &self.echo {
                let kefu = self.rates.iter().find(|p| p.target == e.target);
                let ratio = kefu.map_or("–".into(), |k| {
                    format!(
                        "{:.1}× / {:.1}×",
                        k.ack.p50_ms / e.ack.p50_ms,
                        k.ack.p99_ms / e.ack.p99_ms
                    )
                });
                let _ = writeln!(
                    s,
                    "| {:.0} | {:.3} / {:.3} / {:.3} | {:.1} | {ratio} |",
                    e.target, e.ack.p50_ms, e.ack.p99_ms, e.ack.p999_ms, e.server_cpu_us_per_msg
                );
            }
        }
        if let Some(d) = &self.disk {
            let _ = writeln!(
                s,
                "\nDisk floor (under kefu's database): 4 KiB write + fdatasync p50 / p99 {:.2} / {:.2} ms; 1 MiB writes with fdatasync {:.0} MiB/s.",
                d.sync_4k.p50_ms, d.sync_4k.p99_ms, d.sync_mib_per_sec
            );
        }
        if let Some(c) = &self.chaos {
            let v = &c.verdict;
            let _ = writeln!(
                s,
                "\nChaos: {:.0} msg/s for {:.0} s, a node killed (SIGKILL) and restarted {} times: {} messages; lost / duplicated / reordered / unacked {} / {} / {} / {}; {} reconnects, the longest a socket was without a connection {} ms; ack p50 / p99 / p99.9 {:.2} / {:.2} / {:.2} ms.",
                c.rate,
                c.secs,
                c.kills,
                c.messages,
                v.lost,
                v.duplicated,
                v.reordered,
                v.unacked,
                c.reconnects,
                c.longest_gap_ms,
                c.ack.p50_ms,
                c.ack.p99_ms,
                c.ack.p999_ms
            );
        }
        if self.dropped > 0 {
            let _ = writeln!(
                s,
                "\n{} sockets were closed by the server and resumed.",
                self.dropped
            );
        }
        if self.errors > 0 {
            let _ = writeln!(
                s,
                "\n{} protocol errors; first: {:?}",
                self.errors, self.error_samples
            );
        }
        s
    }

    fn budgets(&self, s: &mut String) {
        let _ = writeln!(s, "| what | budget | measured | |");
        let _ = writeln!(s, "|---|---|---|---|");
        let mut row = |what: &str, budget: &str, measured: String, ok: Option<bool>| {
            let mark = match ok {
                Some(true) => "✅",
                Some(false) => "❌",
                None => "–",
            };
            let _ = writeln!(s, "| {what} | {budget} | {measured} | {mark} |");
        };
        if let Some(i) = &self.idle {
            row(
                "server memory per connected idle shopper",
                "≤ 8 KiB",
                format!(
                    "{:.2} KiB (RSS {} → {} KiB)",
                    i.per_shopper_kib, i.rss_before_kib, i.rss_after_kib
                ),
                Some(i.per_shopper_kib <= 8.0),
            );
            row(
                "shoppers in one server process",
                "≥ 19,000",
                format!(
                    "{} (+{} agents, {} fds)",
                    i.shoppers, i.agents, i.server_fds
                ),
                Some(i.shoppers >= 19_000),
            );
        }
        if let Some(p) = self.rates.iter().find(|p| p.target == 5_000.0) {
            row(
                "ack latency p99 at 5,000 durable msg/s",
                "≤ 50 ms",
                format!("{:.2} ms", p.ack.p99_ms),
                Some(p.ack.p99_ms <= 50.0),
            );
        }
        if !self.ceiling.is_empty() {
            let c = self.ceiling().unwrap_or(0.0);
            row(
                "durable messages per second (ceiling)",
                "≥ 20,000",
                format!("{c:.0}/s"),
                Some(c >= 20_000.0),
            );
        }
        if let Some(f) = &self.fanout {
            row(
                "fan-out to all agents, p99 until the last has it",
                "≤ 20 ms",
                format!(
                    "{:.2} ms from the event to the last of {} agents ({:.2} ms from the shopper's message; {} of {} incomplete)",
                    f.last_agent.p99_ms,
                    f.agents,
                    f.from_send.p99_ms,
                    f.incomplete,
                    f.conversations
                ),
                Some(f.last_agent.p99_ms <= 20.0 && f.incomplete == 0),
            );
        }
        if let Some(st) = &self.stall {
            row(
                "one stalled agent: others' p99",
                "moves ≤ 20%",
                format!(
                    "{:.2} → {:.2} ms ({:+.0}%); RSS {} → max {} → {} KiB",
                    st.baseline_p99_ms,
                    st.stalled_p99_ms,
                    st.change_pct,
                    st.rss_before_kib,
                    st.rss_max_kib,
                    st.rss_after_kib
                ),
                Some(st.change_pct <= 20.0),
            );
        }
        if let Some(st) = &self.storm {
            row(
                "after the reconnect storm",
                "RSS within 5%, no leaked fds",
                format!(
                    "{} reconnects; RSS {} → {} KiB ({:+.1}%); fds {} → {}",
                    st.reconnects,
                    st.rss_before_kib,
                    st.rss_after_kib,
                    st.change_pct,
                    st.fds_before,
                    st.fds_after
                ),
                Some(st.change_pct.abs() <= 5.0 && st.fds_after <= st.fds_before),
            );
        }
        let v = &self.verdict;
        row(
            "lost / duplicated / reordered messages",
            "0",
            format!(
                "{} / {} / {} of {} sent ({} unacked)",
                v.lost, v.duplicated, v.reordered, v.sent, v.unacked
            ),
            Some(v.clean()),
        );
    }
}
