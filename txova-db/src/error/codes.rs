//! Driver codes → [`ErrorKind`]: one table per backend, kept apart from the error type
//! so each mapping can be read (and tested) against the server's documentation.

use super::{Backend, DatabaseError, ErrorKind};

/// Classifies a PostgreSQL SQLSTATE (CockroachDB uses the same codes).
///
/// ```
/// use txova_db::{ErrorKind, error::kind_for_sqlstate};
/// assert_eq!(kind_for_sqlstate("23505"), ErrorKind::Duplicate);
/// assert_eq!(kind_for_sqlstate("40001"), ErrorKind::Serialization);
/// assert_eq!(kind_for_sqlstate("08006"), ErrorKind::Connection);
/// ```
pub fn kind_for_sqlstate(code: &str) -> ErrorKind {
    match code {
        "23505" => ErrorKind::Duplicate,
        "23503" => ErrorKind::ForeignKey,
        "23502" => ErrorKind::NotNull,
        "23514" | "23P01" => ErrorKind::Check,
        "40001" => ErrorKind::Serialization,
        "40P01" => ErrorKind::Deadlock,
        // lock_not_available: NOWAIT, or lock_timeout elapsed.
        "55P03" => ErrorKind::Busy,
        // query_canceled: statement_timeout, or a cancel request.
        "57014" => ErrorKind::Timeout,
        // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
        "57P01" | "57P02" | "57P03" | "57P05" | "53300" => ErrorKind::Connection,
        code if code.starts_with("08") => ErrorKind::Connection,
        _ => ErrorKind::Database,
    }
}

/// Classifies a SQLite extended result code (`sqlite3_extended_errcode`).
///
/// ```
/// use txova_db::{ErrorKind, error::kind_for_sqlite_code};
/// assert_eq!(kind_for_sqlite_code(2067), ErrorKind::Duplicate); // SQLITE_CONSTRAINT_UNIQUE
/// assert_eq!(kind_for_sqlite_code(5), ErrorKind::Busy); // SQLITE_BUSY
/// ```
pub fn kind_for_sqlite_code(code: i32) -> ErrorKind {
    match code {
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
        2067 | 1555 => ErrorKind::Duplicate,
        // SQLITE_CONSTRAINT_FOREIGNKEY
        787 => ErrorKind::ForeignKey,
        // SQLITE_CONSTRAINT_NOTNULL
        1299 => ErrorKind::NotNull,
        // SQLITE_CONSTRAINT_CHECK
        275 => ErrorKind::Check,
        // SQLITE_BUSY and its extended codes (RECOVERY, SNAPSHOT, TIMEOUT), SQLITE_LOCKED
        // and SQLITE_LOCKED_SHAREDCACHE.
        5 | 261 | 517 | 773 | 6 | 262 => ErrorKind::Busy,
        // SQLITE_INTERRUPT
        9 => ErrorKind::Timeout,
        // SQLITE_IOERR and extended codes, SQLITE_CANTOPEN and extended codes.
        code if code & 0xff == 10 || code & 0xff == 14 => ErrorKind::Connection,
        _ => ErrorKind::Database,
    }
}

/// Classifies a MySQL / MariaDB server error number.
///
/// ```
/// use txova_db::{ErrorKind, error::kind_for_mysql_code};
/// assert_eq!(kind_for_mysql_code(1062), ErrorKind::Duplicate);
/// assert_eq!(kind_for_mysql_code(1213), ErrorKind::Deadlock);
/// ```
pub fn kind_for_mysql_code(number: u16) -> ErrorKind {
    match number {
        // ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME
        1062 | 1586 => ErrorKind::Duplicate,
        // ER_ROW_IS_REFERENCED(_2), ER_NO_REFERENCED_ROW(_2)
        1451 | 1452 | 1216 | 1217 => ErrorKind::ForeignKey,
        // ER_BAD_NULL_ERROR
        1048 => ErrorKind::NotNull,
        // ER_CHECK_CONSTRAINT_VIOLATED (MySQL), ER_CONSTRAINT_FAILED (MariaDB)
        3819 | 4025 => ErrorKind::Check,
        // ER_LOCK_DEADLOCK
        1213 => ErrorKind::Deadlock,
        // ER_LOCK_WAIT_TIMEOUT, ER_LOCK_NOWAIT
        1205 | 3572 => ErrorKind::Busy,
        // ER_QUERY_TIMEOUT (MySQL max_execution_time), ER_STATEMENT_TIMEOUT (MariaDB),
        // ER_QUERY_INTERRUPTED
        3024 | 1969 | 1317 => ErrorKind::Timeout,
        // ER_CON_COUNT_ERROR, ER_SERVER_SHUTDOWN, ER_NET_*
        1040 | 1053 | 1152..=1161 => ErrorKind::Connection,
        _ => ErrorKind::Database,
    }
}

