//! `kefu store copy`: moves a single-node deployment (SQLite) into an empty PostgreSQL
//! database, table by table, so it can then run on PostgreSQL (and in cluster mode).
//!
//! Rows are copied as plain column values, not through the model: the traits offer no
//! "list everything", and a column-by-column copy cannot drop a field the model ignores.
//! [`TABLES`] lists every table in foreign-key order (parents first) with each column's
//! kind, which says how a SQLite value becomes a PostgreSQL one (16-byte blob → uuid,
//! integer → boolean, JSON text → jsonb). Before copying, both schemas are compared with
//! that list, so a table or column added by a later migration and missing here stops the
//! copy instead of being left behind.
//!
//! Each batch is one `insert … on conflict do nothing` of up to [`BATCH`] rows, read from
//! the source in primary-key order. A copy that was interrupted is finished by running it
//! again with `resume`: rows already there are skipped, the missing ones inserted. At the
//! end the row counts of every table are compared.

use std::{collections::BTreeMap, fmt, path::Path};

use sqlx::{
    AssertSqlSafe, PgPool, Postgres, QueryBuilder, Row, Sqlite, SqlitePool,
    query_builder::Separated, sqlite::SqliteRow,
};
use uuid::Uuid;

use super::{BoxError, Store, StoreError, postgres::PgStore, sqlite::SqliteStore};

/// Rows per insert. 1,000 rows of the widest table (18 columns) bind 18,000 parameters,
/// well under PostgreSQL's 65,535, and a batch commits in milliseconds.
pub const BATCH: usize = 1000;

/// How a column's value is read from SQLite and bound for PostgreSQL.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A 16-byte blob in SQLite, `uuid` in PostgreSQL.
    Uuid,
    Text,
    /// `integer` in SQLite, `bigint` in PostgreSQL.
    Int,
    /// 0/1 in SQLite, `boolean` in PostgreSQL.
    Bool,
    /// JSON text in SQLite, `jsonb` in PostgreSQL (PostgreSQL checks it parses).
    Json,
}

/// One table to copy.
struct Table {
    name: &'static str,
    /// The primary key's columns, which order the reads (and make re-runs skip rows).
    key: &'static [&'static str],
    columns: &'static [(&'static str, Kind)],
}

use Kind::{Bool, Int, Json, Text, Uuid as Id};

/// Every table of the schema except sqlx's `_sqlx_migrations`, parents before the tables
/// whose foreign keys point at them (the target checks them on every insert).
const TABLES: &[Table] = &[
    Table {
        name: "agent",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("username", Text),
            ("display_name", Text),
            ("password_hash", Text),
            ("role", Text),
            ("capacity", Int),
            ("disabled", Bool),
            ("created_at", Int),
        ],
    },
    Table {
        name: "agent_group",
        key: &["name"],
        columns: &[("name", Text), ("display_name", Text), ("created_at", Int)],
    },
    Table {
        name: "agent_group_member",
        key: &["agent_id", "group_name"],
        columns: &[("agent_id", Id), ("group_name", Text)],
    },
    Table {
        name: "auth_token",
        key: &["token_hash"],
        columns: &[
            ("token_hash", Text),
            ("agent_id", Id),
            ("created_at", Int),
            ("expires_at", Int),
            ("revoked_at", Int),
        ],
    },
    Table {
        name: "visitor",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("site_id", Text),
            ("token_hash", Text),
            ("customer_id", Text),
            ("display_name", Text),
            ("email", Text),
            ("phone", Text),
            ("created_at", Int),
            ("expires_at", Int),
            ("last_agent_id", Id),
            ("blocked_at", Int),
        ],
    },
    Table {
        name: "conversation",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("site_id", Text),
            ("visitor_id", Id),
            ("group_name", Text),
            ("state", Text),
            ("agent_id", Id),
            ("last_seq", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("closed_at", Int),
            ("close_reason", Text),
            ("page_url", Text),
            ("page_title", Text),
            ("page_product_id", Text),
            ("page_order_id", Text),
            ("tags", Json),
            ("priority", Int),
            ("channel", Text),
            ("first_response_at", Int),
            ("last_agent_reply_at", Int),
            ("transfers", Int),
            ("queued_at", Int),
            ("assigned_at", Int),
        ],
    },
    Table {
        name: "message",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("conversation_id", Id),
            ("seq", Int),
            ("client_msg_id", Text),
            ("sender_role", Text),
            ("sender_id", Id),
            ("sender_name", Text),
            ("private", Bool),
            ("body", Json),
            ("created_at", Int),
        ],
    },
    Table {
        name: "rating",
        key: &["conversation_id"],
        columns: &[
            ("conversation_id", Id),
            ("score", Int),
            ("comment", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "sla_breach",
        key: &["conversation_id", "target"],
        columns: &[
            ("conversation_id", Id),
            ("target", Text),
            ("due_at", Int),
            ("at", Int),
        ],
    },
    Table {
        name: "attachment",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("conversation_id", Id),
            ("uploader_id", Id),
            ("file_name", Text),
            ("content_type", Text),
            ("size_bytes", Int),
            ("sha256", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "canned_reply",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("shortcut", Text),
            ("title", Text),
            ("body", Text),
            ("created_by", Id),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    },
    // `details` stays text on PostgreSQL too: the audit record keeps the request verbatim.
    Table {
        name: "audit_log",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("at", Int),
            ("actor_id", Id),
            ("actor_role", Text),
            ("action", Text),
            ("conversation_id", Id),
            ("target", Text),
            ("details", Text),
            ("result", Text),
            ("error", Text),
        ],
    },
    Table {
        name: "bot",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("name", Text),
            ("token_hash", Text),
            ("created_at", Int),
            ("last_used_at", Int),
        ],
    },
    Table {
        name: "webhook_delivery",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("webhook", Text),
            ("delivery_id", Id),
            ("event", Text),
            ("attempt", Int),
            ("at", Int),
            ("status", Int),
            ("error", Text),
            ("duration_ms", Int),
            ("delivered", Bool),
        ],
    },
];

