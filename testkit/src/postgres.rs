//! A fresh PostgreSQL database per test, on the server `TEST_POSTGRES_URL` names (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`; `scripts/postgres.sh` prints one). Unset,
//! tests run on SQLite. Not a `KEFU_…` name: kefu reads every such variable as config.
//!
//! Each [`TestDatabase`] is `CREATE DATABASE kefu_t_<random>` and is dropped `WITH (FORCE)`
//! when the handle drops, so a test that leaves a server running (or panics) still leaves
//! nothing behind. Both run on a thread of their own with a small runtime: the handle is
//! made and dropped from sync code (`KefuCommand::start`) and from inside async tests alike.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use sqlx::{Connection, Executor, PgConnection};

/// The variable naming the PostgreSQL server tests use.
pub const TEST_POSTGRES_URL: &str = "TEST_POSTGRES_URL";

/// The server tests should use, if any.
pub fn server_url() -> Option<String> {
    std::env::var(TEST_POSTGRES_URL)
        .ok()
        .filter(|u| !u.is_empty())
}

/// A database of this test's own; dropped with the handle.
#[derive(Debug)]
pub struct TestDatabase {
    /// The URL kefu opens (`store.url`).
    pub url: String,
    name: String,
    server: String,
}

impl TestDatabase {
    /// A new empty database on `TEST_POSTGRES_URL`'s server, or `None` when it is unset.
    /// Panics if the server cannot be reached: a test run that asked for PostgreSQL must
    /// not quietly fall back to SQLite.
    pub fn create() -> Option<Self> {
        Some(Self::create_on(&server_url()?))
    }

    /// A new empty database on the server `server` names (a URL to any database there).
    pub fn create_on(server: &str) -> Self {
        let name = format!("kefu_t_{}", uuid::Uuid::new_v4().simple());
        let statement = format!("create database {name}");
        // Not the URL in the message: it may hold a password.
        on_own_thread(server, statement)
            .unwrap_or_else(|e| panic!("creating a test database for kefu: {e}"));
        let url = with_database(server, &name);
        Self {
            url,
            name,
            server: server.to_string(),
        }
    }
}

/// A PostgreSQL server of a test's own, for tests that stop and start the database under
/// kefu: `scripts/postgres.sh --throwaway` (initdb in a temp dir, a free loopback port; it
/// installs Debian's `postgresql` first if it is missing). Stopped and removed on drop.
#[derive(Debug)]
pub struct ThrowawayServer {
    /// A URL to its `postgres` database (give it to [`TestDatabase::create_on`]).
    pub url: String,
    data: PathBuf,
}

impl ThrowawayServer {
    /// Starts one; panics with the script's output if it cannot.
    pub fn start() -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
        let record = tempfile::NamedTempFile::new().expect("a temp file");
        let out = Command::new("bash")
            .arg(&script)
            .arg("--throwaway")
            .arg(record.path())
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
        assert!(out.status.success(), "{} failed", script.display());
        let data = std::fs::read_to_string(record.path()).expect("the script names the cluster");
        Self {
            url: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            data: PathBuf::from(data.trim()),
        }
    }

    /// Kills the server the way a crash or power cut would (`pg_ctl stop -m immediate`):
    /// open transactions are lost and the next start recovers from the write-ahead log.
    pub fn crash(&self) {
        self.pg_ctl(&["stop", "-m", "immediate"]);
    }

    /// Starts it again on the same port and waits until it accepts connections.
    pub fn restart(&self) {
        let log = self.data.with_file_name("log");
        self.pg_ctl(&["-l", &log.display().to_string(), "-w", "start"]);
    }

    /// Runs `pg_ctl -D <data> args…` and panics if it fails.
    fn pg_ctl(&self, args: &[&str]) {
        match self.try_pg_ctl(args) {
            Ok(status) if status.success() => {}
            other => panic!("pg_ctl {args:?} failed: {other:?}"),
        }
    }

    /// Runs `pg_ctl -D <data> args…` as the cluster's owner (`postgres` when the test runs
    /// as root: PostgreSQL refuses to run as root).
    fn try_pg_ctl(&self, args: &[&str]) -> std::io::Result<std::process::ExitStatus> {
        let pg_ctl = server_binaries().join("pg_ctl");
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        cmd.arg("-D")
            .arg(&self.data)
            .args(args)
            .stdout(Stdio::null())
            .status()
    }
}

impl Drop for ThrowawayServer {
    fn drop(&mut self) {
        let _ = self.try_pg_ctl(&["stop", "-m", "immediate"]);
        if let Some(dir) = self.data.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Debian keeps the server binaries out of PATH, in /usr/lib/postgresql/<version>/bin;
/// the newest version's (the one `scripts/postgres.sh` used).
fn server_binaries() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server binaries in /usr/lib/postgresql")
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions.pop().expect("a version in /usr/lib/postgresql").1
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let statement = format!("drop database if exists {} with (force)", self.name);
        if let Err(e) = on_own_thread(&self.server, statement) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// `server` (a URL) with its database replaced by `name`, options kept.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = server.split_once('?').unwrap_or((server, ""));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    if query.is_empty() {
        format!("{base}/{name}")
    } else {
        format!("{base}/{name}?{query}")
    }
}

/// Runs one statement on `server`, on a thread with a runtime of its own.
fn on_own_thread(server: &str, statement: String) -> Result<(), String> {
    let server = server.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let mut conn = PgConnection::connect(&server)
                .await
                .map_err(|e| e.to_string())?;
            conn.execute(sqlx::AssertSqlSafe(statement))
                .await
                .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            Ok(())
        })
    })
    .join()
    .map_err(|_| "the database thread panicked".to_string())?
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_is_swapped_and_options_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "kefu_t_1"),
            "postgres://postgres@127.0.0.1:5432/kefu_t_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=require", "x"),
            "postgres://u:p@h/x?sslmode=require"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
