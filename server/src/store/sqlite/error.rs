//! sqlx and rusqlite errors → [`StoreError`]: the only place the SQLite backend's driver
//! errors are interpreted, so nothing above `store::sqlite` sees a driver type.
//!
//! Both drivers sit on the same libsqlite3, so a failure the database reported is judged
//! by its SQLite result code either way: busy, locked, out of space or I/O mean "try again
//! later" ([`StoreError::Unavailable`]), a damaged file means [`StoreError::Corrupt`], and
//! the rest (a constraint no caller named, a bad statement) is a bug,
//! [`StoreError::Internal`]. Unique and foreign-key violations become
//! [`StoreError::Conflict`] only where the caller said what they mean ([`conflict_or`]).

use crate::store::{StoreError, StoreResult};
use rusqlite::ffi::ErrorCode;

/// Maps a driver result onto the store's, for `?` in the backend's methods.
pub(super) trait Db<T> {
    /// The same result with the error mapped to a [`StoreError`].
    fn db(self) -> StoreResult<T>;
}

impl<T> Db<T> for Result<T, sqlx::Error> {
    fn db(self) -> StoreResult<T> {
        self.map_err(from_sqlx)
    }
}

impl<T> Db<T> for Result<T, rusqlite::Error> {
    fn db(self) -> StoreResult<T> {
        self.map_err(from_rusqlite)
    }
}

/// A unique or foreign-key violation becomes `Conflict` saying `what` (the message users
/// see: "username `ann` is taken"); anything else maps as usual.
pub(super) fn conflict_or(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.into()),
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::Conflict(format!("{what}: references something that does not exist"))
        }
        _ => from_sqlx(e),
    }
}

fn from_sqlx(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match e {
        E::RowNotFound => StoreError::NotFound,
        E::Database(ref db) => {
            // sqlx-sqlite reports the extended result code as a decimal string.
            let code = db.code().and_then(|c| c.parse::<i32>().ok());
            by_code(code.map(|c| rusqlite::ffi::Error::new(c).code), e)
        }
        E::Configuration(why) => StoreError::Config(why.to_string()),
        E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::BeginFailed => {
            StoreError::Unavailable(Box::new(e))
        }
        E::Decode(_) | E::ColumnDecode { .. } => StoreError::Corrupt(Box::new(e)),
        E::Migrate(m) => StoreError::Migration(m),
        _ => StoreError::Internal(Box::new(e)),
    }
}

fn from_rusqlite(e: rusqlite::Error) -> StoreError {
    use rusqlite::Error as E;
    match e {
        E::QueryReturnedNoRows => StoreError::NotFound,
        E::SqliteFailure(ref failure, _) => by_code(Some(failure.code), e),
        E::FromSqlConversionFailure(..)
        | E::InvalidColumnType(..)
        | E::IntegralValueOutOfRange(..)
        | E::Utf8Error(..) => StoreError::Corrupt(Box::new(e)),
        _ => StoreError::Internal(Box::new(e)),
    }
}

/// A failure SQLite reported, judged by its (primary) result code.
fn by_code<E: std::error::Error + Send + Sync + 'static>(
    code: Option<ErrorCode>,
    e: E,
) -> StoreError {
    match code {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::OutOfMemory
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly,
        ) => StoreError::Unavailable(Box::new(e)),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreError::Corrupt(Box::new(e))
        }
        _ => StoreError::Internal(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rusqlite_failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn waiting_and_io_failures_say_retry_later() {
        for e in [sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed] {
            assert!(
                matches!(from_sqlx(e), StoreError::Unavailable(_)),
                "a pool that cannot give a connection now may later"
            );
        }
        // SQLITE_BUSY, SQLITE_IOERR_FSYNC (an extended code), SQLITE_FULL.
        for code in [5, 10 | (4 << 8), 13] {
            assert!(
                matches!(
                    from_rusqlite(rusqlite_failure(code)),
                    StoreError::Unavailable(_)
                ),
                "code {code} is a passing condition, not a bug"
            );
        }
    }

    #[test]
    fn missing_rows_are_not_found_and_undecodable_ones_corrupt() {
        assert!(matches!(
            from_sqlx(sqlx::Error::RowNotFound),
            StoreError::NotFound
        ));
        assert!(matches!(
            from_rusqlite(rusqlite::Error::QueryReturnedNoRows),
            StoreError::NotFound
        ));
        let decode = sqlx::Error::ColumnDecode {
            index: "role".into(),
            source: "unknown role".into(),
        };
        assert!(matches!(from_sqlx(decode), StoreError::Corrupt(_)));
        // SQLITE_CORRUPT: the file is damaged; retrying will not help.
        assert!(matches!(
            from_rusqlite(rusqlite_failure(11)),
            StoreError::Corrupt(_)
        ));
    }

    #[test]
    fn an_unnamed_constraint_failure_is_a_bug_not_a_conflict() {
        // SQLITE_CONSTRAINT_CHECK: only `conflict_or` callers know what a violation means.
        assert!(matches!(
            from_rusqlite(rusqlite_failure(19 | (1 << 8))),
            StoreError::Internal(_)
        ));
    }
}
