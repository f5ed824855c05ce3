//! The backend-generic core of statement execution: one implementation of execute /
//! fetch for every sqlx driver, specialised only in how parameters are added and rows
//! wrapped; and [`Driver`], what the pool, the statement path and transactions need of
//! an engine's sessions, implemented in one file per engine.

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::future::Future;
use std::sync::Arc;

use sqlx::error::BoxDynError;
use sqlx::{AssertSqlSafe, Executor, IntoArguments};

use super::Peer;
use super::pool::Options;

use crate::backend::{Engine, Wrap};
use crate::config::DbConfig;
use crate::error::Error;
use crate::executor::{ExecuteResult, RowSlot, ServerTraits};
use crate::row::{Row, RowInner};
use crate::types::Param;

/// Where a [`DbConfig`] leads on one engine: the options to open its connections with,
/// the target named in errors (host and port, or file), and the peer named in spans.
pub(crate) struct Endpoint<D: Driver> {
    pub(crate) options: Options<D>,
    pub(crate) target: String,
    pub(crate) peer: Peer,
}

/// What txova-db needs to know about one sqlx driver.
pub(crate) trait Driver: Engine + Wrap<RowInner, <Self as sqlx::Database>::Row> {
    /// What reaches a connection's session from outside, to stop a statement it is
    /// running: the backend pid on Postgres, the connection id on MySQL, an interrupt
    /// flag on SQLite.
    type CancelKey: Send + Sync + 'static;

    /// Reads `config` (the URL and the session settings) into connect options, adjusting
    /// the pool settings the engine needs (an in-memory SQLite database keeps a
    /// connection open).
    fn endpoint(config: &mut DbConfig) -> Result<Endpoint<Self>, Error>;

    fn arguments(params: &[Arc<dyn Param + '_>]) -> Result<Self::Arguments, BoxDynError>;

    /// What `sql`, run for its effect, reports.
    fn execute_result(result: &Self::QueryResult, sql: &str) -> ExecuteResult;

    /// Runs `sql` (one or more statements, no parameters) with the simple protocol.
    fn simple<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c;

    /// Learns a new connection's [`CancelKey`](Self::CancelKey), and applies the
    /// session limits its connect options could not carry (MySQL's timeouts).
    fn identify<'c>(
        conn: &'c mut Self::Connection,
        limits: &'c SessionLimits,
    ) -> impl Future<Output = Result<Self::CancelKey, sqlx::Error>> + Send + 'c;

    /// What the server can do beyond its engine's baseline, asked once per `Db`.
    fn server_traits(
        _conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<ServerTraits, sqlx::Error>> + Send + '_ {
        std::future::ready(Ok(ServerTraits::baseline(Self::BACKEND)))
    }

    /// Whether a connection left with a statement in flight can be read back to a known
    /// state by [`drain`](Self::drain). Where it cannot (MySQL: sqlx does not track
    /// every reply it owes, a dropped ping's among them), such a connection is closed.
    const DRAINS: bool = true;

    /// Whether a statement abandoned midway may be given a moment to finish by draining
    /// it under a timer before it is cancelled. Not where one poll of the drain can read
    /// the whole rest of a result without returning to the runtime (sqlx's Postgres
    /// socket reads on while data keeps arriving): a 500 MB result dropped after ten
    /// rows was read to its end, in one poll of 2.5 s, before the 10 ms timer was ever
    /// looked at. There the statement is cancelled first, then drained (the server
    /// stops at its next row).
    const DRAIN_UNDER_TIMER: bool = true;

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

    /// Brings a connection that was lent whole ([`Db::acquire`](crate::Db::acquire))
    /// back to the state the pool hands out: no transaction, and no session state its
    /// borrower may have set. An error closes the connection instead. By default only
    /// a transaction left open is rolled back.
    fn reset_session(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + '_ {
        Self::rollback(conn)
    }

    /// Runs `COPY … FROM STDIN` with `data` as its input; the rows copied. Only
    /// Postgres has it (callers check the backend first).
    fn copy_in<'c>(
        _conn: &'c mut Self::Connection,
        _statement: &'c str,
        _data: &'c [u8],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c {
        std::future::ready(Err(sqlx::Error::Protocol("COPY is Postgres'".into())))
    }

    /// Runs `COPY … TO STDOUT`; its output. Only Postgres has it.
    fn copy_out<'c>(
        _conn: &'c mut Self::Connection,
        _statement: &'c str,
    ) -> impl Future<Output = Result<Vec<u8>, sqlx::Error>> + Send + 'c {
        std::future::ready(Err(sqlx::Error::Protocol("COPY is Postgres'".into())))
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

    /// Whether a statement failing with `error` has rolled back the whole transaction
    /// (so no savepoint of it is left to roll back to), not only itself.
    fn ends_transaction(_error: &sqlx::Error) -> bool {
        false
    }

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

