//! Raw SQL with bound parameters: the escape hatch beneath the typed builder.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::db::Db;
use crate::error::Error;
use crate::row::Row;
use crate::types::{Bind, Param};

/// Starts a raw statement. Placeholders are the backend's own: `$1, $2, …` on Postgres,
/// `?` on SQLite and MySQL (SQLite also accepts `$1`).
///
/// Every value is sent as a bind parameter, never spliced into the SQL text.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// let db = txova_db::Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE drivers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").await?;
/// let inserted = txova_db::query("INSERT INTO drivers (name) VALUES ($1), ($2)")
///     .bind("Ana")
///     .bind("Rui")
///     .execute(&db)
///     .await?;
/// assert_eq!(inserted, 2);
/// let names: Vec<String> = txova_db::query("SELECT name FROM drivers ORDER BY name")
///     .fetch_all(&db)
///     .await?
///     .iter()
///     .map(|row| row.try_get(0))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(names, ["Ana", "Rui"]);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
pub fn query<'q>(sql: impl Into<Cow<'q, str>>) -> Query<'q> {
    Query {
        sql: sql.into(),
        params: Vec::new(),
    }
}

/// A raw statement and its parameters; build it with [`query`].
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::Db;
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)").await?;
/// // Raw SQL with `$n` placeholders on every backend; values are always bound.
/// txova_db::query("INSERT INTO users (name) VALUES ($1), ($2)")
///     .bind("Ana")
///     .bind("Rui")
///     .execute(&db)
///     .await?;
/// let row = txova_db::query("SELECT count(*) AS n FROM users WHERE name <> $1")
///     .bind("Rui")
///     .fetch_one(&db)
///     .await?;
/// assert_eq!(row.try_get::<i64>("n")?, 1);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[must_use = "a query does nothing until it is executed or fetched"]
pub struct Query<'q> {
    sql: Cow<'q, str>,
    params: Vec<Arc<dyn Param + 'q>>,
}

impl<'q> Query<'q> {
    /// Binds the next parameter.
    pub fn bind<T: Bind + 'q>(mut self, value: T) -> Self {
        self.params.push(Arc::new(value));
        self
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Runs the statement, returning the number of rows it affected.
    pub async fn execute(self, db: &Db) -> Result<u64, Error> {
        db.run_execute(&self.sql, &self.params).await
    }

    /// Runs the statement and returns every row.
    pub async fn fetch_all(self, db: &Db) -> Result<Vec<Row>, Error> {
        db.run_fetch_all(&self.sql, &self.params).await
    }

    /// Runs the statement and returns its first row, or `None`.
    pub async fn fetch_optional(self, db: &Db) -> Result<Option<Row>, Error> {
        db.run_fetch_optional(&self.sql, &self.params).await
    }

    /// Runs the statement and returns its first row, or [`Error::NotFound`].
    pub async fn fetch_one(self, db: &Db) -> Result<Row, Error> {
        self.fetch_optional(db).await?.ok_or(Error::NotFound)
    }
}

impl fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("sql", &self.sql)
            .field("params", &self.params)
            .finish()
    }
}
