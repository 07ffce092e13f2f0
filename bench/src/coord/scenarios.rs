//! The scenarios of docs/BENCHMARKS.md, in the order they run on one set of connections.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use anyhow::Context as _;

use super::{
    Scale, disk,
    fleet::{self, Fleet, Merged},
    report::{Ceiling, Chaos, Fanout, Idle, Lat, Point, Results, Stall, Storm},
    server::{self, Kefu, Proc},
};
use crate::{
    plan::{AgentLogin, Cmd},
    track::{self, Verdict},
};

/// How long in-flight messages may take to be acked and delivered once a phase ends: a rate
/// beyond what the server sustains leaves a backlog it works off here (and the latency of
/// every message in it counts, from its intended send time).
const DRAIN: Duration = Duration::from_secs(240);

pub async fn all(kefu: &Kefu, scale: &Scale, quick: bool) -> anyhow::Result<Results> {
    let workers = (scale.shoppers + scale.agents)
        .div_ceil(fleet::SOCKETS_PER_WORKER)
        .max(2);
    let mut fleet = Fleet::spawn(workers)?;
    let mut r = Results::new(quick, workers);
    let (small, large) = scale.disk_syncs;
    let data = kefu.data_dir();
    r.disk = Some(tokio::task::spawn_blocking(move || disk::measure(&data, small, large)).await??);
    eprintln!("disk: {:?}", r.disk);

    let agents = kefu.agents(scale.agents).await?;
    eprintln!("{} agents signed in", agents.len());
    let shares = split(scale.shoppers, workers);
    fleet
        .done(|w| Cmd::Setup {
            server: kefu.addr.clone(),
            site: server::SITE.into(),
            sources: fleet::sources(w),
            visitors: shares[w],
        })
        .await?;
    eprintln!("{} visitor sessions started", scale.shoppers);

    r.idle = Some(idle(kefu, &mut fleet, scale, &shares, agents).await?);
    eprintln!("idle: {:?}", r.idle);
    open_chats(&mut fleet, scale).await?;
    for &rate in scale.rates.iter().filter(|_| scale.runs("rates")) {
        let p = load(kefu, &mut fleet, rate, scale.secs, scale.reply_every).await?;
        eprintln!("load {rate}/s: {p:?}");
        r.rates.push(p);
    }
    if scale.runs("stall") {
        r.stall = Some(stall(kefu, &mut fleet, scale).await?);
    }
    if scale.runs("fanout") {
        r.fanout = Some(fanout(&mut fleet, scale).await?);
    }
    if scale.runs("storm") {
        r.storm = Some(storm(kefu, &mut fleet, scale).await?);
    }
    for &rate in scale.ceiling.iter().filter(|_| scale.runs("ceiling")) {
        let p = load(kefu, &mut fleet, rate, scale.ceiling_secs, 0).await?;
        let step = Ceiling::of(p);
        eprintln!("ceiling step: {step:?}");
        let sustained = step.sustained;
        r.ceiling.push(step);
        if !sustained {
            break;
        }
    }
    if scale.runs("echo") {
        r.echo = echo(&mut fleet, scale).await?;
    }
    if kefu.nodes() > 1 && scale.runs("chaos") {
        r.chaos = Some(chaos(kefu, &mut fleet, scale).await?);
        eprintln!("chaos: {:?}", r.chaos);
    }

    let all = fleet.report(false).await?;
    r.verdict = Verdict::of(&all.tallies);
    r.errors = all.errors;
    r.dropped = all.dropped;
    r.error_samples = all.error_samples.into_iter().take(10).collect();
    fleet.quit().await;
    Ok(r)
}

/// `n` split as evenly as possible over `parts`.
fn split(n: usize, parts: usize) -> Vec<usize> {
    (0..parts)
        .map(|i| n / parts + usize::from(i < n % parts))
        .collect()
}

