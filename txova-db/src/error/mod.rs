//! The one error type of txova-db, and the kinds callers match on.
//!
//! Every fallible call in the crate returns [`Result<T, Error>`](crate::Result). Code that
//! wants to react to *what* went wrong matches on [`Error::kind`], which is stable across
//! backends: a unique-key violation is [`ErrorKind::Duplicate`] whether Postgres reported
//! SQLSTATE `23505`, SQLite `SQLITE_CONSTRAINT_UNIQUE` or MySQL error 1062.
//!
//! ```
//! use txova_db::{Error, ErrorKind};
//!
//! fn describe(err: &Error) -> &'static str {
//!     match err.kind() {
//!         ErrorKind::Duplicate => "that name is taken",
//!         ErrorKind::NotFound => "no such thing",
//!         _ if err.is_retryable() => "busy, try again",
//!         _ => "internal error",
//!     }
//! }
//! # let _ = describe;
//! ```

mod codes;
mod payload;

use std::fmt;
use std::time::Duration;

pub use codes::{kind_for_mysql_code, kind_for_sqlite_code, kind_for_sqlstate};
// Where it always was for users; it lives on the ground floor beside the errors.
pub use crate::backend::Backend;
pub(crate) use payload::ENVELOPE_VERSION;
pub use payload::{BreakerState, CacheError, MigrateError};