/// Why a copy did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Only SQLite → PostgreSQL is supported: that is the move from one node to a cluster.
    #[error(
        "kefu store copy moves a SQLite database into PostgreSQL: --from takes a sqlite:// URL \
         (or a file path) and --to a postgres:// URL"
    )]
    Direction,
    /// The source file does not exist (opening it would create an empty one).
    #[error("no SQLite database at {0}: check --from")]
    NoSource(String),
    /// A store could not be opened (unreachable, bad URL, failed migration). Like
    /// [`CopyError::Table`], the message leaves the cause to `source()`, which `kefu` prints
    /// after it.
    #[error("opening {url}")]
    Open {
        url: String,
        #[source]
        source: StoreError,
    },
    /// The target holds rows and `resume` was not asked for: a copy merges nothing into a
    /// database in use.
    #[error(
        "the target database is not empty (table `{0}` has rows): copy into an empty database, \
         or pass --resume to finish an interrupted copy into this one"
    )]
    TargetNotEmpty(&'static str),
    /// A database's tables or columns are not the ones this copy knows: a schema from
    /// another Kefu version, or a table added without teaching this module about it.
    #[error("the {side} database's schema is not the one this kefu copies: {detail}")]
    Schema { side: &'static str, detail: String },
    /// A query failed on either side; the copy stopped there and may be resumed.
    #[error("copying table `{table}` (once the cause is fixed, run again with --resume)")]
    Table {
        table: &'static str,
        #[source]
        source: BoxError,
    },
}

/// Row counts of one table on both sides, after the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub source: i64,
    pub target: i64,
}

/// What a finished copy found: the counts of every table, in copy order.
#[derive(Debug, Clone)]
pub struct Report {
    pub tables: Vec<TableCount>,
}

impl Report {
    /// Tables whose counts differ (the target had other rows, or the source changed while
    /// it was copied). Empty when the copy is complete.
    pub fn differing(&self) -> Vec<&'static str> {
        self.tables
            .iter()
            .filter(|t| t.source != t.target)
            .map(|t| t.table)
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<20} {:>12} {:>12}", "table", "source", "target")?;
        for t in &self.tables {
            let mark = if t.source == t.target {
                ""
            } else {
                "  DIFFERS"
            };
            writeln!(f, "{:<20} {:>12} {:>12}{mark}", t.table, t.source, t.target)?;
        }
        Ok(())
    }
}

/// How to copy.
#[derive(Debug, Clone)]
pub struct Options {
    /// Copy into a target that already has rows (finishing an interrupted copy).
    pub resume: bool,
    /// Rows per batch; [`BATCH`] by default (tests make it small to page through tables).
    pub batch: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            resume: false,
            batch: BATCH,
        }
    }
}

