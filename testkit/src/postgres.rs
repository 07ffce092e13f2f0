//! A fresh PostgreSQL database per test, on the server `TEST_POSTGRES_URL` names (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`; `scripts/postgres.sh` prints one). Unset,
//! tests run on SQLite. Not a `KEFU_…` name: kefu reads every such variable as config.
//!
//! Each [`TestDatabase`] is `CREATE DATABASE kefu_t_<random>` and is dropped `WITH (FORCE)`
//! when the handle drops, so a test that leaves a server running (or panics) still leaves
//! nothing behind. Both run on a thread of their own with a small runtime: the handle is
//! made and dropped from sync code (`KefuCommand::start`) and from inside async tests alike.

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
        let server = server_url()?;
        let name = format!("kefu_t_{}", uuid::Uuid::new_v4().simple());
        let statement = format!("create database {name}");
        on_own_thread(&server, statement)
            .unwrap_or_else(|e| panic!("creating a test database on {TEST_POSTGRES_URL}: {e}"));
        let url = with_database(&server, &name);
        Some(Self { url, name, server })
    }
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
