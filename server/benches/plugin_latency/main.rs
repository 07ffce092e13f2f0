//! What the built-in plugins add to each shopper message.
//!
//! Runs the real server in this process on 127.0.0.1 (temp SQLite database, no agents online,
//! so every conversation waits in its queue and the FAQ bot may answer) and drives it with
//! shopper WebSockets speaking the protobuf contract. The same workload three times, each on
//! a fresh server:
//!
//! - A: no plugins. Each shopper sends, waits for the Ack, pauses ([`think`]), sends the
//!   next.
//! - B: all four built-ins, paced exactly like A. Plugins hear a message only after it was
//!   acknowledged, so any Ack difference is the plugins competing for the CPU and the
//!   database (their answers, tags and notes are writes too).
//! - C: all four built-ins; each shopper also waits for the FAQ bot's answer before its
//!   pause (what a shopper actually waits for).
//!
//! The server's listener is bound exactly as `kefu` binds it (`kefu` sets `TCP_NODELAY` on
//! every accepted socket; this bench found the ~40 ms Nagle/delayed-ACK stall it removed).
//!
//! Plugin call times are the server's own `kefu_plugin_seconds` histogram, scraped from
//! `/metrics` before and after each run. Nothing is asserted; it prints a table.
//!
//! ```sh
//! cargo bench -p kefu-server --bench plugin_latency
//! ```//!
//! `server` starts and scrapes the server; `shopper` is one shopper's socket and workload.

mod server;
mod shopper;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::sync::Barrier;

use server::{Metrics, Server};
use shopper::Shopper;

const COMMAND: &str = "cargo bench -p kefu-server --bench plugin_latency";
const SHOPPERS: usize = 50;
const MESSAGES: usize = 20;
// The site of `kefu_testkit::test_settings`, which the bench's server runs with.
use kefu_testkit::{ORIGIN, SECRET, SITE};
const BOT_NAME: &str = "小助手";
/// Starts the FAQ bot's hand-off texts, so the bench can tell them from answers.
const HANDOFF: &str = "[hand-off]";
/// Longest wait for a frame the server owes us (an Ack, the Hello); longer is a bug.
const WAIT: Duration = Duration::from_secs(15);
/// Longest wait for the bot's answer before counting it missing.
const REPLY_WAIT: Duration = Duration::from_secs(3);
/// A shopper's first messages open its conversation (more work, and all shoppers start
/// together); the later ones, the steady state, are also reported on their own.
const OPENING: usize = 2;
/// Bus order (priority, highest first).
const PLUGINS: [&str; 4] = ["business_hours", "keyword_escalation", "faq", "recommend"];

/// A shopper's pause between getting what it waits for and writing again: 25 to 75 ms, varied
/// so that shoppers don't write in lockstep. Faster than people type, yet it leaves the server
/// unsaturated (without it, 50 shoppers writing flat out just measure the queue at the one
/// message writer: every Ack then takes about 50 / throughput).
fn think(shopper: usize, nth: usize) -> Duration {
    Duration::from_millis(25 + ((shopper * 37 + nth * 11) % 51) as u64)
}

/// What shoppers write. Two lines hit a keyword rule, four are real FAQ questions, and the
/// other eight match neither: small talk that only the catch-all "small talk" entry answers
/// (without it the bot would hand off at the first one and fall silent).
const LINES: [&str; 14] = [
    "运费怎么算？",
    "你好",
    "How much is shipping to Shanghai?",
    "在吗？",
    "我要投诉，快递把杯子摔碎了", // keyword rule 投诉 + FAQ entry
    "hello, is anyone there?",
    "多久能发货？",
    "谢谢",
    "Can I get an invoice for my order?", // keyword rule invoice + FAQ entry
    "好的，我再看看",
    "How do I return an item?",
    "thanks!",
    "嗯嗯，好的",
    "ok, thanks a lot",
];

/// The four built-ins. Keyword rules only tag and prioritise: a rule with a `group` hands
/// the conversation to humans, and the FAQ bot then stays silent in it.
fn all_four() -> Value {
    let entry = |questions: &[&str], keywords: &[&str], answer: &str| json!({"questions": questions, "keywords": keywords, "answer": answer});
    json!({
        "business_hours": {
            "utc_offset": "+08:00",
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "open": "00:00",
            "close": "24:00",
        },
        "keyword_escalation": {"rules": [
            {"keywords": ["投诉", "complaint"], "priority": "high", "tags": ["complaint"]},
            {"keywords": ["invoice", "发票"], "match": "word", "tags": ["invoice"]},
        ]},
        "faq": {
            "bot_name": BOT_NAME,
            "handoff_message": format!("{HANDOFF} 正在为您转接人工。"),
            "unsure_message": format!("{HANDOFF} 这个问题我不太确定。"),
            "entries": [
                entry(&["运费怎么算", "how much is shipping"], &["运费", "邮费", "shipping"],
                    "满99元包邮，否则运费10元。Free shipping over ¥99."),
                entry(&["多久能发货", "how long does delivery take"], &["发货", "delivery"],
                    "下单后48小时内发货。We ship within 48 hours."),
                entry(&["怎么退货", "how do I return an item"], &["退货", "return"],
                    "在“我的订单”里申请退货。Returns are under My orders."),
                entry(&["我要投诉", "I want to make a complaint"], &["投诉", "complaint"],
                    "非常抱歉，我们会尽快处理。We're sorry; we'll look into it."),
                entry(&["可以开发票吗", "can I get an invoice"], &["发票", "invoice"],
                    "发票在订单详情页下载。Invoices are on the order page."),
                entry(&["你好", "在吗", "谢谢", "好的", "hello", "hi", "thanks", "ok"],
                    &["你好", "在吗", "谢谢", "好的", "hello", "thanks"],
                    "您好，有什么可以帮您？Hi! How can I help?"),
            ],
        },
        "recommend": {"rules": [{
            "bought": ["TEA-001"],
            "suggest": {
                "product_id": "CUP-002", "title": "Celadon tea cup", "price_minor": 4900,
                "currency": "CNY", "image_url": "https://shop.example/cup.jpg",
                "url": "https://shop.example/products/CUP-002",
            },
        }]},
    })
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(bench());
}

