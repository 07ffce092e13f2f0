//! The worker processes, driven over their stdin/stdout, and their reports merged.

use std::{collections::HashMap, net::Ipv4Addr, process::Stdio};

use anyhow::Context as _;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};

use super::server::Proc;
use crate::{
    plan::{Cmd, Heard, Reply, Report, Status},
    track::{self, Hist, Tally},
};

/// Sockets one worker holds at most: well inside a process's 20,000 open files.
pub const SOCKETS_PER_WORKER: usize = 5_000;
/// Source addresses per worker: 127.<worker+1>.0.1 ..= 127.<worker+1>.0.16.
const SOURCES_PER_WORKER: u8 = 16;

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

pub struct Fleet {
    workers: Vec<Worker>,
}

pub fn sources(worker: usize) -> Vec<Ipv4Addr> {
    (1..=SOURCES_PER_WORKER)
        .map(|i| Ipv4Addr::new(127, worker as u8 + 1, 0, i))
        .collect()
}

impl Fleet {
    pub fn spawn(n: usize) -> anyhow::Result<Self> {
        let workers = (0..n)
            .map(|_| {
                let mut child = Command::new(crate::this_exe())
                    .arg("worker")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .kill_on_drop(true)
                    .spawn()?;
                Ok(Worker {
                    stdin: child.stdin.take().context("stdin")?,
                    stdout: BufReader::new(child.stdout.take().context("stdout")?).lines(),
                    child,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { workers })
    }

    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn procs(&self) -> Vec<Proc> {
        self.workers
            .iter()
            .filter_map(|w| w.child.id().map(Proc))
            .collect()
    }

    /// Sends each worker its command, then collects every answer (they run concurrently).
    pub async fn each(&mut self, cmd: impl Fn(usize) -> Cmd) -> anyhow::Result<Vec<Reply>> {
        for (i, w) in self.workers.iter_mut().enumerate() {
            let mut line = serde_json::to_string(&cmd(i))?;
            line.push('\n');
            w.stdin.write_all(line.as_bytes()).await?;
            w.stdin.flush().await?;
        }
        let mut replies = Vec::with_capacity(self.workers.len());
        for (i, w) in self.workers.iter_mut().enumerate() {
            let line = w
                .stdout
                .next_line()
                .await?
                .with_context(|| format!("worker {i} exited"))?;
            match serde_json::from_str(&line)? {
                Reply::Failed { error } => anyhow::bail!("worker {i}: {error}"),
                r => replies.push(r),
            }
        }
        Ok(replies)
    }

    pub async fn done(&mut self, cmd: impl Fn(usize) -> Cmd) -> anyhow::Result<()> {
        self.each(cmd).await.map(drop)
    }

    /// Counters summed over the workers.
    pub async fn status(&mut self) -> anyhow::Result<Status> {
        let mut sum = Status::default();
        for r in self.each(|_| Cmd::Status).await? {
            let Reply::Status(s) = r else {
                anyhow::bail!("expected a status")
            };
            sum.connected += s.connected;
            sum.assigned += s.assigned;
            sum.sent += s.sent;
            sum.acked += s.acked;
            sum.delivered += s.delivered;
            sum.reconnects += s.reconnects;
            sum.dropped += s.dropped;
            sum.errors += s.errors;
            sum.longest_gap_ms = sum.longest_gap_ms.max(s.longest_gap_ms);
        }
        Ok(sum)
    }

    /// Every worker's report, merged.
    pub async fn report(&mut self, reset: bool) -> anyhow::Result<Merged> {
        let mut m = Merged::default();
        for r in self.each(|_| Cmd::Report { reset }).await? {
            let Reply::Report(r) = r else {
                anyhow::bail!("expected a report")
            };
            m.add(*r)?;
        }
        Ok(m)
    }

    pub async fn quit(mut self) {
        for w in &mut self.workers {
            let _ = w.stdin.write_all(b"{\"cmd\":\"quit\"}\n").await;
            let _ = w.child.wait().await;
        }
    }
}

/// Reports of all workers as one.
#[derive(Default)]
pub struct Merged {
    pub hists: HashMap<String, Hist>,
    pub tallies: HashMap<String, Tally>,
    pub opened: HashMap<String, u64>,
    pub queued_heard: HashMap<String, Heard>,
    pub errors: u64,
    pub dropped: u64,
    pub error_samples: Vec<String>,
}

impl Merged {
    fn add(&mut self, r: Report) -> anyhow::Result<()> {
        for (name, h) in r.hists {
            let h = track::decode(&h)?;
            match self.hists.get_mut(&name) {
                Some(mine) => mine.add(&h)?,
                None => {
                    self.hists.insert(name, h);
                }
            }
        }
        for (k, t) in r.tallies {
            self.tallies.entry(k).or_default().merge(t);
        }
        self.opened.extend(r.opened);
        for (conv, heard) in r.queued_heard {
            self.queued_heard.entry(conv).or_default().add(heard);
        }
        self.errors += r.status.errors;
        self.dropped += r.status.dropped;
        self.error_samples.extend(r.error_samples);
        Ok(())
    }

    pub fn hist(&self, name: &str) -> Hist {
        self.hists.get(name).cloned().unwrap_or_else(track::hist)
    }
}
