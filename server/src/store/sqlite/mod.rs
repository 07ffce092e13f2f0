//! The embedded SQLite store: one file, WAL journal, `synchronous = full` so a commit that
//! was acknowledged survives a crash or power loss. Message writes arrive batched from
//! `sessions::writer`, so one fsync covers many messages.
//!
//! This file opens the database and holds what every resource shares; each resource trait
//! is implemented in a file of its own (`accounts.rs`, `conversations.rs`, …). Rows are
//! mapped to the model by hand (`FromRow` impls beside the queries that read them), and
//! driver errors become [`StoreError`]s in `error.rs` only.

use std::{path::Path, str::FromStr, time::Duration};

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use sqlx::{
    Row, Sqlite, SqlitePool, Transaction,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult, SqliteRow,
        SqliteSynchronous,
    },
};

use crate::store::{Store, StoreError, StoreResult, schema};

mod accounts;
mod append;
mod audit;
mod bots;
mod cache;
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

use append::MessageWriter;
use cache::ConversationCache;
use error::Db;

/// The SQLite schema's migrations, embedded in the binary.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    pool: SqlitePool,
    /// The message writer's own connection. Through the pool, each batch landed on
    /// whichever connection was free, and a connection that another one wrote behind
    /// starts from an empty page cache: every batch re-read its index pages.
    messages: std::sync::Mutex<Option<MessageWriter>>,
    conversations: ConversationCache,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or a plain path)
    /// and runs the embedded migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .db()?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Statement journals (every multi-row write in a transaction keeps one) in
            // memory: as temp files they were a tenth of the message writer's time.
            .pragma("temp_store", "memory")
            // Every batch dirties a page or two per conversation it writes to (their index
            // leaves). At the default 1,000-page checkpoint threshold a busy batch crossed it
            // on every commit, copying the same hot pages back to the database each time;
            // 10,000 pages (40 MiB of WAL) copies them once per several commits.
            .pragma("wal_autocheckpoint", "10000")
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .db()?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| schema::migration_error(e, &MIGRATOR))?;
        // The writer opens the same file on a connection of its own (`append.rs`).
        let file: String =
            sqlx::query_scalar("select file from pragma_database_list where name = 'main'")
                .fetch_one(&pool)
                .await
                .db()?;
        if file.is_empty() {
            return Err(StoreError::Config(
                "the SQLite store needs a database file, not an in-memory database".into(),
            ));
        }
        let messages = MessageWriter::open(&file)?;
        Ok(Self {
            pool,
            messages: std::sync::Mutex::new(Some(messages)),
            conversations: ConversationCache::default(),
        })
    }

    /// The pool, for `store::copy`, which reads or writes every table as plain rows.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Opens a database file inside `dir`.
    pub async fn open_in(dir: &Path) -> StoreResult<Self> {
        Self::open(&format!("sqlite://{}", dir.join("kefu.db").display())).await
    }

    /// A write transaction that takes the write lock up front (`BEGIN IMMEDIATE`). A
    /// deferred one that reads first and writes later fails with SQLITE_BUSY at once when
    /// another connection committed in between; an immediate one waits its turn instead.
    async fn write_tx(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool.begin_with("begin immediate").await.db()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("select 1").execute(&self.pool).await.db()?;
        Ok(())
    }

    async fn close(&self) {
        // Dropping the writer's connection closes it.
        drop(
            self.messages
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        self.pool.close().await;
    }
}

/// `NotFound` when a write changed no row.
fn touched(done: SqliteQueryResult) -> StoreResult<()> {
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
fn named<T>(row: &SqliteRow, column: &str) -> sqlx::Result<T>
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

/// A column holding JSON text.
fn json<T: DeserializeOwned>(row: &SqliteRow, column: &str) -> sqlx::Result<T> {
    let text: &str = row.try_get(column)?;
    serde_json::from_str(text).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.into(),
        source: Box::new(e),
    })
}

#[cfg(test)]
mod tests {
    use super::SqliteStore;
    use crate::store::{Store, tests as behaviour};

    /// A store on a fresh file; the directory lives as long as the guard.
    pub(super) async fn open() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("t.db").to_str().unwrap())
            .await
            .unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn the_behaviour_suite_passes_on_sqlite() {
        let (_dir, store) = open().await;
        behaviour::suite(&store).await;
    }

    #[tokio::test]
    async fn a_schema_newer_than_the_binary_is_refused_naming_its_version() {
        let (dir, store) = open().await;
        sqlx::query(
            "insert into _sqlx_migrations (version, description, success, checksum, execution_time) \
             values (9999, 'from a newer kefu', 1, x'00', 0)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        store.close().await;
        let Err(e) = SqliteStore::open(dir.path().join("t.db").to_str().unwrap()).await else {
            panic!("a newer schema was accepted");
        };
        let text = e.to_string();
        assert!(matches!(e, crate::store::StoreError::Migration(_)), "{e:?}");
        assert!(
            text.contains("schema version 9999") && !text.contains('\n'),
            "one line naming the version: {text}"
        );
    }

    #[tokio::test]
    async fn an_in_memory_database_is_refused_with_the_reason() {
        // The writer's own connection could not see it: messages would go nowhere.
        let Err(e) = SqliteStore::open("sqlite::memory:").await else {
            panic!("an in-memory database was accepted");
        };
        assert!(e.to_string().contains("in-memory"), "{e}");
    }
}
