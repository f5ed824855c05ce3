//! The backend-generic core of statement execution: one implementation of execute /
//! fetch for every sqlx driver, specialised only in how parameters are added and rows
//! wrapped.

use std::future::Future;
use std::sync::Arc;

use sqlx::error::BoxDynError;
use sqlx::{AssertSqlSafe, Executor, IntoArguments};

use super::pool::Options;

use crate::error::Backend;
use crate::row::{Row, RowInner};
use crate::types::Param;
use crate::types::backend::Arguments;

/// What txova-db needs to know about one sqlx driver.
pub(crate) trait Driver: sqlx::Database {
    const BACKEND: Backend;

    /// What reaches a connection's session from outside, to stop a statement it is
    /// running: the backend pid on Postgres, the connection id on MySQL, an interrupt
    /// flag on SQLite.
    type CancelKey: Send + Sync + 'static;

    fn arguments(params: &[Arc<dyn Param + '_>]) -> Result<Self::Arguments, BoxDynError>;

    fn wrap_row(row: Self::Row) -> Row;

    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Runs `sql` (one or more statements, no parameters) with the simple protocol.
    fn simple<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c;

    /// Learns a new connection's [`CancelKey`](Self::CancelKey).
    fn identify(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<Self::CancelKey, sqlx::Error>> + Send + '_;

    /// Whether a connection left with a statement in flight can be read back to a known
    /// state by [`drain`](Self::drain). Where it cannot (MySQL: sqlx does not track
    /// every reply it owes, a dropped ping's among them), such a connection is closed.
    const DRAINS: bool = true;

    /// Reads what is left of a statement abandoned midway (its remaining rows, its
    /// error) until the connection is ready for the next one; returns the statement's
    /// error if it met one.
    fn drain(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<Option<sqlx::Error>, sqlx::Error>> + Send + '_ {
        drain_with_pings(conn)
    }

    /// Stops the statement the connection with `key` is running, from outside it; says
    /// whether the connection can then be drained and reused, or must be closed.
    fn cancel<'a>(
        options: &'a Options<Self>,
        key: &'a Self::CancelKey,
    ) -> impl Future<Output = Result<AfterCancel, sqlx::Error>> + Send + 'a;

    /// Called once a cancelled connection is drained, before it is reused.
    fn cancel_done(_key: &Self::CancelKey) {}

    /// Rolls back whatever transaction the connection may have open. Run only when one
    /// may be open, so a backend that warns about a ROLLBACK outside a transaction
    /// (Postgres) warns only when a BEGIN was abandoned before it was sent.
    fn rollback(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + '_ {
        async move {
            match Self::simple(conn, "ROLLBACK").await {
                Err(error) if !Self::no_transaction(&error) => Err(error),
                _ => Ok(()),
            }
        }
    }

    /// Whether the connection that returned `error` can no longer be used: an I/O or
    /// protocol failure, or a database error of the connection class.
    fn breaks_connection(error: &sqlx::Error) -> bool {
        matches!(
            error,
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed
        )
    }

    /// Whether `error` is the server saying it had ended the session. Only Postgres
    /// says so, and only a statement that met it before it could run was not run.
    fn session_ended(_error: &sqlx::Error) -> bool {
        false
    }

    /// Whether a statement failing with `error` inside a transaction leaves the
    /// transaction unable to commit: the server will roll it back (or has).
    fn aborts_transaction(error: &sqlx::Error) -> bool;

    /// Whether a statement that succeeds inside an aborted transaction brings it back:
    /// true where only `ROLLBACK TO SAVEPOINT` can succeed there (Postgres).
    const SUCCESS_RESTORES_TRANSACTION: bool = false;

    /// Whether a failed COMMIT has ended the transaction (so no ROLLBACK should follow).
    fn commit_error_ends_transaction(_error: &sqlx::Error) -> bool {
        false
    }

    /// Whether `error` is the engine saying there is no transaction to commit or roll
    /// back (it rolled the transaction back by itself).
    fn no_transaction(_error: &sqlx::Error) -> bool {
        false
    }
}

/// What a connection is good for after [`Driver::cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterCancel {
    /// The statement was stopped; drain the connection and reuse it.
    #[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
    Drain,
    /// The session was ended with its statement; close the connection.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    Close,
}

/// Runs `sql` on a connection of its own, opened with `options` and closed after: how a
/// statement of another connection is stopped from outside it.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn in_own_session<D: Driver>(options: &Options<D>, sql: &str) -> Result<(), sqlx::Error> {
    use sqlx::ConnectOptions as _;
    let mut session = options.connect().await?;
    D::simple(&mut session, sql).await?;
    // A failed goodbye changes nothing: the socket closes either way.
    let _ = sqlx::Connection::close(session).await;
    Ok(())
}