/// The error type of every fallible txova-db operation.
///
/// Match on [`Error::kind`] rather than on the variants when the question is "what kind
/// of failure is this": variants carry the details (driver code, constraint, timings),
/// kinds are the stable vocabulary. Credentials never appear in the `Display` or `Debug`
/// output of an error.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Backend, Db, ErrorKind};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE)").await?;
/// db.execute("INSERT INTO users (email) VALUES ('ana@example.com')").await?;
/// let Err(err) = db.execute("INSERT INTO users (email) VALUES ('ana@example.com')").await else {
///     panic!("a second row with the same email");
/// };
/// assert_eq!(err.kind(), ErrorKind::Duplicate);
/// assert!(!err.is_retryable());
/// assert_eq!(err.as_database().map(|e| e.backend()), Some(Backend::Sqlite));
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A query that had to return a row returned none.
    #[error("no row found")]
    NotFound,

    /// The database server (or embedded engine) rejected a statement.
    #[error(transparent)]
    Database(Box<DatabaseError>),

    /// The connection to the server failed or broke (I/O, TLS, protocol, server
    /// shutdown). The statement may or may not have run.
    #[error("connection to {target} failed: {source}")]
    Connection {
        /// Where we were connecting to or talking with (`host:port`, or the file path).
        target: String,
        /// What the driver reported.
        #[source]
        source: sqlx::Error,
    },

    /// Establishing a connection did not finish within the configured connect timeout.
    #[error("could not connect to {target} within {after:?}")]
    ConnectTimeout {
        /// Where we were connecting to (`host:port`, or the file path).
        target: String,
        /// The connect timeout that elapsed.
        after: Duration,
    },

    /// No pooled connection became free within the acquire timeout.
    #[error("timed out after {after:?} waiting for a pooled connection")]
    PoolTimeout {
        /// The acquire timeout that elapsed.
        after: Duration,
    },

    /// The pool was closed with [`Db::close`](crate::Db::close).
    #[error("the connection pool is closed")]
    PoolClosed,

    /// A call did not finish within the limit its `.timeout(..)` set (waiting for a
    /// connection included). The statement it was running is cancelled on the server:
    /// outside a transaction at once, inside one before the transaction's next
    /// statement, whose failure then dooms the transaction on Postgres.
    #[error("the statement did not finish within {after:?} and was cancelled")]
    StatementTimeout {
        /// The limit that elapsed.
        after: Duration,
    },

    /// A value could not be decoded into the requested Rust type, or a column was missing.
    #[error("could not decode column {column}: {source}")]
    Decode {
        /// The column name or index.
        column: String,
        /// What the driver reported.
        #[source]
        source: sqlx::Error,
    },

    /// A column name from runtime input is not in the table's allowlist.
    #[error("unknown column `{column}` for table `{table}`")]
    InvalidColumn {
        /// The table whose allowlist was consulted.
        table: String,
        /// The rejected name, as given.
        column: String,
    },

    /// Migrating failed, or the migration files or history are inconsistent.
    #[error(transparent)]
    Migration(Box<MigrateError>),

    /// The connection was lost while COMMIT was in flight: the transaction may or may
    /// not have been committed. Never retried automatically; check before repeating.
    #[error("the outcome of COMMIT is unknown: {source}")]
    AmbiguousCommit {
        /// The connection failure.
        #[source]
        source: Box<Error>,
    },

    /// The transaction was rolled back instead of committed: a statement in it failed
    /// on the server and the body carried on (it handled or ignored the error), so the
    /// server could no longer commit it. Nothing of it was committed, and no
    /// after-commit work ran.
    #[error("the transaction was rolled back, not committed{}", match cause {
        Some(cause) => format!(": an earlier statement failed ({cause})"),
        None => String::from(": the database had already rolled it back"),
    })]
    RolledBack {
        /// The failure that doomed the transaction, where known.
        #[source]
        cause: Option<AbortCause>,
    },

    /// A statement built at runtime is inconsistent (placeholders and values disagree,
    /// nothing to insert or update, …).
    #[error("invalid query: {reason}")]
    InvalidQuery {
        /// What is wrong with it.
        reason: String,
    },

    /// The backend cannot do what the statement asks and txova-db does not emulate it
    /// (e.g. `SKIP LOCKED` on SQLite, `RETURNING` on MySQL).
    #[error("{feature} is not supported on {backend}")]
    Unsupported {
        /// The SQL feature.
        feature: &'static str,
        /// The backend that lacks it.
        backend: Backend,
    },

    /// The configuration or a connection URL is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),

    /// Any other failure reported by the driver.
    #[error(transparent)]
    Driver(sqlx::Error),

    /// The key-value store (Redis, or the embedded store) failed: a broken or refused
    /// connection ([`ErrorKind::Connection`]), a command that outran its timeout
    /// ([`ErrorKind::Timeout`]), or an error reply ([`ErrorKind::Cache`]).
    #[error("{kind} error from the store ({target}): {source}")]
    Store {
        /// The classification: `Connection`, `Timeout` or `Cache`.
        kind: ErrorKind,
        /// The server or topology the command went to (no credentials).
        target: String,
        /// What the client reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A cached value could not be encoded or decoded (a type that changed shape, a
    /// value written by a newer envelope version), or a cache key is unusable.
    #[error("cache entry `{key}`: {source}")]
    Cache {
        /// The key, as sent to the store.
        key: String,
        /// What went wrong.
        #[source]
        source: CacheError,
    },

    /// A distributed lock stayed held by someone else until the wait's deadline.
    #[error("lock `{key}` not acquired within {waited:?}")]
    LockNotAcquired {
        /// The lock's key in the store.
        key: String,
        /// How long the acquire waited.
        waited: Duration,
    },

    /// A lock held by this process expired (or was taken over) before its body
    /// finished: its protection no longer holds.
    #[error("lock `{key}` was lost before the work under it finished")]
    LockLost {
        /// The lock's key in the store.
        key: String,
    },

    /// A release or extension by a holder whose ownership had ended: the lock expired
    /// and may now belong to another holder, whose ownership is left untouched.
    #[error("lock `{key}` is not held by this owner (it expired or was taken over)")]
    NotLockOwner {
        /// The lock's key in the store.
        key: String,
    },

    /// A key or name given to a store pattern (lock, rate limit, session) is unusable.
    #[error("invalid key `{key}`: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A circuit breaker refused the call: it is open (the backend failed recently), or
    /// half-open with its trial calls already in flight.
    #[error("circuit `{name}` is {state}: call refused")]
    CircuitOpen {
        /// The breaker's name.
        name: String,
        /// Its state when it refused.
        state: BreakerState,
    },

    /// A rate limit rejected the call.
    #[error("rate limit for `{key}` exceeded; retry after {retry_after:?}")]
    RateLimited {
        /// The limited key (without the store prefix).
        key: String,
        /// How long until a call may be allowed again.
        retry_after: Duration,
    },
}

