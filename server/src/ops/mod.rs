//! Running Kefu as an operator does: systemd's notifications, backups of the embedded
//! database, and `kefu doctor`'s checks of an installation.

pub mod backup;
pub mod doctor;
pub mod systemd;

use std::{path::PathBuf, str::FromStr};

use anyhow::Context;

use crate::config::Settings;

/// The file of the embedded SQLite store: the one `store.url` names, or `kefu.db` in the
/// data directory (`backup`, `restore` and `doctor` open it without kefu's pool).
fn sqlite_file(settings: &Settings) -> anyhow::Result<PathBuf> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&settings.store_url())
        .context("config key `store.url` is not a SQLite URL")?;
    Ok(options.get_filename().to_path_buf())
}

/// The newest migration applied to a SQLite database; `None` if kefu never migrated it.
fn sqlite_schema_version(db: &rusqlite::Connection) -> rusqlite::Result<Option<i64>> {
    let migrated: bool = db.query_row(
        "select count(*) > 0 from sqlite_master where name = '_sqlx_migrations'",
        [],
        |r| r.get(0),
    )?;
    if !migrated {
        return Ok(None);
    }
    db.query_row(
        "select max(version) from _sqlx_migrations where success",
        [],
        |r| r.get(0),
    )
}