/// How often a drain may meet the abandoned statement's errors before it gives up.
const DRAIN_ERRORS: usize = 4;

/// Drains with `ping` until it succeeds: the first pings may meet the abandoned
/// statement's error (returned), after which the connection reads on to its end.
async fn drain_with_pings<C: sqlx::Connection>(
    conn: &mut C,
) -> Result<Option<sqlx::Error>, sqlx::Error> {
    let mut met = None;
    for _ in 0..DRAIN_ERRORS {
        match conn.ping().await {
            Ok(()) => return Ok(met),
            Err(sqlx::Error::Database(error)) => {
                met.get_or_insert(sqlx::Error::Database(error));
            }
            Err(other) => return Err(other),
        }
    }
    Err(sqlx::Error::Protocol(
        "the connection kept failing while its abandoned statement was drained".into(),
    ))
}

/// The SQLSTATE of a database error, if `error` is one.
#[cfg(feature = "postgres")]
fn sqlstate(error: &sqlx::Error) -> Option<std::borrow::Cow<'_, str>> {
    error.as_database_error().and_then(|db| db.code())
}

#[cfg(feature = "postgres")]
impl Driver for sqlx::Postgres {
    const BACKEND: Backend = Backend::Postgres;

    /// The backend's process id.
    type CancelKey = i32;

    fn arguments(params: &[Arc<dyn Param + '_>]) -> Result<Self::Arguments, BoxDynError> {
        let mut args = Self::Arguments::default();
        for param in params {
            param.add_to(Arguments::Postgres(&mut args))?;
        }
        Ok(args)
    }

    fn wrap_row(row: Self::Row) -> Row {
        Row(RowInner::Postgres(row))
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn breaks_connection(error: &sqlx::Error) -> bool {
        match sqlstate(error) {
            Some(code) => crate::error::kind_for_sqlstate(&code) == crate::ErrorKind::Connection,
            None => matches!(
                error,
                sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_)
            ),
        }
    }

    /// A FATAL `admin_shutdown` (`pg_terminate_backend`, a fast shutdown),
    /// `crash_shutdown` or `idle_session_timeout`. Met by a statement, it says nothing
    /// of whether the statement ran: the session may have ended while idle, or while
    /// running it (then it is rolled back, but what it did outside the transaction, a
    /// sequence, a procedure's own COMMIT, stays).
    fn session_ended(error: &sqlx::Error) -> bool {
        sqlstate(error).is_some_and(|code| matches!(&*code, "57P01" | "57P02" | "57P05"))
    }

    fn simple<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c {
        execute_script::<Self>(conn, sql)
    }

    fn identify(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<i32, sqlx::Error>> + Send + '_ {
        sqlx::query_scalar::<Self, i32>("SELECT pg_backend_pid()")
            .persistent(false)
            .fetch_one(conn)
    }

    /// `pg_cancel_backend` from a session of its own (sqlx keeps the protocol's cancel
    /// key to itself). A cancel that lands once the statement is over is ignored by the
    /// server: the backend is then waiting for a command, where it drops cancels.
    async fn cancel(options: &Options<Self>, pid: &i32) -> Result<AfterCancel, sqlx::Error> {
        in_own_session::<Self>(options, &format!("SELECT pg_cancel_backend({pid})")).await?;
        Ok(AfterCancel::Drain)
    }

    /// Any error the server reports inside a transaction block aborts it: later
    /// statements fail, and COMMIT answers ROLLBACK.
    fn aborts_transaction(error: &sqlx::Error) -> bool {
        matches!(error, sqlx::Error::Database(_))
    }

    const SUCCESS_RESTORES_TRANSACTION: bool = true;

    /// A COMMIT that fails (a deferred constraint, a serialization failure) has rolled
    /// the transaction back.
    fn commit_error_ends_transaction(error: &sqlx::Error) -> bool {
        matches!(error, sqlx::Error::Database(_))
    }
}

#[cfg(feature = "sqlite")]
impl Driver for sqlx::Sqlite {
    const BACKEND: Backend = Backend::Sqlite;