async fn bench() {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let started = Instant::now();
    // Warm-up (discarded): first connections, SQLite pages, allocator.
    run(None, false, 10, 5).await;
    let a = run(None, false, SHOPPERS, MESSAGES).await;
    let b = run(Some(all_four()), false, SHOPPERS, MESSAGES).await;
    let c = run(Some(all_four()), true, SHOPPERS, MESSAGES).await;
    let n = SHOPPERS * MESSAGES;

    println!();
    println!("plugin_latency: what Kefu's built-in plugins add per shopper message");
    println!("command: {COMMAND}");
    println!("cores (available_parallelism): {cores}; server and clients share them");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!("load average (1/5/15 min) at the end: {}", load.join(" "));
    println!(
        "workload: {SHOPPERS} shoppers at once, each sending {MESSAGES} messages one after \
         another ({n} per run),"
    );
    println!("  pausing 25-75 ms (mean 50) after each Ack (run C: after each answer);");
    println!(
        "  from {} zh/en lines: 2 hit a keyword rule, 4 are FAQ questions, 8 are small talk",
        LINES.len()
    );
    println!("  (answered by a catch-all FAQ entry); identified shoppers, no back office,");
    println!("  business hours open 00:00-24:00 every day, no agents online");
    println!("runs: A no plugins | B four built-ins, same pacing as A |");
    println!("      C four built-ins, shopper also waits for the FAQ answer before writing again");
    println!();
    println!("1. send -> Ack (ms)");
    print_header("run");
    print_row("A no plugins", &a.acks.all);
    print_row("B 4 plugins, paced as A", &b.acks.all);
    print_row("C 4 plugins, waits for answer", &c.acks.all);
    println!("   without each shopper's first {OPENING} messages (the opening burst):");
    print_row("A no plugins", &a.acks.steady);
    print_row("B 4 plugins, paced as A", &b.acks.steady);
    print_row("C 4 plugins, waits for answer", &c.acks.steady);
    for (name, r) in [("A", &a), ("B", &b), ("C", &c)] {
        println!(
            "   run {name}: {:.2} s wall, {:.0} msg/s",
            r.wall.as_secs_f64(),
            n as f64 / r.wall.as_secs_f64()
        );
    }
    println!();
    for (section, name, r) in [("2a", "B", &b), ("2b", "C", &c)] {
        println!("{section}. plugin calls in run {name} (kefu_plugin_seconds, from /metrics)");
        print_plugins(&r.metrics, n);
        println!();
    }
    println!("3. send -> FAQ bot's answer reaching the shopper (ms), run C");
    print_header("");
    print_row("answer seen by shopper", &c.replies.all);
    print_row(
        &format!("  without first {OPENING} per shopper"),
        &c.replies.steady,
    );
    println!(
        "   answered {} of {n} messages; hand-offs {}; no answer within {} s: {}",
        c.replies.all.len() - c.handoffs,
        c.handoffs,
        REPLY_WAIT.as_secs(),
        c.missing
    );
    println!();
    println!(
        "total bench time {:.1} s (warm-up included)",
        started.elapsed().as_secs_f64()
    );
}

fn print_header(first: &str) {
    println!(
        "   {first:<32} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "n", "mean", "p50", "p90", "p99", "max"
    );
}

fn print_row(label: &str, samples: &[Duration]) {
    let mut s = samples.to_vec();
    s.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = s.iter().map(|d| ms(*d)).sum::<f64>() / s.len().max(1) as f64;
    println!(
        "   {label:<32} {:>6} {mean:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
        s.len(),
        ms(pct(&s, 50.0)),
        ms(pct(&s, 90.0)),
        ms(pct(&s, 99.0)),
        ms(s.last().copied().unwrap_or_default())
    );
}

