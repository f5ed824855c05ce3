//! Raw SQL with bound parameters: the escape hatch beneath the typed builder.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::executor::{ExecuteResult, Executor, RowStream, within};
use crate::row::Row;
use crate::table::Table;
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
        timeout: None,
        expected: None,
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
    timeout: Option<Duration>,
    /// How many parameters the statement takes, when known (a [`Prepared`](crate::Prepared) one).
    expected: Option<usize>,
}

impl<'q> Query<'q> {
    /// Binds the next parameter.
    pub fn bind<T: Bind + 'q>(mut self, value: T) -> Self {
        self.params.push(Arc::new(value));
        self
    }

    /// Bounds the call (waiting for a connection included) to `limit`: past it, the
    /// statement is cancelled on the server and the call fails with
    /// [`Error::StatementTimeout`] (kind [`Timeout`](crate::ErrorKind::Timeout)). Unlike
    /// [`DbConfig::statement_timeout`](crate::DbConfig::statement_timeout), which is a
    /// session setting, it applies to this call alone, on every backend.
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// use std::time::Duration;
    /// use txova_db::{Db, ErrorKind, query};
    ///
    /// let db = Db::connect("sqlite::memory:").await?;
    /// // Counting to ten billion takes SQLite minutes.
    /// let slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1e10) \
    ///             SELECT count(*) FROM n";
    /// let err = query(slow).timeout(Duration::from_millis(100)).fetch_one(&db).await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Timeout);
    /// // Interrupted, the connection is back in the pool, ready.
    /// query("SELECT 1").timeout(Duration::from_secs(5)).execute(&db).await?;
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Refuses to run with other than `parameters` bound.
    pub(crate) fn expecting(mut self, parameters: Option<usize>) -> Self {
        self.expected = parameters;
        self
    }

    /// A bind count the statement does not take, before anything is sent.
    fn check(&self) -> Result<(), Error> {
        match self.expected {
            Some(n) if n != self.params.len() => Err(Error::InvalidQuery {
                reason: format!(
                    "the statement takes {n} parameter(s) and {} were bound",
                    self.params.len()
                ),
            }),
            _ => Ok(()),
        }
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Runs the statement on `exec` (a [`Db`](crate::Db), or a [`Tx`](crate::Tx)),
    /// returning the number of rows it affected.
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// use txova_db::{Db, query};
    ///
    /// let db = Db::connect("sqlite::memory:").await?;
    /// db.execute("CREATE TABLE fares (cents INTEGER NOT NULL)").await?;
    /// let inserted = db
    ///     .transaction(|tx| async move {
    ///         query("INSERT INTO fares VALUES (?)").bind(1200_i64).execute(&tx).await
    ///     })
    ///     .await?;
    /// assert_eq!(inserted, 1);
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub async fn execute(self, exec: &impl Executor) -> Result<u64, Error> {
        Ok(self.execute_result(exec).await?.rows_affected())
    }

    /// Runs the statement and returns what it reports: the rows it affected and the
    /// key it generated, where the backend tells (see [`ExecuteResult`]).
    pub async fn execute_result(self, exec: &impl Executor) -> Result<ExecuteResult, Error> {
        self.check()?;
        within(
            self.timeout,
            exec.execute_statement(&self.sql, &self.params),
        )
        .await
    }

    /// The plan the database would run this statement by; see [`Plan`](crate::Plan).
    pub async fn explain(&self, exec: &impl Executor) -> Result<crate::Plan, Error> {
        self.explain_with(exec, false).await
    }

    /// Runs the statement and returns the plan with what each step did (Postgres
    /// `EXPLAIN ANALYZE`, MariaDB `ANALYZE`; [`Error::Unsupported`] on SQLite and
    /// MySQL). The statement's effects happen: explain a write inside a transaction
    /// that is rolled back.
    pub async fn explain_analyze(&self, exec: &impl Executor) -> Result<crate::Plan, Error> {
        self.explain_with(exec, true).await
    }

    async fn explain_with(
        &self,
        exec: &impl Executor,
        analyze: bool,
    ) -> Result<crate::Plan, Error> {
        self.check()?;
        within(
            self.timeout,
            crate::plan::explain(exec, &self.sql, &self.params, analyze),
        )
        .await
    }

    /// Runs the statement and returns every row.
    pub async fn fetch_all(self, exec: &impl Executor) -> Result<Vec<Row>, Error> {
        self.check()?;
        within(
            self.timeout,
            exec.fetch_all_statement(&self.sql, &self.params),
        )
        .await
    }

    /// Runs the statement and streams its rows as they arrive, with backpressure: see
    /// [`RowStream`]. A [`timeout`](Self::timeout) bounds the whole stream.
    pub fn fetch<'a, E: Executor>(self, exec: &'a E) -> RowStream<'a, Row>
    where
        'q: 'a,
    {
        let checked = self.check();
        let Query {
            sql,
            params,
            timeout,
            ..
        } = self;
        RowStream::new(Ok, move |slot| async move {
            checked?;
            within(timeout, exec.stream_statement(&sql, &params, &slot)).await
        })
    }

    /// Streams the rows decoded into a [`Table`] type, columns matched as by
    /// [`fetch_all_as`](Self::fetch_all_as).
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// use futures_util::TryStreamExt as _;
    /// use txova_db::{Db, Table, query};
    ///
    /// #[derive(Table)]
    /// #[table(name = "fares")]
    /// struct Fare { #[column(primary_key)] id: i64, cents: i64 }
    ///
    /// let db = Db::connect("sqlite::memory:").await?;
    /// db.execute("CREATE TABLE fares (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL)").await?;
    /// db.execute("INSERT INTO fares VALUES (1, 250), (2, 900)").await?;
    /// let total = query("SELECT * FROM fares")
    ///     .fetch_as::<Fare>(&db)
    ///     .try_fold(0, |sum, fare| async move { Ok(sum + fare.cents) })
    ///     .await?;
    /// assert_eq!(total, 1150);
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub fn fetch_as<'a, T: Table>(self, exec: &'a impl Executor) -> RowStream<'a, T>
    where
        'q: 'a,
    {
        self.fetch(exec).decoded(|row| decoder_for::<T>(&row)(&row))
    }

    /// Runs the statement and returns its first row, or `None`.
    pub async fn fetch_optional(self, exec: &impl Executor) -> Result<Option<Row>, Error> {
        self.check()?;
        within(
            self.timeout,
            exec.fetch_optional_statement(&self.sql, &self.params),
        )
        .await
    }

    /// Runs the statement and returns its first row, or [`Error::NotFound`].
    pub async fn fetch_one(self, exec: &impl Executor) -> Result<Row, Error> {
        self.fetch_optional(exec).await?.ok_or(Error::NotFound)
    }

    /// Runs the statement and decodes every row into a [`Table`] type, as the rows
    /// stream in.
    ///
    /// When the statement returns exactly the table's columns in declaration order (as
    /// the typed builder's SQL and `SELECT *` on the table do), rows are decoded by
    /// position; otherwise each field is found by its column name, so any order and
    /// extra columns work. The choice is made once, on the first row.
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// use txova_db::{Db, Table, query};
    ///
    /// #[derive(Table, Debug, PartialEq)]
    /// #[table(name = "drivers")]
    /// struct Driver {
    ///     #[column(primary_key)]
    ///     id: i64,
    ///     name: String,
    /// }
    ///
    /// let db = Db::connect("sqlite::memory:").await?;
    /// db.execute("CREATE TABLE drivers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").await?;
    /// db.execute("INSERT INTO drivers VALUES (1, 'Ana'), (2, 'Rui')").await?;
    /// // Columns in another order, and one the struct does not have: matched by name.
    /// let busy: Vec<Driver> = query("SELECT name, 1 AS busy, id FROM drivers WHERE id > $1")
    ///     .bind(1_i64)
    ///     .fetch_all_as(&db)
    ///     .await?;
    /// assert_eq!(busy, [Driver { id: 2, name: "Rui".into() }]);
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub async fn fetch_all_as<T: Table + Send>(
        self,
        exec: &impl Executor,
    ) -> Result<Vec<T>, Error> {
        self.check()?;
        let mut out = Vec::new();
        let mut decode: Option<Decoder<T>> = None;
        let mut sink = |row: Row| {
            let decode = *decode.get_or_insert_with(|| decoder_for::<T>(&row));
            out.push(decode(&row)?);
            Ok(())
        };
        within(
            self.timeout,
            exec.fetch_each_statement(&self.sql, &self.params, &mut sink),
        )
        .await?;
        Ok(out)
    }

    /// Runs the statement and decodes its first row into a [`Table`] type, or returns
    /// `None`; columns are matched as by [`fetch_all_as`](Self::fetch_all_as).
    pub async fn fetch_optional_as<T: Table>(
        self,
        exec: &impl Executor,
    ) -> Result<Option<T>, Error> {
        match self.fetch_optional(exec).await? {
            Some(row) => decoder_for::<T>(&row)(&row).map(Some),
            None => Ok(None),
        }
    }

    /// Like [`fetch_optional_as`](Self::fetch_optional_as), with no row an
    /// [`Error::NotFound`].
    pub async fn fetch_one_as<T: Table>(self, exec: &impl Executor) -> Result<T, Error> {
        self.fetch_optional_as(exec).await?.ok_or(Error::NotFound)
    }
}

type Decoder<T> = fn(&Row) -> Result<T, Error>;

/// By position when `row` has exactly `T`'s columns in order, else by name.
fn decoder_for<T: Table>(row: &Row) -> Decoder<T> {
    let columns = row.column_names();
    let in_order = columns.len() == T::COLUMNS.len()
        && columns
            .iter()
            .zip(T::COLUMNS)
            .all(|(name, column)| *name == column.name);
    if in_order {
        |row| T::__decode(row, 0)
    } else {
        T::__decode_named
    }
}

impl fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("sql", &self.sql)
            .field("params", &self.params)
            .field("timeout", &self.timeout)
            .field("expected", &self.expected)
            .finish()
    }
}