/// Copies every row of the SQLite database at `from` into the PostgreSQL database at `to`.
/// Both are opened as the server opens them, which runs migrations: the target gets its
/// schema, and the source is brought to this binary's schema so both have the same
/// columns. Stop the server first: rows written during the copy may be missed.
pub async fn copy(from: &str, to: &str, options: &Options) -> Result<Report, CopyError> {
    if crate::config::is_postgres_url(from) || !crate::config::is_postgres_url(to) {
        return Err(CopyError::Direction);
    }
    let path = sqlite_path(from);
    if !Path::new(path).exists() {
        return Err(CopyError::NoSource(path.to_string()));
    }
    let source = SqliteStore::open(from)
        .await
        .map_err(|source| CopyError::Open {
            url: from.to_string(),
            source,
        })?;
    let target = PgStore::open(to, 4)
        .await
        .map_err(|source| CopyError::Open {
            url: crate::config::url_without_password(to),
            source,
        })?;
    let result = copy_between(source.pool(), target.pool(), options).await;
    source.close().await;
    target.close().await;
    result
}

async fn copy_between(
    source: &SqlitePool,
    target: &PgPool,
    options: &Options,
) -> Result<Report, CopyError> {
    // Every source table must be known (or its rows would be left behind); the target may
    // hold unrelated tables of its own.
    check_schema("source", sqlite_schema(source).await, true)?;
    check_schema("target", pg_schema(target).await, false)?;
    if !options.resume {
        for table in TABLES {
            let sql = format!("select exists (select 1 from {})", table.name);
            let any: bool = sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_one(target)
                .await
                .map_err(|e| failed(table, e))?;
            if any {
                return Err(CopyError::TargetNotEmpty(table.name));
            }
        }
    }
    for table in TABLES {
        let copied = copy_table(table, source, target, options.batch.max(1)).await?;
        tracing::info!(table = table.name, rows = copied, "copied");
    }
    let mut tables = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let sql = format!("select count(*) from {}", table.name);
        let source_rows: i64 = sqlx::query_scalar(AssertSqlSafe(sql.clone()))
            .fetch_one(source)
            .await
            .map_err(|e| failed(table, e))?;
        let target_rows: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(target)
            .await
            .map_err(|e| failed(table, e))?;
        tables.push(TableCount {
            table: table.name,
            source: source_rows,
            target: target_rows,
        });
    }
    Ok(Report { tables })
}

/// Copies one table in batches; returns the number of source rows read.
async fn copy_table(
    table: &Table,
    source: &SqlitePool,
    target: &PgPool,
    batch: usize,
) -> Result<u64, CopyError> {
    let names: Vec<&str> = table.columns.iter().map(|(n, _)| *n).collect();
    let key_at: Vec<usize> = table
        .key
        .iter()
        .map(|k| names.iter().position(|n| n == k).expect("key is a column"))
        .collect();
    let mut last_key: Option<Vec<Value>> = None;
    let mut read = 0u64;
    loop {
        // Keyset paging: `where (key…) > (last…)` reads each batch from the index, where
        // an offset would rescan every row before it.
        let mut select =
            QueryBuilder::<Sqlite>::new(format!("select {} from {}", names.join(", "), table.name));
        if let Some(last) = &last_key {
            select.push(format!(" where ({}) > (", table.key.join(", ")));
            let mut list = select.separated(", ");
            for value in last {
                bind_sqlite(&mut list, value.clone());
            }
            select.push(")");
        }
        select.push(format!(" order by {} limit {batch}", table.key.join(", ")));
        let rows = select
            .build()
            .fetch_all(source)
            .await
            .map_err(|e| failed(table, e))?;
        if rows.is_empty() {
            return Ok(read);
        }
        let values = rows
            .iter()
            .map(|row| read_row(table, row))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(table, e))?;
        read += values.len() as u64;
        let last = values.last().expect("rows is not empty");
        last_key = Some(key_at.iter().map(|&i| last[i].clone()).collect());
        let full = values.len() == batch;
        let mut insert = QueryBuilder::<Postgres>::new(format!(
            "insert into {} ({}) ",
            table.name,
            names.join(", ")
        ));
        insert.push_values(values, |mut b, row| {
            for value in row {
                bind_pg(&mut b, value);
            }
        });
        // Any unique key, not just the primary one: a row already copied is skipped.
        insert.push(" on conflict do nothing");
        insert
            .build()
            .execute(target)
            .await
            .map_err(|e| failed(table, e))?;
        if !full {
            return Ok(read);
        }
    }
}

/// One column's value, typed by its [`Kind`].
#[derive(Debug, Clone)]
enum Value {
    Uuid(Option<Uuid>),
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Json(Option<String>),
}

fn read_row(table: &Table, row: &SqliteRow) -> sqlx::Result<Vec<Value>> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| -> sqlx::Result<Value> {
            Ok(match kind {
                Kind::Uuid => Value::Uuid(row.try_get(i)?),
                Kind::Text => Value::Text(row.try_get(i)?),
                Kind::Int => Value::Int(row.try_get(i)?),
                Kind::Bool => Value::Bool(row.try_get(i)?),
                Kind::Json => Value::Json(row.try_get(i)?),
            })
        })
        .collect()
}