/// The stable classification of an [`Error`], for matching.
///
/// New kinds may be added in minor releases, so matches need a wildcard arm.
///
/// ```
/// use txova_db::{Error, ErrorKind};
///
/// /// The HTTP status an API answers a failed request with.
/// fn status(err: &Error) -> u16 {
///     match err.kind() {
///         ErrorKind::NotFound => 404,
///         ErrorKind::Duplicate => 409,
///         ErrorKind::Check | ErrorKind::NotNull | ErrorKind::ForeignKey => 422,
///         ErrorKind::Timeout | ErrorKind::Connection | ErrorKind::Busy => 503,
///         _ => 500,
///     }
/// }
/// assert_eq!(status(&Error::NotFound), 404);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No row where one was required.
    NotFound,
    /// Unique or primary-key violation (SQLSTATE 23505, SQLite 2067/1555, MySQL 1062).
    Duplicate,
    /// Foreign-key violation (23503, SQLite 787, MySQL 1451/1452).
    ForeignKey,
    /// NOT NULL violation (23502, SQLite 1299, MySQL 1048).
    NotNull,
    /// CHECK or exclusion constraint violation (23514, 23P01, SQLite 275, MySQL 3819).
    Check,
    /// Serialization failure (40001): retry the whole transaction.
    Serialization,
    /// Deadlock detected (40P01, MySQL 1213): retry the whole transaction.
    Deadlock,
    /// A lock could not be taken in time (SQLITE_BUSY, SQLITE_LOCKED, Postgres 55P03,
    /// MySQL 1205): retry the whole transaction.
    Busy,
    /// A statement or an acquire ran out of time (57014 statement timeout or
    /// cancellation, pool acquire timeout, MySQL 3024).
    Timeout,
    /// The connection failed or broke (class 08, 57P01–57P03, 53300, I/O, TLS, a
    /// protocol error that leaves the session in an unknown state, connect timeout).
    /// A statement that failed this way is not run again.
    Connection,
    /// The pool has been closed.
    PoolClosed,
    /// A runtime column name missed the table's allowlist.
    InvalidColumn,
    /// A value could not be decoded into the Rust type asked for.
    Decode,
    /// A migration failed or the migration history is inconsistent.
    Migration,
    /// The cache store failed.
    Cache,
    /// A distributed lock could not be acquired before its deadline.
    LockNotAcquired,
    /// A held distributed lock expired or was taken over.
    LockLost,
    /// A lock was released or extended by someone who does not own it.
    NotLockOwner,
    /// A rate limit rejected the call.
    RateLimited,
    /// A key or name given to a lock, rate limit or session call is unusable (empty, or
    /// holding characters the store gives a meaning).
    InvalidKey,
    /// A circuit breaker is open and short-circuited the call.
    CircuitOpen,
    /// Invalid configuration or connection URL.
    Config,
    /// The connection died during COMMIT: the outcome is unknown.
    AmbiguousCommit,
    /// The transaction could not commit (a statement in it had failed) and was rolled
    /// back.
    RolledBack,
    /// A statement built at runtime is inconsistent.
    InvalidQuery,
    /// The backend lacks a feature the statement needs.
    Unsupported,
    /// Any other error the server reported (syntax error, undefined table, …).
    Database,
    /// Anything else.
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl ErrorKind {
    /// Whether a transaction that failed with this kind can safely be run again from the
    /// start: serialization failures, deadlocks and lock contention.
    pub const fn is_retryable(self) -> bool {
        matches!(self, Self::Serialization | Self::Deadlock | Self::Busy)
    }
}

/// A statement rejected by the database, with everything the server told us about it.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, ErrorKind};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE rides (fare INTEGER NOT NULL CHECK (fare >= 0))").await?;
/// let err = db.execute("INSERT INTO rides (fare) VALUES (-1)").await.unwrap_err();
/// let database = err.as_database().expect("the database refused it");
/// assert_eq!(database.kind(), ErrorKind::Check);
/// assert_eq!(database.code(), "275"); // SQLITE_CONSTRAINT_CHECK
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(thiserror::Error)]
#[error("{kind} error from {backend} ({code}): {message}")]
pub struct DatabaseError {
    kind: ErrorKind,
    backend: Backend,
    code: String,
    message: String,
    constraint: Option<String>,
    table: Option<String>,
    #[source]
    source: sqlx::Error,
}

impl DatabaseError {
    /// The classification of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The engine that reported it.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The driver code: a SQLSTATE on Postgres (`"23505"`), the extended result code on
    /// SQLite (`"2067"`), the server error number on MySQL (`"1062"`).
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The server's message, with the values of rows it may quote shown as `***`
    /// (MySQL's `Duplicate entry '***' for key 'users.email'`, Postgres' `invalid input
    /// syntax for type integer: "***"`): a rejected row may hold a password or an
    /// address, and errors are logged. The driver's own error, with the server's
    /// detail (Postgres: `Key (email)=(…) already exists`), is this error's
    /// [`source`](std::error::Error::source), which neither `Display` nor `Debug` shows.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The violated constraint's name, where the server names it (Postgres always does;
    /// on SQLite this is the `table.column` list from the message).
    pub fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }

    /// The table involved, where the server names it.
    pub fn table(&self) -> Option<&str> {
        self.table.as_deref()
    }
}

