//! kefu as an operator runs it: the built `kefu` binary in its own process, with a config the
//! kit generates (listen address, data directory, grace period, plus whatever tables the
//! caller adds), a clean environment (plus `KEFU_STORE__URL` naming a fresh PostgreSQL
//! database when `TEST_POSTGRES_URL` is set), the first admin made with `kefu agent add`, and ready
//! once `/readyz` answers 200. The process is killed when its handle drops.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    ops::Deref,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{Endpoint, Error, ORIGIN, SECRET, SITE, TestDatabase};

/// How long kefu may take from listening to answering `/readyz` (migrations run first).
const READY_WITHIN: Duration = Duration::from_secs(30);

/// The workspace's build output folder (`target/debug`), found from the running executable
/// (a test binary in `target/debug/deps`, or a tool in `target/debug`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().unwrap().to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// A workspace binary, built first if `cargo test` was run for another package alone.
pub fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    let path = target_dir().join(bin);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", package, "--bin", bin])
            .status()
            .unwrap();
        assert!(status.success(), "building {bin}");
    }
    path
}

/// The `kefu` binary to test: `KEFU_TEST_BIN` (to run the same tests against another build,
/// e.g. release), else the workspace's own, built if missing.
pub fn kefu_bin() -> PathBuf {
    std::env::var_os("KEFU_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_bin("kefu-server", "kefu"))
}

/// How to start a kefu process; [`KefuCommand::start`] starts it. Cheap to clone: a stopped
/// server's command starts it again on the same data.
#[derive(Debug, Clone)]
pub struct KefuCommand {
    bin: Option<PathBuf>,
    /// Holds the config file, the log and (unless [`KefuCommand::data_dir`] says otherwise)
    /// the data; shared by every start of this command and removed with the last handle.
    scratch: Option<Arc<tempfile::TempDir>>,
    /// The PostgreSQL database (when `TEST_POSTGRES_URL` is set), made at the first start
    /// and shared like `scratch`: restarts find their data, the last handle drops it.
    database: Option<Arc<TestDatabase>>,
    data_dir: Option<PathBuf>,
    listen: String,
    grace_secs: u64,
    config: Vec<String>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    log_to_file: bool,
    admin: Option<(String, String)>,
}

impl Default for KefuCommand {
    fn default() -> Self {
        Self::new()
    }
}

impl KefuCommand {
    /// kefu ([`kefu_bin`]) on 127.0.0.1 (any free port), its data in a temp folder, a one
    /// second grace period, `RUST_LOG=warn`, no site and no account.
    pub fn new() -> Self {
        Self {
            bin: None,
            scratch: None,
            database: None,
            data_dir: None,
            listen: "127.0.0.1:0".into(),
            grace_secs: 1,
            config: Vec::new(),
            env: vec![("RUST_LOG".into(), "warn".into())],
            args: Vec::new(),
            log_to_file: false,
            admin: None,
        }
    }

    /// Runs this binary instead of [`kefu_bin`].
    pub fn bin(mut self, path: impl Into<PathBuf>) -> Self {
        self.bin = Some(path.into());
        self
    }

    /// Keeps the data here (the caller's folder outlives the process) instead of the temp one.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Listens here (`127.0.0.1:0` for any free port, the default).
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = addr.into();
        self
    }

    /// `server.shutdown_grace_secs`.
    pub fn shutdown_grace_secs(mut self, secs: u64) -> Self {
        self.grace_secs = secs;
        self
    }

    /// Appends TOML to the generated config, after its `[server]` table (so it must not
    /// repeat `[server]`; set those keys with this command's methods).
    pub fn config(mut self, toml: impl Into<String>) -> Self {
        self.config.push(toml.into());
        self
    }

    /// The in-process test settings' site ([`SITE`] on [`ORIGIN`], signed with [`SECRET`])
    /// and message limits, so tests read the same against either kind of server.
    pub fn test_site(self) -> Self {
        let lavish = [
            "VISITOR__FRAMES",
            "VISITOR__CONVERSATIONS",
            "IP__SESSIONS",
            "IP__CONVERSATIONS",
            "IP__LOGINS",
        ];
        let me = lavish.iter().fold(self, |me, rate| {
            me.env(format!("KEFU_LIMITS__{rate}__PER_PERIOD"), "10000")
                .env(format!("KEFU_LIMITS__{rate}__BURST"), "10000")
        });
        me.config(format!(
            "[[sites]]\nid = {}\nname = \"Test shop\"\nallowed_origins = [{}]\n\
             identity_secret = {}\ndefault_group = \"pre-sales\"\n",
            toml_str(SITE),
            toml_str(ORIGIN),
            toml_str(SECRET)
        ))
        .env("KEFU_LIMITS__MESSAGES_PER_SECOND", "1000")
        .env("KEFU_LIMITS__MESSAGES_BURST", "1000")
    }

    /// Keeps the data in this PostgreSQL database instead of the one `TEST_POSTGRES_URL`
    /// would give (or SQLite); dropped with the last handle, as that one would be.
    pub fn database(mut self, database: TestDatabase) -> Self {
        self.database = Some(Arc::new(database));
        self
    }

    /// Sets an environment variable (kefu reads `KEFU_*` as config overrides; nothing of the
    /// test's own environment but `PATH` is passed on).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Adds a command-line argument (e.g. `--demo`).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sends kefu's stderr to `kefu.log` in the scratch folder (see
    /// [`KefuProcess::log_tail`]) instead of the test's stderr.
    pub fn log_to_file(mut self) -> Self {
        self.log_to_file = true;
        self
    }

    /// Makes this admin with `kefu agent add` before the first start.
    pub fn admin(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.admin = Some((username.into(), password.into()));
        self
    }

    /// Where kefu keeps its data (known once started, or when [`KefuCommand::data_dir`] set
    /// it).
    pub fn data_path(&self) -> Option<PathBuf> {
        self.data_dir
            .clone()
            .or_else(|| self.scratch.as_ref().map(|s| s.path().join("data")))
    }

    /// Starts kefu and waits until it is ready.
    pub fn start(mut self) -> Result<KefuProcess, Error> {
        let scratch = match &self.scratch {
            Some(s) => s.clone(),
            None => Arc::new(tempfile::tempdir().map_err(io("creating a scratch folder"))?),
        };
        self.scratch = Some(scratch.clone());
        if self.database.is_none() {
            self.database = TestDatabase::create().map(Arc::new);
        }
        let data_dir = self
            .data_path()
            .unwrap_or_else(|| scratch.path().join("data"));
        let conf = scratch.path().join("kefu.toml");
        std::fs::write(&conf, self.config_text(&data_dir))
            .map_err(io(format!("writing {}", conf.display())))?;
        let bin = self.bin.clone().unwrap_or_else(kefu_bin);
        let kefu = |args: &[&str]| {
            let mut cmd = Command::new(&bin);
            // kefu reads KEFU_* variables as config: start from a clean environment.
            cmd.env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .envs(
                    self.database
                        .iter()
                        .map(|db| ("KEFU_STORE__URL", db.url.as_str())),
                )
                .arg(format!("-config={}", conf.display()))
                .args(args);
            cmd
        };
        let spawn_error = |e| Error::Io {
            what: format!("starting {}", bin.display()),
            source: e,
        };

        if let Some((username, password)) = self.admin.take() {
            let mut add = kefu(&[
                "agent",
                "add",
                "--username",
                username.as_str(),
                "--role",
                "admin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(spawn_error)?;
            let mut stdin = add.stdin.take().expect("stdin is piped");
            writeln!(stdin, "{password}").map_err(io("giving `kefu agent add` the password"))?;
            drop(stdin);
            let status = add.wait().map_err(io("waiting for `kefu agent add`"))?;
            if !status.success() {
                return Err(Error::AgentAdd { username, status });
            }
        }

        let log = scratch.path().join("kefu.log");
        let stderr = if self.log_to_file {
            Stdio::from(
                std::fs::File::create(&log).map_err(io(format!("creating {}", log.display())))?,
            )
        } else {
            Stdio::inherit()
        };
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut child = kefu(&args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(spawn_error)?;
        let mut process = KefuProcess {
            endpoint: Endpoint::new(SocketAddr::from(([127, 0, 0, 1], 0)), http_client()),
            log: self.log_to_file.then_some(log),
            child: None,
            data_dir,
            command: self,
        };
        let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        process.child = Some(child);
        let first = match lines.next() {
            Some(Ok(line)) => line,
            _ => {
                return Err(Error::NoListenLine {
                    log: process.log_suffix(),
                });
            }
        };
        let addr: SocketAddr = first
            .strip_prefix("kefu listening on http://")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| Error::UnexpectedLine(first.clone()))?;
        // Keep draining stdout so the process never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        process.endpoint.addr = addr;
        // Restarts come back on the same address, as a server after a crash would.
        process.command.listen = addr.to_string();
        let deadline = Instant::now() + READY_WITHIN;
        while !ready(addr) {
            if Instant::now() > deadline {
                return Err(Error::NotReady {
                    addr: addr.to_string(),
                    secs: READY_WITHIN.as_secs(),
                    log: process.log_suffix(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(process)
    }

    fn config_text(&self, data_dir: &Path) -> String {
        let mut text = format!(
            "# Generated by kefu-testkit for one test run.\n[server]\nlisten = {}\n\
             data_dir = {}\nshutdown_grace_secs = {}\n",
            toml_str(&self.listen),
            toml_str(&data_dir.display().to_string()),
            self.grace_secs
        );
        for part in &self.config {
            text.push('\n');
            text.push_str(part);
        }
        text
    }
}

/// A running kefu process; killed on drop. Dereferences to its [`Endpoint`].
pub struct KefuProcess {
    endpoint: Endpoint,
    /// `None` only while starting.
    child: Option<Child>,
    data_dir: PathBuf,
    log: Option<PathBuf>,
    command: KefuCommand,
}

impl Deref for KefuProcess {
    type Target = Endpoint;

    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl KefuProcess {
    /// The process id, for signals and `/proc` sampling.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Where kefu keeps its data.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The last `n` lines kefu logged (with [`KefuCommand::log_to_file`]), for an error
    /// report.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self
            .log
            .as_ref()
            .and_then(|l| std::fs::read_to_string(l).ok())
            .unwrap_or_default();
        let lines: Vec<_> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Stops kefu hard (as a crash or a pulled cable would); returns the command that starts
    /// it again on the same address and data.
    pub fn kill(mut self) -> KefuCommand {
        self.stop();
        self.command.clone()
    }

    /// Stops kefu as a service manager would (SIGTERM: clients are told to reconnect, then
    /// it exits) and waits for it; returns the command that starts it again.
    pub fn terminate(mut self) -> KefuCommand {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
        self.command.clone()
    }

    /// Waits for kefu to exit by itself (e.g. after a signal the test sent).
    pub fn wait(mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.take().expect("started").wait()
    }

    fn stop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_suffix(&self) -> String {
        let tail = self.log_tail(20);
        if tail.is_empty() {
            tail
        } else {
            format!("; its last log lines:\n{tail}")
        }
    }
}

impl Drop for KefuProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Keeps no idle connection to kefu: a test or the bench counting kefu's descriptors sees
/// only the sockets it opened itself.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("an HTTP client without TLS roots to load")
}

/// Whether `GET /readyz` answers 200. Plain std I/O, so starting works inside and outside an
/// async runtime alike.
fn ready(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut status = [0u8; 12];
    s.write_all(b"GET /readyz HTTP/1.1\r\nHost: kefu\r\nConnection: close\r\n\r\n")
        .is_ok()
        && s.read_exact(&mut status).is_ok()
        && &status == b"HTTP/1.1 200"
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}
