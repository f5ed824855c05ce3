//! [`Connection`]: one pooled connection lent whole, from [`Db::acquire`], for work
//! that needs one session — `SET` and `SHOW`, temporary tables, advisory locks,
//! statements that must see each other's session state.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Mutex as AsyncMutex;

use super::driver;
use super::pool::PooledConn;
use super::telemetry::ReturnedRows;
use super::{Db, with_pool};
use crate::backend::{Wrap, per_engine, with_engine};
use crate::error::{Backend, Error};
use crate::executor::{ExecuteResult, Executor, RowSlot, ServerTraits, sealed};
use crate::row::Row;
use crate::types::Param;

/// A pooled connection on engine `D`.
type HeldOf<D> = PooledConn<D>;

per_engine! {
    /// The lent connection, per engine.
    pub(crate) enum Held = HeldOf;
}

/// A connection of the pool, lent whole: an [`Executor`] whose statements all run in
/// one session, in order. Give it as the executor (`.execute(&conn)`); statements given
/// the `Db` still take any connection.
///
/// Dropped, it goes back to the pool in the state the pool hands out: a statement left
/// running is cancelled, a transaction left open rolled back, and the session reset —
/// on Postgres everything `DISCARD ALL` resets but prepared statements (settings, role,
/// cursors, `LISTEN`s, advisory locks, temporary tables); on MySQL, whose session
/// statements cannot reset everything, the connection is closed instead; on SQLite a
/// transaction is rolled back. It runs one statement at a time: a second one while the
/// first (or an open [`RowStream`](crate::RowStream)) has it fails with
/// [`ErrorKind::InvalidQuery`](crate::ErrorKind::InvalidQuery).
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, query};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let conn = db.acquire().await?;
/// query("CREATE TEMP TABLE scratch (n INTEGER)").execute(&conn).await?;
/// query("INSERT INTO scratch VALUES (1), (2)").execute(&conn).await?;
/// let n: i64 = query("SELECT sum(n) FROM scratch").fetch_one(&conn).await?.try_get(0)?;
/// assert_eq!(n, 3);
/// drop(conn); // back to the pool
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
pub struct Connection {
    db: Db,
    held: AsyncMutex<Held>,
    /// A `COPY` failed on it: sqlx's reading of the connection may be out of step with
    /// the server (a query after a refused `COPY … FROM STDIN` read another reply as its
    /// own), so it takes no more statements and is closed when dropped.
    lost: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("backend", &self.db.backend())
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Lends one connection of the pool whole; see [`Connection`]. Waits for one as
    /// statements do (up to the acquire timeout, through the breaker if there is one).
    pub async fn acquire(&self) -> Result<Connection, Error> {
        let held = with_pool!(self, |pool, B| {
            let mut conn = self.acquire_from(pool).await?;
            conn.lend();
            <B as Wrap<Held, _>>::wrap(conn)
        });
        Ok(Connection {
            db: self.clone(),
            held: AsyncMutex::new(held),
            lost: std::sync::atomic::AtomicBool::new(false),
        })
    }
}

/// Runs `driver::$op` on the lent connection, observed as any statement.
macro_rules! on_connection {
    ($conn:expr, $op:ident, $sql:expr $(, $arg:expr)*) => {
        on_connection!(@run $conn, false, $op, $sql $(, $arg)*)
    };
    // A `COPY`: dropped midway, the connection is in a protocol state no drain reads
    // back, so it is closed rather than settled.
    (copy $conn:expr, $op:ident, $sql:expr $(, $arg:expr)*) => {
        on_connection!(@run $conn, true, $op, $sql $(, $arg)*)
    };
    (@run $conn:expr, $copy:expr, $op:ident, $sql:expr $(, $arg:expr)*) => {{
        let db = &$conn.db;
        if $conn.lost.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::InvalidQuery {
                reason: "a COPY failed on this connection, which was closed: acquire another"
                    .into(),
            });
        }
        let span = db.statement_span($sql);
        let mut held = $conn.held.try_lock().map_err(|_| Error::InvalidQuery {
            reason: "a connection runs one statement at a time, and another (or an open \
                     row stream) is using this one"
                .into(),
        })?;
        let started = Instant::now();
        let result = with_engine!(&mut *held, Held, |c, B| {
            c.statement_started();
            if $copy {
                c.unrecoverable(true);
            }
            let result = driver::$op::<B>(&mut **c, $sql $(, $arg)*).await;
            // A COPY that failed other than by the server's refusal stays marked: the
            // connection is closed when dropped.
            if !$copy || $crate::db::copy_kept_protocol(&result) {
                c.unrecoverable(false);
            } else {
                $conn.lost.store(true, std::sync::atomic::Ordering::Release);
            }
            c.statement_finished(result.as_ref().err());
            result
        })
        .map_err(|e| db.error(e));
        drop(held);
        db.observe(
            &span,
            $sql,
            started.elapsed(),
            result.as_ref().map(ReturnedRows::returned_rows),
            None,
        );
        result
    }};
}