fn bind_sqlite(list: &mut Separated<'_, Sqlite, &'static str>, value: Value) {
    match value {
        Value::Uuid(v) => list.push_bind(v),
        Value::Text(v) | Value::Json(v) => list.push_bind(v),
        Value::Int(v) => list.push_bind(v),
        Value::Bool(v) => list.push_bind(v),
    };
}

fn bind_pg(list: &mut Separated<'_, Postgres, &'static str>, value: Value) {
    match value {
        Value::Uuid(v) => list.push_bind(v),
        Value::Text(v) => list.push_bind(v),
        Value::Int(v) => list.push_bind(v),
        Value::Bool(v) => list.push_bind(v),
        // Sent as text and cast, so PostgreSQL stores the JSON as written.
        Value::Json(v) => list.push_bind(v).push_unseparated("::jsonb"),
    };
}

fn failed(table: &Table, e: sqlx::Error) -> CopyError {
    CopyError::Table {
        table: table.name,
        source: Box::new(e),
    }
}

/// The file a SQLite URL names (`sqlite://path?mode=…`, `sqlite:path` or a plain path).
fn sqlite_path(url: &str) -> &str {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    path.split('?').next().unwrap_or(path)
}

/// Table name → its columns, as a database reports them.
type Schema = BTreeMap<String, Vec<String>>;

async fn sqlite_schema(pool: &SqlitePool) -> sqlx::Result<Schema> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        // Ordinary tables only: the search index (FTS5, a virtual table and its shadow
        // tables) is derived from `message` and rebuilt by PostgreSQL's own index.
        "select t.name, c.name from pragma_table_list t join pragma_table_info(t.name) c \
         where t.schema = 'main' and t.type = 'table' and t.name not like 'sqlite_%' \
         and t.name != '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await?;
    Ok(group(rows))
}

async fn pg_schema(pool: &PgPool) -> sqlx::Result<Schema> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select table_name::text, column_name::text from information_schema.columns \
         where table_schema = current_schema() and table_name != '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await?;
    Ok(group(rows))
}

fn group(rows: Vec<(String, String)>) -> Schema {
    let mut schema = Schema::new();
    for (table, column) in rows {
        schema.entry(table).or_default().push(column);
    }
    for columns in schema.values_mut() {
        columns.sort();
    }
    schema
}

/// Each table of [`TABLES`] must be in `schema` with exactly its columns; with `all`,
/// `schema` may have no other table.
fn check_schema(
    side: &'static str,
    schema: sqlx::Result<Schema>,
    all: bool,
) -> Result<(), CopyError> {
    let schema = schema.map_err(|e| CopyError::Schema {
        side,
        detail: format!("could not read it: {e}"),
    })?;
    let mismatch = |detail: String| Err(CopyError::Schema { side, detail });
    for name in schema.keys().filter(|_| all) {
        if !TABLES.iter().any(|t| t.name == name) {
            return mismatch(format!("table `{name}` is not one this copy knows"));
        }
    }
    for table in TABLES {
        let Some(columns) = schema.get(table.name) else {
            return mismatch(format!("table `{}` is missing", table.name));
        };
        let mut expected: Vec<&str> = table.columns.iter().map(|(n, _)| *n).collect();
        expected.sort_unstable();
        if *columns != expected {
            return mismatch(format!(
                "table `{}` has columns {columns:?}, this copy knows {expected:?}",
                table.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite:///var/kefu/kefu.db"),
            "/var/kefu/kefu.db"
        );
        assert_eq!(sqlite_path("sqlite://kefu.db?mode=rwc"), "kefu.db");
        assert_eq!(sqlite_path("sqlite:kefu.db"), "kefu.db");
        assert_eq!(sqlite_path("/data/kefu.db"), "/data/kefu.db");
    }

    #[test]
    fn every_key_is_a_column() {
        for t in TABLES {
            for k in t.key {
                assert!(
                    t.columns.iter().any(|(n, _)| n == k),
                    "{}: the key column {k} must be copied to page by it",
                    t.name
                );
            }
        }
    }

    /// A behaviour test: the SQLite migrations' schema is exactly what `TABLES` copies, so
    /// a new migration that adds a table or column fails here, not in a user's copy.
    #[tokio::test]
    async fn the_table_list_matches_the_sqlite_schema() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in(dir.path()).await.unwrap();
        check_schema("source", sqlite_schema(store.pool()).await, true).unwrap();
        store.close().await;
    }
}