/// The failed statement behind an [`Error::RolledBack`]: what the server reported when
/// the transaction failed, kept after the error itself went to the body.
///
/// ```
/// # async fn demo(db: txova_db::Db) -> txova_db::Result<()> {
/// use txova_db::{Error, ErrorKind};
///
/// let committed = db
///     .transaction(|_tx| {
///         let db = db.clone();
///         async move {
///             // The body swallows the failure; Postgres will not commit after it.
///             let _ = db.execute("INSERT INTO no_such_table VALUES (1)").await;
///             Ok::<_, Error>(())
///         }
///     })
///     .await;
/// let Err(Error::RolledBack { cause: Some(cause) }) = committed else {
///     panic!("committed after a failed statement");
/// };
/// assert_eq!(cause.code(), Some("42P01"));
/// assert_eq!(cause.kind(), ErrorKind::Database);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} error{}: {message}", match code { Some(code) => format!(" ({code})"), None => String::new() })]
pub struct AbortCause {
    kind: ErrorKind,
    code: Option<String>,
    message: String,
}

impl AbortCause {
    /// Reads a driver error without taking it.
    pub(crate) fn of(error: &sqlx::Error) -> Self {
        match error.as_database_error() {
            Some(db) => {
                let (kind, code, message) = codes::kind_code_and_message(db);
                Self {
                    kind,
                    code: Some(code),
                    message,
                }
            }
            None => Self {
                kind: ErrorKind::Other,
                code: None,
                message: error.to_string(),
            },
        }
    }

    /// The failure's kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The driver code (SQLSTATE, SQLite or MySQL error number), if the server sent one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The server's message, without the values of rows it may quote (as
    /// [`DatabaseError::message`]).
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A sort key from user input (`?sort=-created_at`) that names no sortable column.
///
/// ```
/// use txova_db::Table;
///
/// #[derive(Table)]
/// #[table(name = "rides")]
/// struct Ride {
///     #[column(primary_key)]
///     id: i64,
///     #[column(sortable)]
///     fare_cents: i64,
///     pickup: String,
/// }
///
/// // `?sort=pickup` from a client: not a sortable column, so not a sort key.
/// let err = "pickup".parse::<RideSort>().unwrap_err();
/// assert_eq!(err.key, "pickup");
/// assert_eq!(err.expected, "fare_cents");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` is not a sort key of `{table}` (expected one of: {expected})")]
pub struct InvalidSortKey {
    /// The table.
    pub table: &'static str,
    /// The key as given.
    pub key: String,
    /// The accepted keys, comma-separated.
    pub expected: &'static str,
}

impl From<InvalidSortKey> for Error {
    fn from(err: InvalidSortKey) -> Self {
        Error::InvalidColumn {
            table: err.table.to_owned(),
            column: err.key,
        }
    }
}

/// Why a configuration or connection URL was rejected.
///
/// ```
/// use txova_db::{ConfigError, DbConfig};
///
/// let err = DbConfig::from_lookup(|_| None).unwrap_err();
/// assert!(matches!(err, ConfigError::Missing { ref key } if key == "DATABASE_URL"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The URL could not be parsed. The text is never echoed back, as it may hold a password.
    #[error("the database URL is malformed ({reason})")]
    MalformedUrl {
        /// What the parser objected to.
        reason: String,
    },
    /// The URL's scheme names no backend this build supports.
    #[error("unsupported database URL scheme `{scheme}` (expected {expected})")]
    UnsupportedScheme {
        /// The scheme found.
        scheme: String,
        /// The schemes this build accepts.
        expected: &'static str,
    },
    /// An environment variable or setting has a value that does not parse.
    #[error("invalid value for {key}: {reason}")]
    InvalidValue {
        /// The setting or environment variable.
        key: String,
        /// Why the value was rejected.
        reason: String,
    },
    /// A required setting is missing.
    #[error("missing setting {key}")]
    Missing {
        /// The setting or environment variable.
        key: String,
    },
}

