//! The backend-generic core of statement execution: one implementation of execute /
//! fetch for every sqlx driver, specialised only in how parameters are added and rows
//! wrapped.

use sqlx::error::BoxDynError;
use sqlx::{AssertSqlSafe, Executor, IntoArguments};
use std::sync::Arc;

use crate::error::Backend;
use crate::row::{Row, RowInner};
use crate::types::Param;

/// What txova-db needs to know about one sqlx driver.
pub(crate) trait Driver: sqlx::Database {
    const BACKEND: Backend;

    fn arguments(params: &[Arc<dyn Param + '_>]) -> Result<Self::Arguments, BoxDynError>;

    fn wrap_row(row: Self::Row) -> Row;

    fn rows_affected(result: &Self::QueryResult) -> u64;

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

    /// Whether `error` is the server saying it had ended the session (the statement
    /// that met it never ran). Only Postgres says so.
    fn session_ended(_error: &sqlx::Error) -> bool {
        false
    }
}

/// The SQLSTATE of a database error, if `error` is one.
#[cfg(feature = "postgres")]
fn sqlstate(error: &sqlx::Error) -> Option<std::borrow::Cow<'_, str>> {
    error.as_database_error().and_then(|db| db.code())
}

#[cfg(feature = "postgres")]
impl Driver for sqlx::Postgres {
    const BACKEND: Backend = Backend::Postgres;

    fn arguments(params: &[Arc<dyn Param + '_>]) -> Result<Self::Arguments, BoxDynError> {
        let mut args = Self::Arguments::default();
        for param in params {
            param.add_to_postgres(&mut args)?;
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
    /// `crash_shutdown` or `idle_session_timeout` as the reply to a statement: the
    /// backend ended before reading it. (Ended while running one, the statement is rolled
    /// back; ended after its commit, the reply comes first.)
    fn session_ended(error: &sqlx::Error) -> bool {
        sqlstate(error).is_some_and(|code| matches!(&*code, "57P01" | "57P02" | "57P05"))
    }
}

#[cfg(feature = "sqlite")]
impl Driver for sqlx::Sqlite {
    const BACKEND: Backend = Backend::Sqlite;

    fn arguments(params: &[Arc<dyn Param + '_>]) -> Result<Self::Arguments, BoxDynError> {
        let mut args = Self::Arguments::default();
        for param in params {
            param.add_to_sqlite(&mut args)?;
        }
        Ok(args)
    }

    fn wrap_row(row: Self::Row) -> Row {
        Row(RowInner::Sqlite(row))
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

#[cfg(feature = "mysql")]
impl Driver for sqlx::MySql {
    const BACKEND: Backend = Backend::MySql;

    fn arguments(params: &[Arc<dyn Param + '_>]) -> Result<Self::Arguments, BoxDynError> {
        let mut args = Self::Arguments::default();
        for param in params {
            param.add_to_mysql(&mut args)?;
        }
        Ok(args)
    }

    fn wrap_row(row: Self::Row) -> Row {
        Row(RowInner::MySql(row))
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
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