/// Scenario 1: every agent and shopper connected and idle; memory per shopper.
async fn idle(
    kefu: &Kefu,
    fleet: &mut Fleet,
    scale: &Scale,
    shares: &[usize],
    agents: Vec<AgentLogin>,
) -> anyhow::Result<Idle> {
    let workers = fleet.len();
    let mut per_worker = vec![Vec::new(); workers];
    for (i, a) in agents.into_iter().enumerate() {
        per_worker[i % workers].push(a);
    }
    // A few shoppers first, so allocator pools and lazy state are warm for the baseline.
    let warm: Vec<usize> = shares.iter().map(|s| (s / 20).max(1)).collect();
    fleet
        .done(|w| Cmd::Connect {
            shoppers: warm[w],
            agents: per_worker[w].clone(),
        })
        .await?;
    server::settle().await;
    let (rss_before, fds_before) = (kefu.proc.rss_kib(), kefu.proc.fds());
    fleet
        .done(|w| Cmd::Connect {
            shoppers: shares[w] - warm[w],
            agents: vec![],
        })
        .await?;
    server::settle().await;
    let (rss_after, fds_after) = (kefu.proc.rss_kib(), kefu.proc.fds());
    let measured = (scale.shoppers - warm.iter().sum::<usize>()) as f64;
    let status = fleet.status().await?;
    Ok(Idle {
        shoppers: status.connected - scale.agents,
        agents: scale.agents,
        rss_before_kib: rss_before,
        rss_after_kib: rss_after,
        per_shopper_kib: rss_after.saturating_sub(rss_before) as f64 / measured,
        fds_per_shopper: (fds_after - fds_before) as f64 / measured,
        server_fds: fds_after,
    })
}

/// Shoppers open the conversations the message scenarios use; agents accept them.
async fn open_chats(fleet: &mut Fleet, scale: &Scale) -> anyhow::Result<()> {
    let w = fleet.len();
    let shares = split(scale.chatting, w);
    let rate = 50.0 / w as f64;
    fleet
        .done(|i| Cmd::Open {
            shoppers: shares[i],
            rate,
        })
        .await?;
    wait(fleet, "every chat assigned", |s| {
        s.assigned >= scale.chatting
    })
    .await?;
    drain(fleet).await?;
    fleet.report(true).await?;
    Ok(())
}