    /// Set to interrupt the statement running: the connection's progress handler
    /// returns `false` while it is set.
    type CancelKey = Arc<std::sync::atomic::AtomicBool>;

    fn arguments(params: &[Arc<dyn Param + '_>]) -> Result<Self::Arguments, BoxDynError> {
        let mut args = Self::Arguments::default();
        for param in params {
            param.add_to(Arguments::Sqlite(&mut args))?;
        }
        Ok(args)
    }

    fn wrap_row(row: Self::Row) -> Row {
        Row(RowInner::Sqlite(row))
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn simple<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c {
        execute_script::<Self>(conn, sql)
    }

    /// Installs a progress handler that interrupts the running statement while the
    /// returned flag is set (checked every [`SQLITE_PROGRESS_OPS`] VM instructions).
    async fn identify(conn: &mut Self::Connection) -> Result<Self::CancelKey, sqlx::Error> {
        let interrupt = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&interrupt);
        conn.lock_handle()
            .await?
            .set_progress_handler(SQLITE_PROGRESS_OPS, move || {
                !flag.load(std::sync::atomic::Ordering::Relaxed)
            });
        Ok(interrupt)
    }

    fn cancel<'a>(
        _options: &'a Options<Self>,
        interrupt: &'a Self::CancelKey,
    ) -> impl Future<Output = Result<AfterCancel, sqlx::Error>> + Send + 'a {
        interrupt.store(true, std::sync::atomic::Ordering::Relaxed);
        std::future::ready(Ok(AfterCancel::Drain))
    }

    fn cancel_done(interrupt: &Self::CancelKey) {
        interrupt.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// SQLite rolls a transaction back by itself on some errors (`SQLITE_FULL`,
    /// `SQLITE_IOERR`, `SQLITE_NOMEM`, an interrupted write); COMMIT then reports that
    /// there is no transaction ([`no_transaction`](Driver::no_transaction)).
    fn aborts_transaction(_error: &sqlx::Error) -> bool {
        false
    }

    fn no_transaction(error: &sqlx::Error) -> bool {
        error.as_database_error().is_some_and(|db| {
            db.code().as_deref() == Some("1") && db.message().contains("no transaction is active")
        })
    }
}

/// How many SQLite VM instructions run between two looks at a connection's interrupt
/// flag: rare enough to cost nothing measurable, often enough to stop a statement
/// within microseconds.
#[cfg(feature = "sqlite")]
const SQLITE_PROGRESS_OPS: i32 = 1000;

#[cfg(feature = "mysql")]
impl Driver for sqlx::MySql {
    const BACKEND: Backend = Backend::MySql;

    /// The connection (thread) id.
    type CancelKey = u64;

    /// A ping dropped midway leaves its OK packet unread where sqlx does not look for
    /// it: the next ping would read it and leave its own for the next statement, and
    /// every reply after would belong to the statement before.
    const DRAINS: bool = false;

