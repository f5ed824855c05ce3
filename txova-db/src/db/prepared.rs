//! [`Db::prepare`]: a statement checked by the server once, reused across the pool.

use std::fmt;
use std::sync::Arc;

use super::{Db, ambient, driver, telemetry, with_pool};
use crate::error::Error;
use crate::query::Query;

/// A statement the server has parsed and planned, from [`Db::prepare`]: its SQL, how
/// many parameters it takes and the columns it returns. Run it with
/// [`query`](Self::query), which binds like any [`Query`] and refuses a wrong number
/// of parameters before anything is sent.
///
/// **How it relates to sqlx's statement cache.** Every statement txova-db runs is
/// already prepared once per connection and cached there (sqlx's implicit cache: a
/// second run on that connection skips the parse and plan), so `prepare` does not make
/// a statement faster. What it adds: the server checks the statement when the service
/// starts rather than on the first request (a syntax error or a missing column is an
/// error from `prepare`), the statement is in the cache of the connection it was
/// prepared on, and its shape is known to code that needs it. Other connections
/// prepare it lazily, on their first run, and keep it. Worth it for a hot statement
/// whose failure should stop a deploy, or whose columns are checked at start-up; not
/// for a statement run once.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::Db;
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE fares (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL)").await?;
/// let by_id = db.prepare("SELECT id, cents FROM fares WHERE id = ?").await?;
/// assert_eq!(by_id.parameters(), Some(1));
/// assert_eq!(by_id.columns()[1].name, "cents");
/// assert!(by_id.query().fetch_optional(&db).await.is_err()); // one parameter, none bound
/// assert!(by_id.query().bind(7_i64).fetch_optional(&db).await?.is_none());
/// // The server refuses a broken statement at once.
/// assert!(db.prepare("SELECT nope FROM fares").await.is_err());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct Prepared {
    sql: Arc<str>,
    parameters: Option<usize>,
    columns: Vec<PreparedColumn>,
}

/// A result column of a [`Prepared`] statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedColumn {
    /// Its name.
    pub name: String,
    /// The server's name of its type (`INT8`, `TEXT`, `BIGINT`…).
    pub type_name: String,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("sql", &self.sql)
            .field("parameters", &self.parameters)
            .field("columns", &self.columns)
            .finish()
    }
}

impl Prepared {
    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// How many parameters it takes, where the backend says (all three do).
    pub fn parameters(&self) -> Option<usize> {
        self.parameters
    }

    /// The columns it returns (none for a statement that returns no rows).
    pub fn columns(&self) -> &[PreparedColumn] {
        &self.columns
    }

    /// A [`Query`] of this statement, to bind and run on any executor of the same
    /// database.
    pub fn query(&self) -> Query<'static> {
        crate::query::query(self.sql.to_string()).expecting(self.parameters)
    }
}

impl Db {
    /// Prepares `sql` on a connection of the pool (or the task's transaction), so the
    /// server checks it now; see [`Prepared`].
    pub async fn prepare(&self, sql: &str) -> Result<Prepared, Error> {
        let described = run_on_pool!(self, describe, sql)?;
        Ok(Prepared {
            sql: Arc::from(sql),
            parameters: described.parameters,
            columns: described
                .columns
                .into_iter()
                .map(|(name, type_name)| PreparedColumn { name, type_name })
                .collect(),
        })
    }
}

impl telemetry::ReturnedRows for driver::Described {
    fn returned_rows(&self) -> Option<usize> {
        None
    }
}
