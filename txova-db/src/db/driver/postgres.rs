//! PostgreSQL sessions: a connection is named by its backend pid, stopped with
//! `pg_cancel_backend` from a session of its own, and drained after.

use std::future::Future;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use sqlx::ConnectOptions as _;
use sqlx::error::BoxDynError;
use sqlx::postgres::PgConnectOptions;

use super::{AfterCancel, Driver, Endpoint, SessionLimits, execute_script, in_own_session};
use crate::config::DbConfig;
use crate::db::Peer;
use crate::db::connect::malformed;
use crate::db::pool::Options;
use crate::error::Error;
use crate::executor::ExecuteResult;
use crate::types::Param;
use crate::types::backend::Arguments;

/// The SQLSTATE of a database error, if `error` is one.
fn sqlstate(error: &sqlx::Error) -> Option<std::borrow::Cow<'_, str>> {
    error.as_database_error().and_then(|db| db.code())
}

impl Driver for sqlx::Postgres {
    // One poll of sqlx's drain reads as long as data is there (see the trait).
    const DRAIN_UNDER_TIMER: bool = false;

    async fn copy_in(
        conn: &mut Self::Connection,
        statement: &str,
        data: &[u8],
    ) -> Result<u64, sqlx::Error> {
        let mut copy = conn.copy_in_raw(statement).await?;
        copy.send(data).await?;
        copy.finish().await
    }

    async fn copy_out(
        conn: &mut Self::Connection,
        statement: &str,
    ) -> Result<Vec<u8>, sqlx::Error> {
        use futures_util::TryStreamExt as _;
        let mut chunks = conn.copy_out_raw(statement).await?;
        let mut out = Vec::new();
        while let Some(chunk) = chunks.try_next().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// `DISCARD ALL` but for `DEALLOCATE ALL`, which would pull sqlx's cached prepared
    /// statements from under it: settings, role, cursors, listens, advisory locks,
    /// temporary tables, sequences' cached values and plans.
    async fn reset_session(conn: &mut Self::Connection) -> Result<(), sqlx::Error> {
        Self::rollback(conn).await?;
        Self::simple(
            conn,
            "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; \
             SELECT pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES",
        )
        .await
        .map(drop)
    }

    /// The backend's process id.
    type CancelKey = i32;

    fn endpoint(config: &mut DbConfig) -> Result<Endpoint<Self>, Error> {
        let mut options = PgConnectOptions::from_str(config.url.expose())
            .map_err(|e| malformed(config, &e))?
            .disable_statement_logging();
        if let Some(name) = &config.application_name {
            options = options.application_name(name);
        }
        if let Some(timeout) = config.statement_timeout {
            options = options.options([("statement_timeout", millis(timeout))]);
        }
        if let Some(timeout) = config.lock_timeout {
            options = options.options([("lock_timeout", millis(timeout))]);
        }
        Ok(Endpoint {
            target: format!("{}:{}", options.get_host(), options.get_port()),
            peer: Peer {
                address: Some(options.get_host().to_owned()),
                port: Some(options.get_port()),
                namespace: options.get_database().map(str::to_owned),
            },
            options,
        })
    }

    fn arguments(params: &[Arc<dyn Param + '_>]) -> Result<Self::Arguments, BoxDynError> {
        let mut args = Self::Arguments::default();
        for param in params {
            param.add_to(Arguments::Postgres(&mut args))?;
        }
        Ok(args)
    }

    /// Postgres reports no generated key: `RETURNING` asks for it.
    fn execute_result(result: &Self::QueryResult, _sql: &str) -> ExecuteResult {
        ExecuteResult::new(result.rows_affected(), None)
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

    /// The limits went with the startup parameters.
    fn identify<'c>(
        conn: &'c mut Self::Connection,
        _limits: &'c SessionLimits,
    ) -> impl Future<Output = Result<i32, sqlx::Error>> + Send + 'c {
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

/// A duration as whole milliseconds, at least 1 (0 would switch the timeout off).
fn millis(duration: Duration) -> String {
    duration.as_millis().max(1).to_string()
}
