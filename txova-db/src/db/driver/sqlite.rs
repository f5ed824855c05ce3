//! SQLite sessions: a connection is stopped through a progress handler that checks an
//! interrupt flag, and drained after.

use std::future::Future;
use std::str::FromStr as _;
use std::sync::Arc;

use sqlx::ConnectOptions as _;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};

use super::{AfterCancel, Driver, Endpoint, SessionLimits, execute_script};
use crate::config::DbConfig;
use crate::db::Peer;
use crate::db::connect::malformed;
use crate::db::pool::Options;
use crate::error::{ConfigError, Error};
use crate::executor::ExecuteResult;
use crate::types::Param;
use crate::types::backend::Arguments;

impl Driver for sqlx::Sqlite {
    /// Set to interrupt the statement running: the connection's progress handler
    /// returns `false` while it is set.
    type CancelKey = Arc<std::sync::atomic::AtomicBool>;

    fn endpoint(config: &mut DbConfig) -> Result<Endpoint<Self>, Error> {
        let url = config.url.expose();
        let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
        if path.is_empty() || path.starts_with('?') {
            return Err(ConfigError::MalformedUrl {
                reason:
                    "the sqlite URL names no file (write sqlite::memory: for an in-memory database)"
                        .into(),
            }
            .into());
        }
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(|e| malformed(config, &e))?
            .create_if_missing(true)
            .disable_statement_logging()
            .row_buffer_size(SQLITE_ROW_BUFFER);
        if in_memory {
            // An in-memory database lives only while one of its connections is open.
            config.min_connections = config.min_connections.max(1);
            config.idle_timeout = None;
            config.max_lifetime = None;
        } else {
            options = options.journal_mode(SqliteJournalMode::Wal);
        }
        if let Some(timeout) = config.lock_timeout {
            options = options.busy_timeout(timeout);
        }
        if config.statement_timeout.is_some() {
            tracing::warn!("statement_timeout is not supported by SQLite and is ignored");
        }
        let target = options.get_filename().display().to_string();
        Ok(Endpoint {
            peer: Peer {
                namespace: Some(target.clone()),
                ..Peer::default()
            },
            target,
            options,
        })
    }

    fn arguments(params: &[Arc<dyn Param + '_>]) -> Result<Self::Arguments, BoxDynError> {
        let mut args = Self::Arguments::default();
        for param in params {
            param.add_to(Arguments::Sqlite(&mut args))?;
        }
        Ok(args)
    }

    /// `last_insert_rowid()`, for an `INSERT` or `REPLACE` that inserted a row: after
    /// any other statement the connection still holds an earlier statement's value.
    fn execute_result(result: &Self::QueryResult, sql: &str) -> ExecuteResult {
        let keyword = crate::sql::summary::operation(sql).0;
        let inserted = result.rows_affected() > 0
            && (keyword.eq_ignore_ascii_case("INSERT") || keyword.eq_ignore_ascii_case("REPLACE"));
        ExecuteResult::new(
            result.rows_affected(),
            inserted.then(|| result.last_insert_rowid()),
        )
    }

    fn simple<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c {
        execute_script::<Self>(conn, sql)
    }

    /// Installs a progress handler that interrupts the running statement while the
    /// returned flag is set (checked every [`SQLITE_PROGRESS_OPS`] VM instructions).
    /// (The lock timeout went with the connect options as `busy_timeout`.)
    async fn identify(
        conn: &mut Self::Connection,
        _limits: &SessionLimits,
    ) -> Result<Self::CancelKey, sqlx::Error> {
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

/// How many rows a connection's worker thread may read ahead of the task taking them
/// (sqlx's default is 50). With 50, a result of a few hundred rows stalls the worker on
/// every row once the buffer is full, and each row taken wakes it again across threads:
/// the peer suite's 100-row select cost 13.4x rusqlite's CPU with 50 and 5.3–6.5x with
/// 1,024, its 500-row join 15x and 6.3–7.6x. A stream dropped midway has read at most
/// this many rows too many.
const SQLITE_ROW_BUFFER: usize = 1024;

/// How many SQLite VM instructions run between two looks at a connection's interrupt
/// flag: rare enough to cost nothing measurable, often enough to stop a statement
/// within microseconds.
const SQLITE_PROGRESS_OPS: i32 = 1000;
