//! Errors and states other modules report through [`Error`](super::Error): they live
//! here, on the ground floor, so that `error` imports nothing above it, and each is
//! re-exported where users look for it (`cache::CacheError`, `migrate::MigrateError`,
//! `resilience::BreakerState`).

use std::fmt;
use std::time::Duration;

use super::Error;

/// The version of the envelope cached values are stored in (`{"v":1,"d":…}`).
pub(crate) const ENVELOPE_VERSION: u32 = 1;

/// What went wrong with one cache entry (inside [`Error::Cache`]).
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::cache::Cache;
/// use txova_db::store::Store;
/// use txova_db::ErrorKind;
///
/// let cache = Cache::new(Store::embedded());
/// cache.set("user:42", &"not a number").await?;
/// // A value that no longer decodes (the type changed between deploys) is an error...
/// let err = cache.get::<u64>("user:42").await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Cache);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The value could not be serialized to JSON.
    #[error("could not encode the value as JSON: {0}")]
    Encode(#[source] serde_json::Error),
    /// The stored JSON does not fit the requested type (the type changed shape).
    #[error("could not decode the stored value: {0}")]
    Decode(#[source] serde_json::Error),
    /// The entry was written in another envelope version.
    #[error("the entry has envelope version {0}; this build reads version {version}", version = ENVELOPE_VERSION)]
    Version(u32),
    /// The key is empty.
    #[error("cache keys cannot be empty")]
    EmptyKey,
}

/// Why migrating failed or refused to start.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{ErrorKind, Migrator};
///
/// // Two files with one version: refused before anything runs.
/// let err = Migrator::from_files([
///     ("0001_users.up.sql", "CREATE TABLE users (id INTEGER)"),
///     ("0001_riders.up.sql", "CREATE TABLE riders (id INTEGER)"),
/// ])
/// .unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Migration);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// A file name is not `NNNN_description.up.sql` / `.down.sql`.
    #[error(
        "`{file}` is not a migration file name (expected NNNN_description.up.sql or .down.sql)"
    )]
    BadFileName {
        /// The file.
        file: String,
    },
    /// Two files claim the same version.
    #[error("version {version} is given more than once ({files})")]
    DuplicateVersion {
        /// The version.
        version: i64,
        /// The files involved.
        files: String,
    },
    /// A `.down.sql` has no `.up.sql`.
    #[error("version {version} has a .down.sql file but no .up.sql")]
    DownWithoutUp {
        /// The version.
        version: i64,
    },
    /// Versions must follow each other.
    #[error("versions jump from {after} to {next}: a file is missing")]
    Gap {
        /// The last version before the gap.
        after: i64,
        /// The next version found.
        next: i64,
    },
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An applied migration's file changed since it ran.
    #[error(
        "migration {version} was edited after it was applied (checksum {applied} in the database, {file} on disk); revert the edit, or run `repair` if it is deliberate"
    )]
    ChecksumMismatch {
        /// The version.
        version: i64,
        /// The checksum recorded when it ran.
        applied: String,
        /// The file's checksum now.
        file: String,
    },
    /// The database records a version no file describes.
    #[error("version {version} is applied but its file is missing")]
    MissingFile {
        /// The version.
        version: i64,
    },
    /// A previous migration failed part-way.
    #[error(
        "the database is dirty at version {version}: a migration failed; fix it, then `force` the last good version"
    )]
    Dirty {
        /// The version that failed.
        version: i64,
    },
    /// Going down needs a `.down.sql` file.
    #[error("migration {version} has no .down.sql file")]
    NoDown {
        /// The version.
        version: i64,
    },
    /// Another migrator holds the lock.
    #[error("could not take the migration lock within {after:?}{}", holder.as_deref().map(|h| format!(" (held by {h})")).unwrap_or_default())]
    LockTimeout {
        /// How long we waited.
        after: Duration,
        /// Who holds it, where the database says.
        holder: Option<String>,
    },
    /// A migration's SQL failed.
    #[error("migration {version} ({description}) failed: {source}")]
    Failed {
        /// The version.
        version: i64,
        /// Its description.
        description: String,
        /// The database error.
        #[source]
        source: Box<Error>,
    },
}

/// The state of a [`CircuitBreaker`](crate::resilience::CircuitBreaker).
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::resilience::{BreakerState, CircuitBreaker};
///
/// let breaker = CircuitBreaker::builder("payments")
///     .ready_to_trip(|counts| counts.consecutive_failures >= 2)
///     .build();
/// assert_eq!(breaker.state(), BreakerState::Closed);
/// // A pool that is gone counts as a failure (a missing row would not).
/// for _ in 0..2 {
///     let _ = breaker.call(|| async { Err::<(), _>(txova_db::Error::PoolClosed) }).await;
/// }
/// assert_eq!(breaker.state(), BreakerState::Open);
/// // Open: calls fail at once, without running.
/// let err = breaker.call(|| async { Ok::<_, txova_db::Error>(()) }).await.unwrap_err();
/// assert_eq!(err.kind(), txova_db::ErrorKind::CircuitOpen);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls fail at once with [`Error::CircuitOpen`] until the open timeout passes.
    Open,
    /// A few trial calls (`max_requests`) go through; their outcome closes or reopens
    /// the breaker.
    HalfOpen,
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        })
    }
}
