//! The PostgreSQL store, for cluster mode: several kefu nodes share one database, which is
//! the only source of truth (messages, seqs, assignments). Commits are durable before they
//! are acknowledged: every session runs with `synchronous_commit = on`, whatever the
//! server's default, so an ack never outruns the WAL flush.
//!
//! This file opens the database and holds what every resource shares; each resource trait
//! is implemented in a file of its own (`accounts.rs`, `conversations.rs`, …), mirroring
//! `store::sqlite`. Rows are mapped by hand (`FromRow` impls beside the queries that read
//! them), and driver errors become [`StoreError`]s in `error.rs` only.
//!
//! Unlike SQLite there is no in-memory copy of conversations: another node may change any
//! row at any time, so every read goes to the database.

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::{
    PgPool, Row,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult, PgRow},
};

use crate::store::{Store, StoreError, StoreResult, schema};

mod accounts;
mod append;
mod audit;
mod bots;
mod canned;
mod conversations;
mod error;
mod floor;
mod messages;
mod reports;
mod search;
mod service_levels;
mod visitors;
mod webhooks;

use error::Db;

/// The PostgreSQL schema's migrations, embedded in the binary.
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a caller waits for a free connection before the store reports `Unavailable`
/// (readiness fails, the shopper's message is not acked and is resent later).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// PostgreSQL-backed [`Store`].
pub struct PgStore {
    pool: PgPool,
    /// The message writer's own connections. `sessions::writer` appends from a thread and
    /// runtime of its own; connections it opens are driven by that runtime, so they stay in
    /// a pool only it uses (a pool connection handed to the main runtime would have its
    /// socket registered with the writer's). No idle timeout or maximum lifetime, so the
    /// pool's reaper (a task on the opening runtime) never touches them.
    writer: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database?sslmode=…`; TLS
    /// through rustls when `sslmode` asks for it) with at most `pool_size` connections, and
    /// runs the embedded migrations. Several nodes may start at once: sqlx's migrator holds
    /// an advisory lock while it migrates.
    pub async fn open(url: &str, pool_size: u32) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("`{}`: {e}", redacted(url))))?
            .options([("synchronous_commit", "on")])
            .application_name("kefu");
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .db()?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| schema::migration_error(e, &MIGRATOR))?;
        let writer = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(options);
        Ok(Self { pool, writer })
    }

    /// The pool, for `store::copy`, which reads or writes every table as plain rows.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("select 1").execute(&self.pool).await.db()?;
        Ok(())
    }

    async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// `url` without its password, for messages.
fn redacted(url: &str) -> String {
    crate::config::url_without_password(url)
}

/// `NotFound` when a write changed no row.
fn touched(done: PgQueryResult) -> StoreResult<()> {
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

fn one<T>(row: Option<T>) -> StoreResult<T> {
    row.ok_or(StoreError::NotFound)
}

/// A column holding an enum by its name (`Role::as_str` and the like), read back through
/// `FromStr`; an unknown name is a decode error (`StoreError::Corrupt`).
fn named<T>(row: &PgRow, column: &str) -> sqlx::Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let name: &str = row.try_get(column)?;
    name.parse().map_err(|e| sqlx::Error::ColumnDecode {
        index: column.into(),
        source: Box::new(e),
    })
}

#[cfg(test)]
pub(crate) mod tests;
