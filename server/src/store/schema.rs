//! Running a backend's embedded migrations (sqlx's migrator, shared by both backends) and
//! turning its failures into [`StoreError::Migration`] with a message an operator can act on.

use sqlx::migrate::{MigrateError, Migrator};

use super::StoreError;

/// The failure of `migrator.run(…)`. A migration the database has and this binary lacks means
/// a newer Kefu migrated it: start-up stops with one line naming that version, since running
/// old code on a newer schema could lose or misread data.
pub(crate) fn migration_error(e: MigrateError, migrator: &Migrator) -> StoreError {
    match e {
        MigrateError::VersionMissing(version) => StoreError::Migration(
            format!(
                "the database has schema version {version}, newer than this kefu knows (up to \
                 {}): it was migrated by a newer Kefu; run that version or a later one",
                latest(migrator)
            )
            .into(),
        ),
        e => StoreError::Migration(Box::new(e)),
    }
}

/// The newest schema version `migrator` knows.
pub(crate) fn latest(migrator: &Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}