/// Polls the workers until `done` holds.
async fn wait(
    fleet: &mut Fleet,
    what: &str,
    done: impl Fn(&crate::plan::Status) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + DRAIN;
    loop {
        let s = fleet.status().await?;
        if done(&s) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let samples = fleet.report(false).await?.error_samples;
            anyhow::bail!("timed out waiting for {what}: {s:?}; first errors: {samples:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until everything sent is acked and everything acked delivered.
async fn drain(fleet: &mut Fleet) -> anyhow::Result<()> {
    wait(fleet, "acks and deliveries", |s| {
        s.acked == s.sent && s.delivered == s.acked
    })
    .await
}

/// Scenario 2 (and each step of 6): open-loop shopper → agent messages at `rate`.
async fn load(
    kefu: &Kefu,
    fleet: &mut Fleet,
    rate: f64,
    secs: f64,
    reply_every: u32,
) -> anyhow::Result<Point> {
    let w = fleet.len() as f64;
    let (gens, cpu0) = (fleet.procs(), kefu.proc.cpu_us());
    let gen_cpu0: u64 = gens.iter().map(Proc::cpu_us).sum();
    let sent0 = fleet.status().await?.sent;
    let started = Instant::now();
    fleet
        .done(|_| Cmd::Load {
            rate: rate / w,
            secs,
            reply_every,
        })
        .await?;
    let paced = started.elapsed();
    drain(fleet).await?;
    let drained = started.elapsed();
    let cpu = kefu.proc.cpu_us() - cpu0;
    let gen_cpu = gens.iter().map(Proc::cpu_us).sum::<u64>() - gen_cpu0;
    let messages = fleet.status().await?.sent - sent0;
    let m = fleet.report(true).await?;
    Ok(Point {
        target: rate,
        messages,
        secs: paced.as_secs_f64(),
        drain_secs: (drained - paced).as_secs_f64(),
        ack: Lat::of(&m.hist("ack")),
        to_agent: Lat::of(&m.hist("to_agent")),
        to_shopper: Lat::of(&m.hist("to_shopper")),
        server_cpu_us_per_msg: cpu as f64 / messages.max(1) as f64,
        server_cpu_pct: cpu as f64 / drained.as_micros() as f64 * 100.0,
        generator_cpu_pct: gen_cpu as f64 / drained.as_micros() as f64 * 100.0,
    })
}

/// Scenario 5: one agent stops reading mid-load; the others' latency and server memory.
async fn stall(kefu: &Kefu, fleet: &mut Fleet, scale: &Scale) -> anyhow::Result<Stall> {
    let baseline = load(kefu, fleet, scale.stall_rate, scale.secs, 0).await?;
    let rss_before = kefu.proc.rss_kib();
    fleet
        .done(|w| Cmd::Stall {
            agent: 0,
            stalled: w == 0,
        })
        .await?;
    // Sample memory while the stalled agent's frames pile up.
    let (proc, rss_max) = (
        kefu.proc.clone(),
        std::sync::Arc::new(AtomicU64::new(rss_before)),
    );
    let sampler = tokio::spawn({
        let rss_max = rss_max.clone();
        async move {
            loop {
                rss_max.fetch_max(proc.rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    });
    let w = fleet.len() as f64;
    fleet
        .done(|_| Cmd::Load {
            rate: scale.stall_rate / w,
            secs: scale.secs,
            reply_every: 0,
        })
        .await?;
    sampler.abort();
    rss_max.fetch_max(kefu.proc.rss_kib(), Ordering::Relaxed);
    let stalled = fleet.report(true).await?;
    fleet
        .done(|_| Cmd::Stall {
            agent: 0,
            stalled: false,
        })
        .await?;
    drain(fleet).await?;
    let after = fleet.report(true).await?;
    let others = Lat::of(&stalled.hist("to_agent"));
    Ok(Stall {
        rate: scale.stall_rate,
        baseline_p99_ms: baseline.to_agent.p99_ms,
        stalled_p99_ms: others.p99_ms,
        change_pct: (others.p99_ms / baseline.to_agent.p99_ms - 1.0) * 100.0,
        stalled_agent_caught_up: after.hist("to_stalled_agent").len()
            + stalled.hist("to_stalled_agent").len(),
        rss_before_kib: rss_before,
        rss_max_kib: rss_max.load(Ordering::Relaxed),
        rss_after_kib: kefu.proc.rss_kib(),
    })
}

/// Scenario 3: new conversations queued in a group every agent is in; time until the last
/// agent has heard of each.
async fn fanout(fleet: &mut Fleet, scale: &Scale) -> anyhow::Result<Fanout> {
    fleet.report(true).await?;
    let w = fleet.len();
    let shares = split(scale.fanout_opens, w);
    fleet
        .done(|i| Cmd::Open {
            shoppers: shares[i],
            rate: 10.0 / w as f64,
        })
        .await?;
    drain(fleet).await?;
    let m = fleet.report(true).await?;
    let (mut from_send, mut from_event) = (track::hist(), track::hist());
    let mut incomplete = 0;
    for (conv, intended) in &m.opened {
        match m.queued_heard.get(conv) {
            Some(h) if h.agents as usize == scale.agents => {
                track::record(&mut from_send, *intended, h.last_ns);
                from_event.saturating_record(h.since_event_us.max(1));
            }
            _ => incomplete += 1,
        }
    }
    Ok(Fanout {
        conversations: m.opened.len(),
        agents: scale.agents,
        incomplete,
        last_agent: Lat::of(&from_event),
        from_send: Lat::of(&from_send),
    })
}

/// Scenario 4: a share of the shoppers reconnects every second; memory and descriptors.
async fn storm(kefu: &Kefu, fleet: &mut Fleet, scale: &Scale) -> anyhow::Result<Storm> {
    server::settle().await;
    let (rss_before, fds_before) = (kefu.proc.rss_kib(), kefu.proc.fds());
    let before = fleet.status().await?;
    fleet
        .done(|_| Cmd::Storm {
            fraction: 0.1,
            secs: scale.storm_secs,
        })
        .await?;
    wait(fleet, "every socket back", |s| {
        s.connected == before.connected
    })
    .await?;
    drain(fleet).await?;
    server::settle().await;
    let (rss_after, fds_after) = (kefu.proc.rss_kib(), kefu.proc.fds());
    let after = fleet.status().await?;
    Ok(Storm {
        secs: scale.storm_secs,
        reconnects: after.reconnects - before.reconnects,
        rss_before_kib: rss_before,
        rss_after_kib: rss_after,
        change_pct: (rss_after as f64 / rss_before as f64 - 1.0) * 100.0,
        fds_before,
        fds_after,
    })
}

/// The floor: the same open-loop client against a raw tokio TCP echo server.
async fn echo(fleet: &mut Fleet, scale: &Scale) -> anyhow::Result<Vec<Point>> {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(crate::this_exe())
        .arg("echo-server")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().context("stdout")?).lines();
    let first = lines.next_line().await?.context("echo server exited")?;
    let addr = first
        .strip_prefix("echo listening on ")
        .context("echo server address")?
        .to_string();
    let proc = Proc(child.id().context("echo pid")?);
    let w = fleet.len() as f64;
    let conns = (scale.chatting / fleet.len()).max(1);
    let mut points = vec![];
    for &rate in &scale.rates {
        let cpu0 = proc.cpu_us();
        let started = Instant::now();
        fleet
            .done(|_| Cmd::Echo {
                addr: addr.clone(),
                connections: conns,
                rate: rate / w,
                secs: scale.secs.min(10.0),
            })
            .await?;
        let secs = started.elapsed();
        let m: Merged = fleet.report(true).await?;
        let n = m.hist("echo").len();
        points.push(Point {
            target: rate,
            messages: n,
            secs: secs.as_secs_f64(),
            ack: Lat::of(&m.hist("echo")),
            server_cpu_us_per_msg: (proc.cpu_us() - cpu0) as f64 / n.max(1) as f64,
            ..Point::default()
        });
    }
    Ok(points)
}

/// Scenario 7 (cluster runs): open-loop load while one node after the other is killed
/// (SIGKILL) and started again; its sockets move to the other nodes and resend what was not
/// acked. Counts what was lost, duplicated or reordered and the longest a socket was without
/// a connection.
async fn chaos(kefu: &Kefu, fleet: &mut Fleet, scale: &Scale) -> anyhow::Result<Chaos> {
    let (rate, secs, every) = scale.chaos;
    fleet.report(true).await?;
    let before = fleet.status().await?;
    let w = fleet.len() as f64;
    let killer = async {
        let started = Instant::now();
        let mut kills = 0;
        while started.elapsed().as_secs_f64() + every <= secs {
            tokio::time::sleep(Duration::from_secs_f64(every)).await;
            let node = kills % kefu.nodes();
            eprintln!("chaos: killing node {node}");
            kefu.crash_and_restart(node).await?;
            kills += 1;
        }
        anyhow::Ok(kills)
    };
    let load = fleet.done(|_| Cmd::Load {
        rate: rate / w,
        secs,
        reply_every: 0,
    });
    let (loaded, kills) = tokio::join!(load, killer);
    loaded?;
    let kills = kills?;
    drain(fleet).await?;
    let after = fleet.status().await?;
    let m = fleet.report(true).await?;
    Ok(Chaos {
        rate,
        secs,
        kills,
        messages: after.sent - before.sent,
        verdict: Verdict::of(&m.tallies),
        reconnects: after.reconnects - before.reconnects,
        longest_gap_ms: after.longest_gap_ms,
        ack: Lat::of(&m.hist("ack")),
    })
}