impl Error {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::Database(db) => db.kind,
            Self::Connection { .. } | Self::ConnectTimeout { .. } => ErrorKind::Connection,
            Self::PoolTimeout { .. } | Self::StatementTimeout { .. } => ErrorKind::Timeout,
            Self::PoolClosed => ErrorKind::PoolClosed,
            Self::Decode { .. } => ErrorKind::Decode,
            Self::InvalidColumn { .. } => ErrorKind::InvalidColumn,
            Self::Config(_) => ErrorKind::Config,
            Self::InvalidQuery { .. } => ErrorKind::InvalidQuery,
            Self::AmbiguousCommit { .. } => ErrorKind::AmbiguousCommit,
            Self::RolledBack { .. } => ErrorKind::RolledBack,
            Self::Migration(_) => ErrorKind::Migration,
            Self::Unsupported { .. } => ErrorKind::Unsupported,
            Self::Driver(_) => ErrorKind::Other,
            Self::Store { kind, .. } => *kind,
            Self::Cache { .. } => ErrorKind::Cache,
            Self::LockNotAcquired { .. } => ErrorKind::LockNotAcquired,
            Self::LockLost { .. } => ErrorKind::LockLost,
            Self::NotLockOwner { .. } => ErrorKind::NotLockOwner,
            Self::RateLimited { .. } => ErrorKind::RateLimited,
            Self::InvalidKey { .. } => ErrorKind::InvalidKey,
            Self::CircuitOpen { .. } => ErrorKind::CircuitOpen,
        }
    }

    /// Whether the failed transaction can safely be retried from the start
    /// (serialization failure, deadlock, lock contention).
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }

    /// The driver code (SQLSTATE, SQLite extended result code, MySQL error number), for
    /// errors the database reported.
    pub fn code(&self) -> Option<&str> {
        self.as_database().map(DatabaseError::code)
    }

    /// The violated constraint, for constraint errors where the server names it.
    pub fn constraint(&self) -> Option<&str> {
        self.as_database().and_then(DatabaseError::constraint)
    }

    /// The details of an error the database reported.
    pub fn as_database(&self) -> Option<&DatabaseError> {
        match self {
            Self::Database(db) => Some(db),
            _ => None,
        }
    }

    /// Converts a driver error, naming `target` (a redacted host or file) for connection
    /// failures and `after` as the acquire timeout in force.
    pub(crate) fn from_sqlx(err: sqlx::Error, target: &str, acquire_timeout: Duration) -> Self {
        match err {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut => Self::PoolTimeout {
                after: acquire_timeout,
            },
            sqlx::Error::PoolClosed => Self::PoolClosed,
            sqlx::Error::Database(db) => Self::Database(Box::new(codes::classify(db))),
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => Self::Connection {
                target: target.to_owned(),
                source: err,
            },
            sqlx::Error::ColumnNotFound(ref column) => Self::Decode {
                column: column.clone(),
                source: err,
            },
            sqlx::Error::ColumnDecode { ref index, .. } => Self::Decode {
                column: index.clone(),
                source: err,
            },
            sqlx::Error::ColumnIndexOutOfBounds { index, .. } => Self::Decode {
                column: index.to_string(),
                source: err,
            },
            sqlx::Error::Decode(_) | sqlx::Error::TypeNotFound { .. } => Self::Decode {
                column: String::from("?"),
                source: err,
            },
            sqlx::Error::Configuration(ref cause) => Self::Config(ConfigError::InvalidValue {
                key: String::from("connection options"),
                reason: cause.to_string(),
            }),
            other => Self::Driver(other),
        }
    }
}

impl DatabaseError {
    /// `message`: the server's, without the row values it may quote (see
    /// [`message`](Self::message)).
    pub(crate) fn new(
        kind: ErrorKind,
        backend: Backend,
        code: String,
        constraint: Option<String>,
        table: Option<String>,
        message: String,
        source: sqlx::Error,
    ) -> Self {
        Self {
            kind,
            backend,
            code,
            message,
            constraint,
            table,
            source,
        }
    }
}

impl fmt::Debug for DatabaseError {
    /// Everything but the driver's error, whose detail may quote the rejected row.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseError")
            .field("kind", &self.kind)
            .field("backend", &self.backend)
            .field("code", &self.code)
            .field("message", &self.message)
            .field("constraint", &self.constraint)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl From<sqlx::Error> for Error {
    /// Converts a driver error met outside a [`Db`](crate::Db) (e.g. from a raw sqlx pool).
    fn from(err: sqlx::Error) -> Self {
        Self::from_sqlx(err, "database", Duration::ZERO)
    }
}
