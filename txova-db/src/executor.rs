//! [`Executor`]: what a built statement runs on — a [`Db`](crate::Db), a sqlx pool, or
//! a transaction. The implementations live beside those types.

use std::future::Future;
use std::sync::Arc;

use crate::error::{Backend, Error};
use crate::row::Row;
use crate::types::Param;

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// Something a builder's `.execute(&x)` / `.fetch_all(&x)` can run on.
///
/// Implemented for [`Db`](crate::Db), [`Tx`](crate::Tx) and, per enabled backend, for sqlx's pools. Sealed: the
/// methods are the plumbing between builders and connections, not an extension point.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Backend, Db, Executor, Table, count};
///
/// #[derive(Table)]
/// #[table(name = "users")]
/// struct User { #[column(primary_key)] id: i64 }
///
/// // A helper that runs on a `Db` or a plain sqlx pool alike.
/// async fn user_count(on: &impl Executor) -> txova_db::Result<i64> {
///     User::select().columns(count()).fetch_one(on).await
/// }
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)").await?;
/// assert_eq!(user_count(&db).await?, 0);
/// assert_eq!(Executor::backend(&db), Backend::Sqlite);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
pub trait Executor: sealed::Sealed + Send + Sync {
    /// The backend, which decides the SQL dialect.
    fn backend(&self) -> Backend;

    #[doc(hidden)]
    fn execute_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
    ) -> impl Future<Output = Result<ExecuteResult, Error>> + Send + 'a;

    #[doc(hidden)]
    fn fetch_all_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send + 'a;

    #[doc(hidden)]
    fn fetch_optional_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send + 'a;

    /// What the server can do where servers of one backend differ (asked at connect).
    #[doc(hidden)]
    fn server_traits(&self) -> ServerTraits {
        ServerTraits::baseline(self.backend())
    }

    /// Hands each row to `sink` as it arrives (typed selects decode as they stream).
    #[doc(hidden)]
    fn fetch_each_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
        sink: &'a mut (dyn FnMut(Row) -> Result<(), Error> + Send),
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a;
}

/// What a server can do where servers of one backend differ: asked once by
/// [`Db::connect`](crate::Db::connect); a `Db` around a pool built with sqlx assumes
/// the baseline.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerTraits {
    /// `INSERT … RETURNING` and `DELETE … RETURNING`: every backend but MySQL, where
    /// MariaDB has them from 10.5.
    pub returning: bool,
    /// MySQL: the step between the keys of one multi-row insert, where they are known
    /// to be consecutive (`innodb_autoinc_lock_mode` 0 or 1); `None` where they may
    /// interleave with concurrent inserts, or are not known.
    pub key_step: Option<i64>,
}

impl ServerTraits {
    /// What is known without asking the server.
    pub(crate) fn baseline(backend: Backend) -> Self {
        Self {
            returning: backend != Backend::MySql,
            key_step: None,
        }
    }
}

/// What a statement run for its effect reports: the rows it affected and, where the
/// backend tells, the key it generated. From [`Query::execute_result`] and
/// [`Insert::execute_result`].
///
/// [`Query::execute_result`]: crate::Query::execute_result
/// [`Insert::execute_result`]: crate::write::Insert::execute_result
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, query};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE riders (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").await?;
/// let done = query("INSERT INTO riders (name) VALUES (?), (?)")
///     .bind("Ana")
///     .bind("Rui")
///     .execute_result(&db)
///     .await?;
/// assert_eq!(done.rows_affected(), 2);
/// assert_eq!(done.last_insert_id(), Some(2)); // SQLite: the last row's rowid
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecuteResult {
    rows_affected: u64,
    last_insert_id: Option<i64>,
}

impl ExecuteResult {
    pub(crate) fn new(rows_affected: u64, last_insert_id: Option<i64>) -> Self {
        Self {
            rows_affected,
            last_insert_id,
        }
    }

    /// The rows the statement inserted, updated or deleted. On MySQL with an upsert
    /// (`ON DUPLICATE KEY UPDATE`), each row counts 1 if inserted and 2 if updated.
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }

    /// The key the statement generated, as the backend reports it:
    ///
    /// - **MySQL / MariaDB**: `LAST_INSERT_ID()`, the `AUTO_INCREMENT` value of the
    ///   *first* row the statement inserted (the others follow it consecutively when
    ///   `innodb_autoinc_lock_mode` is 0 or 1, or for a single statement with a known
    ///   row count in mode 2 when no other insert runs beside it); `None` when the
    ///   statement generated none.
    /// - **SQLite**: `last_insert_rowid()`, the rowid of the *last* row inserted, for a
    ///   statement starting `INSERT` or `REPLACE`; `None` when it inserted nothing, and
    ///   for any other statement (SQLite keeps the previous statement's value there).
    /// - **Postgres**: always `None`; ask for the keys with `RETURNING`
    ///   ([`Insert::returning`](crate::write::Insert::returning)).
    pub fn last_insert_id(&self) -> Option<i64> {
        self.last_insert_id
    }

    /// Adds the counts of a later statement of the same operation, keeping the
    /// backend's rule for which key is reported.
    pub(crate) fn then(self, later: Self, backend: Backend) -> Self {
        let last_insert_id = match backend {
            // The first generated key of the operation.
            Backend::MySql => self.last_insert_id.or(later.last_insert_id),
            // The last inserted row.
            _ => later.last_insert_id.or(self.last_insert_id),
        };
        Self {
            rows_affected: self.rows_affected + later.rows_affected,
            last_insert_id,
        }
    }
}

/// Runs `sql` and decodes every row with `decode` as the rows stream in.
pub(crate) async fn fetch_all_decoded<E: Executor, O: Send>(
    exec: &E,
    sql: &str,
    params: &[Arc<dyn Param>],
    decode: fn(Row) -> Result<O, Error>,
) -> Result<Vec<O>, Error> {
    let mut out = Vec::new();
    let mut sink = |row: Row| {
        out.push(decode(row)?);
        Ok(())
    };
    exec.fetch_each_statement(sql, params, &mut sink).await?;
    Ok(out)
}

/// Runs `call` within `limit` when there is one (a builder's or query's `.timeout(..)`).
/// Past it the call's future is dropped, which hands a statement in flight to the pool
/// (or to its transaction) to be cancelled on the server, and the result is
/// [`Error::StatementTimeout`].
///
/// A plain future rather than an `async fn`: a generator would hold `call` twice, once
/// as its argument and once in the branch that awaits it, doubling every statement's
/// future (and the stack a debug build needs to poll it).
pub(crate) fn within<T, F>(
    limit: Option<std::time::Duration>,
    call: F,
) -> impl Future<Output = Result<T, Error>>
where
    F: Future<Output = Result<T, Error>>,
{
    use futures_util::FutureExt as _;
    use futures_util::future::Either;

    match limit {
        None => Either::Left(call),
        Some(after) => Either::Right(
            tokio::time::timeout(after, call)
                .map(move |outcome| outcome.unwrap_or(Err(Error::StatementTimeout { after }))),
        ),
    }
}
