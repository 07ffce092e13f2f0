//! `kefu doctor`: checks an installation the way an IT admin would by hand — the
//! configuration, the data directory, the database, each back-office source, the open-files
//! limit and the listen addresses — and says for each problem how to fix it. Read-only: it
//! migrates nothing and binds only to see whether an address is free.

use std::{
    fmt,
    path::Path,
    time::{Duration, Instant},
};

use crate::{config::Settings, integrations::CustomerKey, plugins::Registry};

/// Below this hard limit on open files, a busy installation runs out of sockets (each
/// connection is a descriptor; kefu raises its soft limit to the hard one at start).
pub const RECOMMENDED_NOFILE: u64 = 65_536;

/// How long a back-office source or PostgreSQL may take to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Works, but something to look at.
    Warn,
    /// Kefu will not start or not work as configured.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    pub what: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do about a warning or failure.
    pub fix: Option<String>,
}

impl Check {
    fn ok(what: &'static str, detail: impl Into<String>) -> Self {
        Self {
            what,
            verdict: Verdict::Ok,
            detail: detail.into(),
            fix: None,
        }
    }
    fn warn(what: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            what,
            verdict: Verdict::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn fail(what: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            what,
            verdict: Verdict::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        };
        write!(f, "{tag}  {:<15} {}", self.what, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n      {:<15} fix: {fix}", "")?;
        }
        Ok(())
    }
}

/// Runs every check that applies to the configuration at `config` (or the defaults and
/// `KEFU_*` variables when `None`).
pub async fn run(config: Option<&Path>, registry: &Registry) -> Vec<Check> {
    let settings = match Settings::load(config) {
        Ok(s) => s,
        Err(e) => {
            return vec![Check::fail(
                "config",
                e.to_string(),
                "correct the key named above; `kefu config example` prints every key with \
                 its default",
            )];
        }
    };
    let mut checks = vec![match registry.build(&settings.plugins) {
        Ok(_) => Check::ok(
            "config",
            match config {
                Some(p) => format!("{} loads and is valid", p.display()),
                None => "defaults and KEFU_* variables load and are valid".into(),
            },
        ),
        Err(e) => Check::fail(
            "config",
            format!("[plugins]: {e:#}"),
            "correct the plugin's settings (docs/plugins.md)",
        ),
    }];
    checks.push(data_dir(&settings));
    checks.push(database(&settings).await);
    checks.push(back_office(&settings).await);
    checks.push(open_files());
    checks.push(listen("listen", "server.listen", &settings.server.listen).await);
    if !settings.metrics.listen.is_empty() {
        checks.push(listen("metrics listen", "metrics.listen", &settings.metrics.listen).await);
    }
    checks
}

fn data_dir(settings: &Settings) -> Check {
    const WHAT: &str = "data directory";
    let dir = &settings.server.data_dir;
    if !dir.exists() {
        return Check::ok(
            WHAT,
            format!(
                "{} does not exist yet; kefu creates it at start",
                dir.display()
            ),
        );
    }
    let probe = dir.join(format!(".kefu-doctor-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Check::ok(WHAT, format!("{} is writable", dir.display()))
        }
        Err(e) => Check::fail(
            WHAT,
            format!("{} is not writable by this user: {e}", dir.display()),
            format!(
                "run kefu as the user that owns it (the packages' service runs as `kefu`: \
                 `sudo -u kefu kefu doctor …`), or `chown -R kefu: {}`",
                dir.display()
            ),
        ),
    }
}

async fn database(settings: &Settings) -> Check {
    const WHAT: &str = "database";
    let postgres = settings.store_is_postgres();
    let newest = crate::store::latest_schema_version(postgres);
    let shown = crate::config::url_without_password(&settings.store_url());
    let version = if postgres {
        postgres_schema(&settings.store_url()).await
    } else {
        sqlite_schema(settings)
    };
    match version {
        Ok(None) => Check::ok(
            WHAT,
            format!("{shown}: no schema yet; kefu creates it at start"),
        ),
        Ok(Some(v)) if v == newest => {
            Check::ok(WHAT, format!("{shown}: answers, schema version {v}"))
        }
        Ok(Some(v)) if v < newest => Check::warn(
            WHAT,
            format!("{shown}: schema version {v}, this kefu brings {newest}"),
            "kefu migrates at start; run `kefu migrate` first to do it before rolling out",
        ),
        Ok(Some(v)) => Check::fail(
            WHAT,
            format!("{shown}: schema version {v} is newer than this kefu knows ({newest})"),
            "a newer Kefu migrated this database: run that version or a later one",
        ),
        Err(e) => Check::fail(
            WHAT,
            format!("{shown}: {e:#}"),
            if postgres {
                "check config key `store.url` (host, port, user, password, database) and that \
                 PostgreSQL accepts connections from this host (pg_hba.conf)"
            } else {
                "check config key `store.url` / `server.data_dir`, the file's owner, and free \
                 disk space; restore from a backup (`kefu restore`) if SQLite reports damage"
            },
        ),
    }
}

/// The newest applied migration, `None` for a database kefu never started on.
async fn postgres_schema(url: &str) -> anyhow::Result<Option<i64>> {
    use sqlx::{Connection as _, postgres::PgConnection};
    let mut conn = tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect(url))
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {PROBE_TIMEOUT:?}"))??;
    let exists: bool = sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null")
        .fetch_one(&mut conn)
        .await?;
    let version = if exists {
        sqlx::query_scalar("select max(version) from _sqlx_migrations where success")
            .fetch_one(&mut conn)
            .await?
    } else {
        None
    };
    conn.close().await?;
    Ok(version)
}

