//! The SQL engines txova-db speaks: the ground every layer above names.

use std::fmt;

/// Which engine reported a [`DatabaseError`](crate::DatabaseError), and so how to read its code.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Backend, Db};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// assert_eq!(db.backend(), Backend::Sqlite);
/// assert_eq!(Backend::Postgres.to_string(), "postgres");
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// PostgreSQL (and wire-compatible servers such as CockroachDB): codes are SQLSTATEs.
    Postgres,
    /// SQLite: codes are extended result codes.
    Sqlite,
    /// MySQL / MariaDB: codes are server error numbers.
    MySql,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
            Self::MySql => "mysql",
        })
    }
}
