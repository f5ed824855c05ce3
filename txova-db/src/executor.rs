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
    ) -> impl Future<Output = Result<u64, Error>> + Send + 'a;

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

    /// Hands each row to `sink` as it arrives (typed selects decode as they stream).
    #[doc(hidden)]
    fn fetch_each_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
        sink: &'a mut (dyn FnMut(Row) -> Result<(), Error> + Send),
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a;
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
