//! The `kefu` process under test: a bench config on a temp SQLite database, an admin made
//! with `kefu agent add`, agents made over the admin REST API, and /proc sampling.

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::Context as _;
use futures_util::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};

use crate::plan::AgentLogin;

pub const SITE: &str = "bench";
const ADMIN: &str = "bench-admin";
const PASSWORD: &str = "bench-password-0123";

pub struct Kefu {
    child: Child,
    pub addr: String,
    pub proc: Proc,
    dir: tempfile::TempDir,
}

/// The bench site, no plugins, and limits that let one socket send as fast as the run asks.
fn config(data_dir: &Path, capacity: usize) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:0"
data_dir = "{data}"
shutdown_grace_secs = 2

[log]
level = "warn"

[routing]
default_capacity = {capacity}
idle_close_secs = 0
agent_grace_secs = 600

[limits]
messages_per_second = 5000
messages_burst = 5000

[[sites]]
id = "{SITE}"
name = "Bench shop"
allowed_origins = ["{origin}"]
identity_secret = "bench-identity-secret-0123456789abcdef"
default_group = "pre-sales"
"#,
        data = data_dir.display(),
        origin = crate::worker::ORIGIN,
    )
}

impl Kefu {
    pub fn start(bin: &Path, capacity: usize) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let conf = dir.path().join("kefu.toml");
        std::fs::write(&conf, config(&dir.path().join("data"), capacity))?;
        let kefu = |args: &[&str]| {
            let mut cmd = Command::new(bin);
            // kefu reads KEFU_* variables as config: start from a clean environment.
            cmd.env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .arg(format!("-config={}", conf.display()))
                .args(args);
            cmd
        };
        let mut add = kefu(&["agent", "add", "--username", ADMIN, "--role", "admin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        writeln!(add.stdin.take().context("stdin")?, "{PASSWORD}")?;
        anyhow::ensure!(add.wait()?.success(), "kefu agent add failed");

        let log = std::fs::File::create(dir.path().join("kefu.log"))?;
        let mut child = kefu(&[]).stdout(Stdio::piped()).stderr(log).spawn()?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let first = lines.next().context("kefu exited before listening")??;
        let addr = first
            .strip_prefix("kefu listening on http://")
            .with_context(|| format!("unexpected first line: {first}"))?
            .to_string();
        std::thread::spawn(move || lines.for_each(drop));
        let proc = Proc(child.id());
        Ok(Self {
            child,
            addr,
            proc,
            dir,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.addr)
    }

    async fn login(&self, http: &reqwest::Client, user: &str) -> anyhow::Result<Value> {
        let res = http
            .post(self.url("/auth/login"))
            .json(&json!({"username": user, "password": PASSWORD}))
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("login of {user}"))?;
        Ok(res.json().await?)
    }

    /// Creates `n` agents in the pre-sales group and signs each in.
    pub async fn agents(&self, n: usize) -> anyhow::Result<Vec<AgentLogin>> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()?;
        let admin = self.login(&http, ADMIN).await?["token"]
            .as_str()
            .context("admin token")?
            .to_string();
        let (create, login) = (self.url("/agents"), self.url("/auth/login"));
        // Password hashing is the slow part: a few at a time keeps both cores busy.
        stream::iter(0..n)
            .map(|i| {
                let (http, admin, create, login) = (&http, &admin, &create, &login);
                async move {
                    let user = format!("agent-{i:04}");
                    let created: Value = http
                        .post(create)
                        .bearer_auth(admin)
                        .json(&json!({"username": user, "password": PASSWORD, "role": "agent", "groups": ["pre-sales"]}))
                        .send()
                        .await?
                        .error_for_status()?
                        .json()
                        .await?;
                    let session: Value = http
                        .post(login)
                        .json(&json!({"username": user, "password": PASSWORD}))
                        .send()
                        .await?
                        .error_for_status()?
                        .json()
                        .await?;
                    anyhow::Ok(AgentLogin {
                        id: created["id"].as_str().context("agent id")?.into(),
                        token: session["token"].as_str().context("agent token")?.into(),
                    })
                }
            })
            .buffer_unordered(4)
            .try_collect()
            .await
    }

    /// The last lines kefu logged, for an error report.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("kefu.log")).unwrap_or_default();
        let lines: Vec<_> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Kefu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's resource use, read from /proc.
#[derive(Clone, Copy)]
pub struct Proc(pub u32);

impl Proc {
    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{file}", self.0)).unwrap_or_default()
    }

    /// Resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        self.read("status")
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// User + system CPU time so far, microseconds.
    pub fn cpu_us(&self) -> u64 {
        let stat = self.read("stat");
        // Fields after the parenthesised command name; utime and stime are 14th and 15th.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
        ticks * 1_000_000 / clock_ticks()
    }

    /// Open file descriptors.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.0)).map_or(0, |d| d.count())
    }
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |t| t as u64)
}

/// Waits for memory to settle (allocator returning pages, timers firing).
pub async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}
