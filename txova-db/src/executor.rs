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

    /// Runs the statement, handing each row to `slot` and waiting for the
    /// [`RowStream`] that owns the slot to take it before reading the next.
    #[doc(hidden)]
    fn stream_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
        slot: &'a RowSlot,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a;

    /// Runs `sql`, a `COPY … FROM STDIN`, with `data` as its input; the rows copied.
    /// Postgres only.
    #[doc(hidden)]
    fn copy_in_statement<'a>(
        &'a self,
        sql: &'a str,
        data: &'a [u8],
    ) -> impl Future<Output = Result<u64, Error>> + Send + 'a {
        let _ = (sql, data);
        std::future::ready(Err(Error::Unsupported {
            feature: "COPY",
            backend: self.backend(),
        }))
    }
}

/// One row in passing from a statement to the [`RowStream`] reading it.
#[doc(hidden)]
#[derive(Default)]
pub struct RowSlot(std::sync::Mutex<Option<Row>>);

impl RowSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Row>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Puts `row` in the slot and waits until the stream has taken it.
    pub(crate) async fn hand_over(&self, row: Row) {
        *self.lock() = Some(row);
        // Pending while the row waits, with no waker: the stream polling this future
        // takes the row as soon as it returns, and polls again for the next one.
        std::future::poll_fn(|_| {
            if self.lock().is_some() {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
    }

    fn take(&self) -> Option<Row> {
        self.lock().take()
    }
}

/// A [`RowStream`]'s statement, running.
type Running<'a> = std::pin::Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

/// The rows of a statement as they arrive, decoded into `T`: a
/// [`Stream`](futures_util::Stream) with backpressure, from `.fetch(..)` on a query
/// or a select. The next row is read from the connection only when the stream is
/// polled for it, so memory stays flat however many rows there are.
///
/// The statement holds its connection until the stream ends or is dropped. Dropped
/// early, the statement is cancelled on the server (after 10 ms) and the connection
/// settled, as for any statement dropped midway. Inside a transaction the stream holds
/// the transaction's connection: its next statement fails with
/// [`ErrorKind::InvalidQuery`](crate::ErrorKind::InvalidQuery) until the stream is
/// done, rather than wait forever for it.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use futures_util::TryStreamExt as _;
/// use txova_db::{Db, query};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let mut rows = query("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
///                       SELECT i FROM n")
///     .fetch(&db);
/// let mut sum = 0_i64;
/// while let Some(row) = rows.try_next().await? {
///     sum += row.try_get::<i64>(0)?;
/// }
/// assert_eq!(sum, 5_000_050_000);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[must_use = "a stream does nothing until it is polled"]
pub struct RowStream<'a, T> {
    slot: Arc<RowSlot>,
    /// The statement, running; `None` once it finished.
    run: Option<Running<'a>>,
    decode: fn(Row) -> Result<T, Error>,
}

impl<'a, T> RowStream<'a, T> {
    /// A stream over what `run` hands to the slot it is given.
    pub(crate) fn new<F, Fut>(decode: fn(Row) -> Result<T, Error>, run: F) -> Self
    where
        F: FnOnce(Arc<RowSlot>) -> Fut,
        Fut: Future<Output = Result<(), Error>> + Send + 'a,
    {
        let slot = Arc::new(RowSlot::default());
        Self {
            run: Some(Box::pin(run(Arc::clone(&slot)))),
            slot,
            decode,
        }
    }
}

impl<'a> RowStream<'a, Row> {
    /// The same rows, decoded by `decode`.
    pub(crate) fn decoded<T>(self, decode: fn(Row) -> Result<T, Error>) -> RowStream<'a, T> {
        RowStream {
            slot: self.slot,
            run: self.run,
            decode,
        }
    }
}

impl<T> futures_util::Stream for RowStream<'_, T> {
    type Item = Result<T, Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;

        let Some(run) = self.run.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = run.as_mut().poll(cx);
        if let Some(row) = self.slot.take() {
            return Poll::Ready(Some((self.decode)(row)));
        }
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(done) => {
                self.run = None;
                Poll::Ready(done.err().map(Err))
            }
        }
    }
}

impl<T> std::fmt::Debug for RowStream<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream")
            .field("finished", &self.run.is_none())
            .finish_non_exhaustive()
    }
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

/// Runs `sql` and decodes every row with `decode` as the rows stream in. `decode` must
/// read each column as one fixed type (see `row::CheckedColumns`), as the builders'
/// decoders do.
pub(crate) async fn fetch_all_decoded<E: Executor, O: Send>(
    exec: &E,
    sql: &str,
    params: &[Arc<dyn Param + '_>],
    decode: fn(Row) -> Result<O, Error>,
) -> Result<Vec<O>, Error> {
    let mut out = Vec::new();
    let mut checked = crate::row::CheckedColumns::default();
    let mut sink = |row: Row| {
        out.push(checked.decode(row, decode)?);
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