fn sqlite_schema(settings: &Settings) -> anyhow::Result<Option<i64>> {
    use rusqlite::{Connection, OpenFlags};
    let file = super::sqlite_file(settings)?;
    if !file.exists() {
        return Ok(None);
    }
    let db = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    db.busy_timeout(PROBE_TIMEOUT)?;
    let check: String = db.query_row("pragma quick_check", [], |r| r.get(0))?;
    anyhow::ensure!(check == "ok", "SQLite's consistency check says: {check}");
    Ok(super::sqlite_schema_version(&db)?)
}

/// Asks each configured source for a customer that does not exist: an answer in the
/// expected format (found or not) shows the address, the credentials and the format work.
async fn back_office(settings: &Settings) -> Check {
    const WHAT: &str = "back office";
    let Some(connector) = crate::connector(settings) else {
        return Check::ok(WHAT, "none configured (agents see no customer view)");
    };
    let name = connector.name().to_string();
    let started = Instant::now();
    let probe = CustomerKey::Id("kefu-doctor-probe".into());
    match tokio::time::timeout(PROBE_TIMEOUT, connector.find_customer(&probe)).await {
        Ok(Ok(_)) => Check::ok(
            WHAT,
            format!(
                "source `{name}` answered a customer lookup in {} ms",
                started.elapsed().as_millis()
            ),
        ),
        Ok(Err(e)) => Check::fail(
            WHAT,
            format!("source `{name}`: {e}"),
            "check [integrations.backoffice] base_url and auth (or [integrations.shopify]) \
                 and that this host may reach it; the expected answers are in \
                 docs/backoffice-format.md",
        ),
        Err(_) => Check::fail(
            WHAT,
            format!("source `{name}`: no answer within {PROBE_TIMEOUT:?}"),
            "check the address and firewall; agents would wait for it on every chat",
        ),
    }
}

fn open_files() -> Check {
    const WHAT: &str = "open files";
    match rlimit::Resource::NOFILE.get() {
        Ok((_, hard)) if hard >= RECOMMENDED_NOFILE => Check::ok(
            WHAT,
            format!("limit {hard} (kefu raises its own to it): room for that many sockets"),
        ),
        Ok((_, hard)) => Check::warn(
            WHAT,
            format!(
                "limit {hard}: each shopper and agent connection is an open file, so about \
                 that many connections at most"
            ),
            format!(
                "raise it to {RECOMMENDED_NOFILE} or more: `LimitNOFILE=` in the systemd unit \
                 (the packages' unit sets 1048576) or `nofile` in /etc/security/limits.conf"
            ),
        ),
        Err(e) => Check::warn(
            WHAT,
            format!("could not read the limit: {e}"),
            "check `ulimit -Hn`",
        ),
    }
}

/// Whether kefu could listen on `addr`: free, already kefu's (a running server answers
/// `/healthz` there), or taken by something else.
async fn listen(what: &'static str, key: &str, addr: &str) -> Check {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(_) => Check::ok(what, format!("{addr} is free")),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            if kefu_answers(addr).await {
                Check::ok(what, format!("{addr}: a running kefu answers there"))
            } else {
                Check::fail(
                    what,
                    format!("{addr} is taken by another program"),
                    format!(
                        "stop that program (`ss -ltnp 'sport = :{}'` names it) or choose \
                         another address in config key `{key}`",
                        addr.rsplit(':').next().unwrap_or("")
                    ),
                )
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Check::fail(
            what,
            format!("{addr}: {e}"),
            "ports below 1024 need CAP_NET_BIND_SERVICE (AmbientCapabilities= in the unit) or \
             a proxy in front; or use a port above 1024",
        ),
        Err(e) => Check::fail(
            what,
            format!("{addr}: {e}"),
            format!("config key `{key}` must be an address of this host, e.g. 127.0.0.1:8080"),
        ),
    }
}

/// A GET of `/healthz` on `addr` (the loopback address for a wildcard) answers `ok`.
async fn kefu_answers(addr: &str) -> bool {
    let Ok(mut sock) = addr.parse::<std::net::SocketAddr>() else {
        return false;
    };
    if sock.ip().is_unspecified() {
        sock.set_ip(if sock.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    // Any certificate: built-in TLS may be on, with a certificate for a name, not this address.
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .danger_accept_invalid_certs(true)
        .build()
    else {
        return false;
    };
    for scheme in ["http", "https"] {
        if let Ok(res) = client
            .get(format!("{scheme}://{sock}/healthz"))
            .send()
            .await
            && res.status().is_success()
            && res.text().await.is_ok_and(|t| t.trim() == "ok")
        {
            return true;
        }
    }
    false
}

/// Prints the report and says whether everything passed (no failures).
pub fn print(checks: &[Check]) -> bool {
    for c in checks {
        println!("{c}");
    }
    let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    let warned = checks.iter().filter(|c| c.verdict == Verdict::Warn).count();
    match (failed, warned) {
        (0, 0) => println!("all {} checks passed", checks.len()),
        (0, w) => println!("no problems that stop kefu; {w} warning(s)"),
        (f, _) => println!("{f} problem(s) found"),
    }
    failed == 0
}