/// The kind, driver code and message (without row values) of a database error, by
/// backend, without taking it.
pub(super) fn kind_code_and_message(
    db: &dyn sqlx::error::DatabaseError,
) -> (ErrorKind, String, String) {
    match crate::backend::read_error(db) {
        Some(read) => (read.kind, read.code, read.message),
        None => (
            ErrorKind::Database,
            db.code().map(|c| c.into_owned()).unwrap_or_default(),
            db.message().to_owned(),
        ),
    }
}

/// Reads a driver's database error into our [`DatabaseError`], by backend.
pub(super) fn classify(db: Box<dyn sqlx::error::DatabaseError>) -> DatabaseError {
    if let Some(read) = crate::backend::read_error(&*db) {
        return DatabaseError::new(
            read.kind,
            read.backend,
            read.code,
            read.constraint,
            read.table,
            read.message,
            sqlx::Error::Database(db),
        );
    }
    // A driver we do not know (e.g. sqlx's `Any`): fall back on its generic kind.
    let kind = match db.kind() {
        sqlx::error::ErrorKind::UniqueViolation => ErrorKind::Duplicate,
        sqlx::error::ErrorKind::ForeignKeyViolation => ErrorKind::ForeignKey,
        sqlx::error::ErrorKind::NotNullViolation => ErrorKind::NotNull,
        sqlx::error::ErrorKind::CheckViolation | sqlx::error::ErrorKind::ExclusionViolation => {
            ErrorKind::Check
        }
        _ => ErrorKind::Database,
    };
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    let constraint = db.constraint().map(str::to_owned);
    let table = db.table().map(str::to_owned);
    let message = db.message().to_owned();
    DatabaseError::new(
        kind,
        Backend::Postgres,
        code,
        constraint,
        table,
        message,
        sqlx::Error::Database(db),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstate_classes() {
        assert_eq!(kind_for_sqlstate("23502"), ErrorKind::NotNull);
        assert_eq!(kind_for_sqlstate("23503"), ErrorKind::ForeignKey);
        assert_eq!(kind_for_sqlstate("23514"), ErrorKind::Check);
        assert_eq!(kind_for_sqlstate("40P01"), ErrorKind::Deadlock);
        assert_eq!(kind_for_sqlstate("57014"), ErrorKind::Timeout);
        assert_eq!(kind_for_sqlstate("08001"), ErrorKind::Connection);
        assert_eq!(kind_for_sqlstate("57P01"), ErrorKind::Connection);
        assert_eq!(kind_for_sqlstate("57P05"), ErrorKind::Connection);
        assert_eq!(kind_for_sqlstate("53300"), ErrorKind::Connection);
        assert_eq!(kind_for_sqlstate("42P01"), ErrorKind::Database);
        assert!(kind_for_sqlstate("40001").is_retryable());
        assert!(!kind_for_sqlstate("23505").is_retryable());
    }

    #[test]
    fn sqlite_codes() {
        assert_eq!(kind_for_sqlite_code(1555), ErrorKind::Duplicate);
        assert_eq!(kind_for_sqlite_code(787), ErrorKind::ForeignKey);
        assert_eq!(kind_for_sqlite_code(1299), ErrorKind::NotNull);
        assert_eq!(kind_for_sqlite_code(275), ErrorKind::Check);
        assert_eq!(kind_for_sqlite_code(517), ErrorKind::Busy);
        assert_eq!(kind_for_sqlite_code(6), ErrorKind::Busy);
        assert_eq!(kind_for_sqlite_code(14), ErrorKind::Connection);
        assert_eq!(kind_for_sqlite_code(1034), ErrorKind::Connection); // SQLITE_IOERR_FSYNC
        assert_eq!(kind_for_sqlite_code(1), ErrorKind::Database);
    }

    #[test]
    fn mysql_codes() {
        assert_eq!(kind_for_mysql_code(1452), ErrorKind::ForeignKey);
        assert_eq!(kind_for_mysql_code(1048), ErrorKind::NotNull);
        assert_eq!(kind_for_mysql_code(4025), ErrorKind::Check);
        assert_eq!(kind_for_mysql_code(1205), ErrorKind::Busy);
        assert_eq!(kind_for_mysql_code(3024), ErrorKind::Timeout);
        assert_eq!(kind_for_mysql_code(1064), ErrorKind::Database);
    }
}
