//! sqlx's PostgreSQL errors → [`StoreError`]: the only place the PostgreSQL backend's driver
//! errors are interpreted, so nothing above `store::postgres` sees a driver type.
//!
//! A failure the server reported is judged by its SQLSTATE class: connection trouble, lack
//! of resources, an operator's shutdown, a cancelled statement or a transaction rolled back
//! for a deadlock or serialization failure mean "try again later"
//! ([`StoreError::Unavailable`]); data the server found damaged is [`StoreError::Corrupt`];
//! the rest (a constraint no caller named, a bad statement) is a bug,
//! [`StoreError::Internal`]. Unique and foreign-key violations become
//! [`StoreError::Conflict`] only where the caller said what they mean ([`conflict_or`]),
//! with the same words as on SQLite.

use crate::store::{StoreError, StoreResult};

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

pub(super) fn from_sqlx(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match e {
        E::RowNotFound => StoreError::NotFound,
        E::Database(ref db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            by_sqlstate(&code, e)
        }
        E::Configuration(why) => StoreError::Config(why.to_string()),
        E::Io(_)
        | E::Tls(_)
        | E::Protocol(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed
        | E::BeginFailed => StoreError::Unavailable(Box::new(e)),
        E::Decode(_) | E::ColumnDecode { .. } | E::TypeNotFound { .. } => {
            StoreError::Corrupt(Box::new(e))
        }
        E::Migrate(m) => StoreError::Migration(m),
        _ => StoreError::Internal(Box::new(e)),
    }
}

/// A failure PostgreSQL reported, judged by its SQLSTATE (the class is its first two
/// characters; appendix A of the PostgreSQL manual lists them).
fn by_sqlstate(code: &str, e: sqlx::Error) -> StoreError {
    match code.get(..2).unwrap_or_default() {
        // connection exception, transaction rollback (deadlock, serialization failure),
        // insufficient resources (disk full, out of memory, too many connections), operator
        // intervention (shutdown, cancelled statement), system error (I/O).
        "08" | "40" | "53" | "57" | "58" => StoreError::Unavailable(Box::new(e)),
        // XX001 data_corrupted, XX002 index_corrupted.
        "XX" if code != "XX000" => StoreError::Corrupt(Box::new(e)),
        _ => StoreError::Internal(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_and_io_failures_say_retry_later() {
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()),
        ] {
            assert!(
                matches!(from_sqlx(e), StoreError::Unavailable(_)),
                "a database that cannot take the operation now may later"
            );
        }
        // deadlock_detected, admin_shutdown, disk_full, connection_failure.
        for code in ["40P01", "57P01", "53100", "08006"] {
            assert!(
                matches!(
                    by_sqlstate(code, sqlx::Error::PoolClosed),
                    StoreError::Unavailable(_)
                ),
                "{code} is a passing condition, not a bug"
            );
        }
    }

    #[test]
    fn missing_rows_are_not_found_and_undecodable_ones_corrupt() {
        assert!(matches!(
            from_sqlx(sqlx::Error::RowNotFound),
            StoreError::NotFound
        ));
        let decode = sqlx::Error::ColumnDecode {
            index: "role".into(),
            source: "unknown role".into(),
        };
        assert!(matches!(from_sqlx(decode), StoreError::Corrupt(_)));
        assert!(matches!(
            by_sqlstate("XX001", sqlx::Error::PoolClosed),
            StoreError::Corrupt(_)
        ));
    }

    #[test]
    fn an_unnamed_constraint_failure_or_internal_error_is_a_bug() {
        // check_violation: only `conflict_or` callers know what a violation means.
        for code in ["23514", "23505", "XX000", "42P01"] {
            assert!(
                matches!(
                    by_sqlstate(code, sqlx::Error::PoolClosed),
                    StoreError::Internal(_)
                ),
                "{code}"
            );
        }
    }
}