/// Nearest-rank percentile of sorted samples.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Per plugin: calls by hook, time per call, time per shopper message, and the histogram.
fn print_plugins(m: &Metrics, messages: usize) {
    println!(
        "   {:<19} {:>7} {:>6} {:>7} {:>11} {:>11} {:>9}",
        "plugin", "msg", "open", "not ok", "mean/call", "per msg", "sum"
    );
    let mut total = 0.0;
    for p in PLUGINS {
        let plugin = [("plugin", p)];
        let calls = |hook: &str| m.sum("kefu_plugin_calls_total", &[("plugin", p), ("hook", hook)]);
        let all_calls = m.sum("kefu_plugin_calls_total", &plugin);
        let ok = m.sum(
            "kefu_plugin_calls_total",
            &[("plugin", p), ("outcome", "ok")],
        );
        let secs = m.sum("kefu_plugin_seconds_sum", &plugin);
        let count = m.sum("kefu_plugin_seconds_count", &plugin);
        total += secs;
        println!(
            "   {p:<19} {:>7} {:>6} {:>7} {:>8.1} µs {:>8.1} µs {:>6.1} ms",
            calls("message"),
            calls("conversation.opened"),
            all_calls - ok,
            secs / count.max(1.0) * 1e6,
            secs / messages as f64 * 1e6,
            secs * 1e3
        );
    }
    println!(
        "   {:<19} {:>7} {:>6} {:>7} {:>11} {:>8.1} µs {:>6.1} ms",
        "bus (sum)",
        "",
        "",
        "",
        "",
        total / messages as f64 * 1e6,
        total * 1e3
    );
    println!("   histogram, calls per bucket (upper bound in ms):");
    for p in PLUGINS {
        let mut buckets: Vec<(f64, f64)> = m
            .matching("kefu_plugin_seconds_bucket", &[("plugin", p)])
            .map(|(labels, v)| {
                let le = labels.get("le").map_or("+Inf", String::as_str);
                (le.parse::<f64>().unwrap_or(f64::INFINITY), v)
            })
            .collect();
        buckets.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut below = 0.0;
        let mut cells = Vec::new();
        for (le, cumulative) in buckets {
            let here = cumulative - below;
            below = cumulative;
            if here > 0.0 {
                let bound = if le.is_finite() {
                    format!("{}", le * 1e3)
                } else {
                    "inf".into()
                };
                cells.push(format!("<={bound}: {here}"));
            }
        }
        println!("     {p:<19} {}", cells.join(" | "));
    }
    println!(
        "   (per msg = the plugin's total time / shopper messages, so it includes its calls for"
    );
    println!(
        "   the {SHOPPERS} conversation openings; time applying actions, e.g. storing the answer,"
    );
    println!("   is not in kefu_plugin_seconds but is in the answer latency below)");
}

/// Latencies of every message, and of those after each shopper's opening burst.
#[derive(Default)]
struct Samples {
    all: Vec<Duration>,
    steady: Vec<Duration>,
}

impl Samples {
    /// Records the latency of a shopper's `nth` message (from 0).
    fn push(&mut self, nth: usize, latency: Duration) {
        self.all.push(latency);
        if nth >= OPENING {
            self.steady.push(latency);
        }
    }

    fn extend(&mut self, other: Samples) {
        self.all.extend(other.all);
        self.steady.extend(other.steady);
    }
}

/// One run's measurements.
struct RunResult {
    acks: Samples,
    /// Send → the FAQ bot's message (answer or hand-off) at the shopper.
    replies: Samples,
    handoffs: usize,
    missing: usize,
    wall: Duration,
    /// `/metrics` after the run minus before it.
    metrics: Metrics,
}

/// Starts a fresh server, lets `shoppers` converse at once, and measures.
async fn run(
    plugins: Option<Value>,
    wait_for_answers: bool,
    shoppers: usize,
    messages: usize,
) -> RunResult {
    let expect_plugins = plugins.is_some();
    let srv = Server::start(plugins).await;
    let before = srv.metrics().await;
    let gate = Arc::new(Barrier::new(shoppers + 1));
    let tasks: Vec<_> = (0..shoppers)
        .map(|i| {
            let (addr, gate) = (srv.addr, gate.clone());
            tokio::spawn(async move {
                let mut shopper = Shopper::connect(addr, &format!("bench-customer-{i}")).await;
                gate.wait().await;
                let result = shopper.converse(i, messages, wait_for_answers).await;
                (shopper, result)
            })
        })
        .collect();
    gate.wait().await;
    let started = Instant::now();
    let mut sockets = Vec::new();
    let mut total = RunResult {
        acks: Samples::default(),
        replies: Samples::default(),
        handoffs: 0,
        missing: 0,
        wall: Duration::ZERO,
        metrics: Metrics::default(),
    };
    for t in tasks {
        let (shopper, r) = t.await.expect("shopper task");
        sockets.push(shopper);
        total.acks.extend(r.acks);
        total.replies.extend(r.replies);
        total.handoffs += r.handoffs;
        total.missing += r.missing;
    }
    total.wall = started.elapsed();
    if expect_plugins {
        srv.wait_for_bus(&before, shoppers * messages).await;
    }
    total.metrics = srv.metrics().await.minus(&before);
    for mut s in sockets {
        let _ = s.ws.close(None).await;
    }
    srv.shutdown().await;
    total
}