    fn arguments(params: &[Arc<dyn Param + '_>]) -> Result<Self::Arguments, BoxDynError> {
        let mut args = Self::Arguments::default();
        for param in params {
            param.add_to(Arguments::MySql(&mut args))?;
        }
        Ok(args)
    }

    fn wrap_row(row: Self::Row) -> Row {
        Row(RowInner::MySql(row))
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn simple<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c {
        execute_script::<Self>(conn, sql)
    }

    fn identify(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + '_ {
        sqlx::query_scalar::<Self, u64>("SELECT CONNECTION_ID()")
            .persistent(false)
            .fetch_one(conn)
    }

    /// `KILL CONNECTION` from a session of its own: the server ends the session with its
    /// statement and rolls its transaction back. (After `KILL QUERY` the connection's
    /// state could not be read back reliably through sqlx.)
    async fn cancel(options: &Options<Self>, id: &u64) -> Result<AfterCancel, sqlx::Error> {
        in_own_session::<Self>(options, &format!("KILL CONNECTION {id}")).await?;
        Ok(AfterCancel::Close)
    }

    /// A deadlock (1213) rolls the whole transaction back; later statements would run
    /// outside it. (A lock wait timeout, 1205, rolls back only its statement, unless the
    /// server runs with `innodb_rollback_on_timeout`.)
    fn aborts_transaction(error: &sqlx::Error) -> bool {
        error
            .as_database_error()
            .and_then(|db| db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
            .is_some_and(|my| my.number() == 1213)
    }
}

pub(crate) async fn execute<D: Driver>(
    conn: &mut D::Connection,
    sql: &str,
    params: &[Arc<dyn Param + '_>],
) -> Result<u64, sqlx::Error>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    D::Arguments: IntoArguments<D>,
{
    let args = D::arguments(params).map_err(sqlx::Error::Encode)?;
    let result = sqlx::query_with::<D, _>(AssertSqlSafe(sql), args)
        .execute(&mut *conn)
        .await?;
    Ok(D::rows_affected(&result))
}

pub(crate) async fn fetch_all<D: Driver>(
    conn: &mut D::Connection,
    sql: &str,
    params: &[Arc<dyn Param + '_>],
) -> Result<Vec<Row>, sqlx::Error>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    D::Arguments: IntoArguments<D>,
{
    let args = D::arguments(params).map_err(sqlx::Error::Encode)?;
    let rows = sqlx::query_with::<D, _>(AssertSqlSafe(sql), args)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(D::wrap_row).collect())
}

/// Streams the rows and hands each to `sink` as it arrives, so a caller that decodes
/// keeps only decoded values (as `sqlx::query_as` does): holding 10,000 raw rows first
/// made a typed select ~15% slower. The sink is type-erased so this function stays
/// generic over the driver only: generic over the output too, rustc cannot prove the
/// future `Send` (rust-lang/rust#100013). Returns how many rows the sink took.
pub(crate) async fn fetch_each<D: Driver>(
    conn: &mut D::Connection,
    sql: &str,
    params: &[Arc<dyn Param + '_>],
    sink: &mut (dyn FnMut(Row) -> Result<(), crate::Error> + Send),
) -> Result<Result<usize, crate::Error>, sqlx::Error>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    D::Arguments: IntoArguments<D>,
{
    use futures_util::TryStreamExt as _;
    let args = D::arguments(params).map_err(sqlx::Error::Encode)?;
    let mut rows = sqlx::query_with::<D, _>(AssertSqlSafe(sql), args).fetch(&mut *conn);
    let mut count = 0;
    while let Some(row) = rows.try_next().await? {
        if let Err(err) = sink(D::wrap_row(row)) {
            return Ok(Err(err));
        }
        count += 1;
    }
    Ok(Ok(count))
}

pub(crate) async fn fetch_optional<D: Driver>(
    conn: &mut D::Connection,
    sql: &str,
    params: &[Arc<dyn Param + '_>],
) -> Result<Option<Row>, sqlx::Error>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    D::Arguments: IntoArguments<D>,
{
    let args = D::arguments(params).map_err(sqlx::Error::Encode)?;
    let row = sqlx::query_with::<D, _>(AssertSqlSafe(sql), args)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(D::wrap_row))
}

/// Runs several `;`-separated statements with no parameters (schema scripts).
pub(crate) async fn execute_script<D: Driver>(
    conn: &mut D::Connection,
    sql: &str,
) -> Result<u64, sqlx::Error>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
{
    let result = sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await?;
    Ok(D::rows_affected(&result))
}