impl Connection {
    /// Runs `statement`, a `COPY … FROM STDIN`, with `data` as its input (in the
    /// statement's format: text, CSV or binary); the rows copied. Postgres only
    /// ([`Error::Unsupported`] elsewhere). Dropped midway or failed (a bad row, a
    /// statement that is no COPY), nothing of it stays and the connection is closed:
    /// later statements on this `Connection` fail with
    /// [`ErrorKind::InvalidQuery`](crate::ErrorKind::InvalidQuery).
    ///
    /// ```no_run
    /// # async fn demo(db: txova_db::Db) -> txova_db::Result<()> {
    /// let conn = db.acquire().await?;
    /// let copied = conn
    ///     .copy_in("COPY fares (id, cents) FROM STDIN (FORMAT csv)", b"1,700\n2,1300\n")
    ///     .await?;
    /// assert_eq!(copied, 2);
    /// let csv = conn.copy_out("COPY fares TO STDOUT (FORMAT csv)").await?;
    /// # let _ = csv; Ok(()) }
    /// ```
    pub async fn copy_in(&self, statement: &str, data: &[u8]) -> Result<u64, Error> {
        self.postgres_only()?;
        on_connection!(copy self, copy_in, statement, data)
    }

    /// Runs `statement`, a `COPY … TO STDOUT`, and returns its output. Postgres only.
    /// Dropped midway or failed, the connection is closed, as for
    /// [`copy_in`](Self::copy_in).
    pub async fn copy_out(&self, statement: &str) -> Result<Vec<u8>, Error> {
        self.postgres_only()?;
        on_connection!(copy self, copy_out, statement)
    }

    fn postgres_only(&self) -> Result<(), Error> {
        match self.db.backend() {
            Backend::Postgres => Ok(()),
            backend => Err(Error::Unsupported {
                feature: "COPY",
                backend,
            }),
        }
    }
}

impl sealed::Sealed for Connection {}

impl Executor for Connection {
    fn backend(&self) -> Backend {
        self.db.backend()
    }

    fn server_traits(&self) -> ServerTraits {
        self.db.inner.server
    }

    async fn execute_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
    ) -> Result<ExecuteResult, Error> {
        on_connection!(self, execute, sql, params)
    }

    async fn fetch_all_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
    ) -> Result<Vec<Row>, Error> {
        on_connection!(self, fetch_all, sql, params)
    }

    async fn fetch_optional_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
    ) -> Result<Option<Row>, Error> {
        on_connection!(self, fetch_optional, sql, params)
    }

    async fn fetch_each_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
        sink: &'a mut (dyn FnMut(Row) -> Result<(), Error> + Send),
    ) -> Result<(), Error> {
        on_connection!(self, fetch_each, sql, params, sink)?.map(|_| ())
    }

    async fn stream_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
        slot: &'a RowSlot,
    ) -> Result<(), Error> {
        on_connection!(self, fetch_stream, sql, params, slot)?.map(|_| ())
    }

    fn copy_in_statement<'a>(
        &'a self,
        sql: &'a str,
        data: &'a [u8],
    ) -> impl Future<Output = Result<u64, Error>> + Send + 'a {
        self.copy_in(sql, data)
    }
}