/// The per-session limits of [`DbConfig`]: applied through the connect options where
/// the engine takes them there (Postgres startup parameters, SQLite's busy timeout),
/// else by [`Driver::identify`] on each new connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SessionLimits {
    pub(crate) statement_timeout: Option<std::time::Duration>,
    pub(crate) lock_timeout: Option<std::time::Duration>,
}

impl SessionLimits {
    pub(crate) fn of(config: &DbConfig) -> Self {
        Self {
            statement_timeout: config.statement_timeout,
            lock_timeout: config.lock_timeout,
        }
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

pub(crate) async fn execute<D: Driver>(
    conn: &mut D::Connection,
    sql: &str,
    params: &[Arc<dyn Param + '_>],
) -> Result<ExecuteResult, sqlx::Error>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    D::Arguments: IntoArguments<D>,
{
    let args = D::arguments(params).map_err(sqlx::Error::Encode)?;
    let result = sqlx::query_with::<D, _>(AssertSqlSafe(sql), args)
        .execute(&mut *conn)
        .await?;
    Ok(D::execute_result(&result, sql))
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
    Ok(rows.into_iter().map(|row| Row(D::wrap(row))).collect())
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
    sink: &mut (dyn FnMut(Row) -> Result<(), Error> + Send),
) -> Result<Result<usize, Error>, sqlx::Error>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    D::Arguments: IntoArguments<D>,
{
    use futures_util::TryStreamExt as _;
    let args = D::arguments(params).map_err(sqlx::Error::Encode)?;
    let mut rows = sqlx::query_with::<D, _>(AssertSqlSafe(sql), args).fetch(&mut *conn);
    let mut count = 0;
    while let Some(row) = rows.try_next().await? {
        if let Err(err) = sink(Row(D::wrap(row))) {
            return Ok(Err(err));
        }
        count += 1;
    }
    Ok(Ok(count))
}

/// Like [`fetch_each`], handing each row to the [`RowSlot`] of a
/// [`RowStream`](crate::executor::RowStream) and waiting until its reader takes it:
/// the next row is read from the connection only when the reader asks for it.
pub(crate) async fn fetch_stream<D: Driver>(
    conn: &mut D::Connection,
    sql: &str,
    params: &[Arc<dyn Param + '_>],
    slot: &RowSlot,
) -> Result<Result<usize, Error>, sqlx::Error>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    D::Arguments: IntoArguments<D>,
{
    use futures_util::TryStreamExt as _;
    let args = D::arguments(params).map_err(sqlx::Error::Encode)?;
    let mut rows = sqlx::query_with::<D, _>(AssertSqlSafe(sql), args).fetch(&mut *conn);
    let mut count = 0;
    while let Some(row) = rows.try_next().await? {
        slot.hand_over(Row(D::wrap(row))).await;
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
    Ok(row.map(|row| Row(D::wrap(row))))
}

/// What preparing a statement told of it: how many parameters it takes, and its result
/// columns with the server's type names.
#[derive(Debug, Clone)]
pub(crate) struct Described {
    pub(crate) parameters: Option<usize>,
    pub(crate) columns: Vec<(String, String)>,
}

/// Prepares `sql` on the connection (kept in sqlx's statement cache there) and reads
/// its shape.
pub(crate) async fn describe<D: Driver>(
    conn: &mut D::Connection,
    sql: &str,
) -> Result<Described, sqlx::Error>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
{
    use sqlx::{Column as _, Statement as _, TypeInfo as _};
    let statement = (&mut *conn)
        .prepare(sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(
            sql.to_owned(),
        )))
        .await?;
    Ok(Described {
        parameters: statement.parameters().map(|p| match p {
            sqlx::Either::Left(types) => types.len(),
            sqlx::Either::Right(n) => n,
        }),
        columns: statement
            .columns()
            .iter()
            .map(|c| (c.name().to_owned(), c.type_info().name().to_owned()))
            .collect(),
    })
}

/// [`Driver::copy_in`], in the shape [`run_on_pool!`](crate::db) expects.
pub(crate) async fn copy_in<D: Driver>(
    conn: &mut D::Connection,
    statement: &str,
    data: &[u8],
) -> Result<u64, sqlx::Error> {
    D::copy_in(conn, statement, data).await
}

/// [`Driver::copy_out`], in the shape [`run_on_pool!`](crate::db) expects.
pub(crate) async fn copy_out<D: Driver>(
    conn: &mut D::Connection,
    statement: &str,
) -> Result<Vec<u8>, sqlx::Error> {
    D::copy_out(conn, statement).await
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
    Ok(D::execute_result(&result, sql).rows_affected())
}
