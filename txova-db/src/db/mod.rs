//! [`Db`]: the pooled database handle every query runs through.

pub(crate) mod ambient;
mod connect;
mod connection;
pub(crate) mod driver;
mod executor;
mod listen;
pub(crate) mod pool;
mod stats;
mod telemetry;

use std::fmt;
use std::sync::Arc;
use tokio::time::Instant;

pub use connection::Connection;
pub use listen::{ListenEvent, Listener, Notification};
pub use prepared::{Prepared, PreparedColumn};
pub use stats::{DbStats, WAIT_BUCKETS, WaitHistogram};

use crate::backend::per_engine;
use crate::config::DbConfig;
use crate::error::{Backend, Error};
use crate::resilience::{BreakerState, ProbedBreaker};
use crate::row::Row;
use crate::types::Param;
use stats::PoolCounters;
pub(crate) use telemetry::Peer;

#[cfg(not(any(feature = "postgres", feature = "sqlite", feature = "mysql")))]
compile_error!("txova-db needs at least one backend feature: postgres, sqlite or mysql");

/// A pool of database connections: cheap to clone, shared by every task of a service.
///
/// [`Db::connect`] picks the backend from the URL scheme: `postgres://` or
/// `postgresql://` for PostgreSQL, `sqlite:` for SQLite (a file, or `sqlite::memory:`),
/// `mysql://` or `mariadb://` for MySQL with the `mysql` feature.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, DbConfig};
///
/// let db = Db::connect_with(DbConfig {
///     max_connections: 4,
///     ..DbConfig::new("sqlite::memory:")
/// })
/// .await?;
/// db.ping().await?;
/// assert_eq!(db.stats().max_size, 4);
/// db.close().await;
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct Db {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: Pool,
    config: DbConfig,
    /// `host:port` or the SQLite file: where errors say we were connected.
    target: String,
    /// Where statements go, for the spans' `server.*` and `db.namespace` attributes.
    peer: Peer,
    counters: Arc<PoolCounters>,
    /// What the server can do beyond its backend's baseline.
    pub(crate) server: crate::executor::ServerTraits,
    /// Fails acquires at once while the server is known to be unreachable.
    breaker: Option<ProbedBreaker>,
}

impl Inner {
    fn new(
        pool: Pool,
        config: DbConfig,
        target: String,
        peer: Peer,
        counters: Arc<PoolCounters>,
    ) -> Self {
        let server = crate::executor::ServerTraits::baseline(crate::backend::with_engine!(
            &pool,
            Pool,
            |_pool, B| <B as crate::backend::Engine>::BACKEND
        ));
        let breaker = ProbedBreaker::new(format!("database {target}"), &config.breaker);
        Self {
            pool,
            config,
            target,
            peer,
            counters,
            server,
            breaker,
        }
    }
}

/// One probe of the database breaker: boxed, since the probe task outlives every
/// borrow.
type BoxedProbe = std::pin::Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// A pool of engine `D`.
type PoolOf<D> = pool::ConnPool<D>;

per_engine! {
    /// The pool, per engine.
    pub(crate) enum Pool = PoolOf;
}

/// Runs `$body` with `$pool` bound to the backend's sqlx pool and `$backend` naming
/// the sqlx database type, whatever the backend.
macro_rules! with_pool_impl {
    ($db:expr, |$pool:ident| $body:expr) => {
        $crate::db::with_pool!($db, |$pool, _Backend| $body)
    };
    ($db:expr, |$pool:ident, $backend:ident| $body:expr) => {
        $crate::backend::with_engine!(&$db.inner.pool, $crate::db::Pool, |$pool, $backend| $body)
    };
}

pub(crate) use with_pool_impl as with_pool;

/// Runs `driver::$op` in the task's transaction on this pool if there is one,
/// else on a connection acquired for it, inside the statement's span; observes the
/// outcome either way.
///
/// With the span disabled (no subscriber wants it) the statement runs inline. Else it
/// runs boxed inside `Instrumented`: the statement's future is large (sqlx's, for each
/// backend), and wrapping it by value made every caller's future that much larger to
/// move, for every statement.
macro_rules! run_on_pool {
    // A `COPY`: dropped midway, or failed other than by the server's refusal (after
    // which sqlx has read the reply through), the connection is in a protocol state no
    // drain reads back, so it is closed rather than settled (a transaction on it is
    // lost).
    (copy $db:expr, $op:ident, $sql:expr $(, $arg:expr)*) => {
        run_on_pool!(@run true, $db, $op, $sql $(, $arg)*)
    };
    (@run $copy:expr, $db:expr, $op:ident, $sql:expr $(, $arg:expr)*) => {{
        let span = $db.statement_span($sql);
        if span.is_disabled() {
            run_statement!(span, $copy, $db, $op, $sql $(, $arg)*)
        } else {
            use tracing::Instrument as _;
            Box::pin(async { run_statement!(span, $copy, $db, $op, $sql $(, $arg)*) })
                .instrument(span.clone())
                .await
        }
    }};
    ($db:expr, $op:ident, $sql:expr $(, $arg:expr)*) => {
        run_on_pool!(@run false, $db, $op, $sql $(, $arg)*)
    };
}

/// Whether a `COPY` that ended so left its connection where sqlx reads it correctly.
pub(crate) fn copy_kept_protocol<T>(result: &Result<T, sqlx::Error>) -> bool {
    matches!(result, Ok(_) | Err(sqlx::Error::Database(_)))
}

/// The body of [`run_on_pool!`], in an async context returning `Result<_, Error>`.
///
/// A statement is sent once. After a connection failure it is not run again on
/// another connection: sqlx reads the server's replies out of sight, so nothing can
/// show that a statement which met a dead session never reached it (a session killed
/// while running the statement, or after committing it but before its last reply,
/// answers exactly like one killed while idle). The pool's checks keep dead idle
/// connections from callers instead ([`pool`]).
macro_rules! run_statement {
    ($span:ident, $copy:expr, $db:expr, $op:ident, $sql:expr $(, $arg:expr)*) => {
        if let Some(tx) = ambient::current_for($db) {
            let mut conn = tx.connection().await?;
            let started = ::tokio::time::Instant::now();
            let result = ambient::with_tx_conn!(conn, |c, B| {
                c.statement_started();
                if $copy {
                    c.unrecoverable(true);
                }
                let result = driver::$op::<B>(&mut **c, $sql $(, $arg)*).await;
                if $copy && $crate::db::copy_kept_protocol(&result) {
                    c.unrecoverable(false);
                }
                c.statement_finished(result.as_ref().err());
                result
            })
            .map_err(|e| $db.error(e));
            drop(conn);
            $db.observe(
                &$span,
                $sql,
                started.elapsed(),
                result.as_ref().map(telemetry::ReturnedRows::returned_rows),
                Some(&tx),
            );
            tx.record(result)
        } else {
            with_pool!($db, |pool, B| {
                let (mut conn, started) = $db.acquire_timed(pool).await?;
                conn.statement_started();
                if $copy {
                    conn.unrecoverable(true);
                }
                let result = driver::$op::<B>(&mut *conn, $sql $(, $arg)*).await;
                if $copy && $crate::db::copy_kept_protocol(&result) {
                    conn.unrecoverable(false);
                }
                let ended = ::tokio::time::Instant::now();
                conn.statement_finished_at(result.as_ref().err(), ended);
                drop(conn);
                let result = result.map_err(|e| $db.error(e));
                $db.observe(
                    &$span,
                    $sql,
                    ended.saturating_duration_since(started),
                    result.as_ref().map(telemetry::ReturnedRows::returned_rows),
                    None,
                );
                result
            })
        }
    };
}

// After the macros, which it uses.
mod prepared;

/// Whether an idle connection turned out to be dead when used: the server had ended
/// its session, or its socket was gone. Only statements with no effect (BEGIN, a
/// ping) move to another connection on this; see [`run_statement!`] for why other
/// statements do not.
pub(crate) fn found_dead<D: driver::Driver>(
    conn: &pool::PooledConn<D>,
    error: &sqlx::Error,
) -> bool {
    conn.was_idle() && (D::session_ended(error) || D::breaks_connection(error))
}

impl Db {
    /// Connects with default settings (see [`DbConfig`]).
    ///
    /// Fails with [`ErrorKind::Config`](crate::ErrorKind::Config) for a malformed URL or an
    /// unknown scheme, and with [`ErrorKind::Connection`](crate::ErrorKind::Connection)
    /// when the server refuses, rejects the login or does not answer within the connect
    /// timeout — never by hanging.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(DbConfig::new(url)).await
    }

    /// Connects with `config`, retrying connection failures and timeouts as `backoff`
    /// says (a malformed URL or a rejected login is not retried). For services that
    /// start before their database is ready; dropping the future stops the retries.
    ///
    /// ```no_run
    /// # async fn demo() -> txova_db::Result<()> {
    /// use txova_db::resilience::Backoff;
    /// use txova_db::{Db, DbConfig};
    ///
    /// let db = Db::connect_with_retry(DbConfig::from_env()?, &Backoff::default()).await?;
    /// # let _ = db; Ok(()) }
    /// ```
    pub async fn connect_with_retry(
        config: DbConfig,
        backoff: &crate::resilience::Backoff,
    ) -> Result<Self, Error> {
        backoff
            .retry(
                |err| err.kind() == crate::ErrorKind::Connection && !is_login_rejected(err),
                || Self::connect_with(config.clone()),
            )
            .await
    }

    /// Connects with explicit settings.
    pub async fn connect_with(config: DbConfig) -> Result<Self, Error> {
        connect::connect(config).await
    }

    fn from_parts(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Which backend this handle talks to.
    pub fn backend(&self) -> Backend {
        fn backend_of<D: driver::Driver>(_: &pool::ConnPool<D>) -> Backend {
            D::BACKEND
        }
        with_pool!(self, |pool| backend_of(pool))
    }

    /// The settings in force (the URL's password stays hidden in `Debug`).
    pub fn config(&self) -> &DbConfig {
        &self.inner.config
    }

    /// Checks that the database answers, on a pooled connection. A ping that finds its
    /// idle connection dead (the server ended it, or the socket is gone) tries once
    /// more on another connection: it asks about the database, not that connection.
    pub async fn ping(&self) -> Result<(), Error> {
        use sqlx::Connection as _;
        with_pool!(self, |pool, B| {
            let mut retried = false;
            loop {
                let mut conn = self.acquire_from(pool).await?;
                conn.statement_started();
                let result = conn.ping().await;
                conn.statement_finished(result.as_ref().err());
                match result {
                    Err(error) if !retried && found_dead::<B>(&conn, &error) => retried = true,
                    other => break other.map_err(|e| self.error(e)),
                }
            }
        })
    }

    /// Closes the pool: new acquires fail with
    /// [`ErrorKind::PoolClosed`](crate::ErrorKind::PoolClosed), and the returned future
    /// completes once every connection in use has been returned and closed, so
    /// statements already running finish first.
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }

    /// Whether [`close`](Self::close) has been called.
    pub fn is_closed(&self) -> bool {
        with_pool!(self, |pool| pool.is_closed())
    }

    /// A snapshot of the pool's statistics.
    pub fn stats(&self) -> DbStats {
        let sizes = with_pool!(self, |pool| pool.sizes());
        let stats = self.inner.counters.snapshot(sizes);
        stats::publish(&stats, telemetry::system_name(self.backend()));
        stats
    }

    /// Checks the `#[derive(Table)]` type `T`, or each type of a tuple `T`, against the
    /// live catalog, and returns one report: what a service runs at start-up to refuse
    /// a database that drifted from its structs. See [`verify_tables`](crate::verify_tables).
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// # use txova_db::Table;
    /// # #[derive(Table)] #[table(name = "users")] struct User { #[column(primary_key)] id: i64 }
    /// let db = txova_db::Db::connect("sqlite::memory:").await?;
    /// db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)").await?;
    /// let report = db.verify_tables::<User>().await?;
    /// assert!(report.is_ok(), "{report}");
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub async fn verify_tables<T: crate::schema::Tables>(
        &self,
    ) -> Result<crate::schema::TablesReport, Error> {
        crate::schema::verify_tables::<T, Self>(self).await
    }

    /// Runs one statement with no parameters; returns the rows affected.
    ///
    /// For parameters use [`query`](crate::query()); for several statements at once,
    /// [`execute_script`](Self::execute_script).
    pub async fn execute(&self, sql: &str) -> Result<u64, Error> {
        Ok(self.run_execute(sql, &[]).await?.rows_affected())
    }

    /// Runs several `;`-separated statements with no parameters, such as a schema file.
    pub async fn execute_script(&self, sql: &str) -> Result<u64, Error> {
        run_on_pool!(self, execute_script, sql)
    }

    pub(crate) async fn run_execute(
        &self,
        sql: &str,
        params: &[Arc<dyn Param + '_>],
    ) -> Result<crate::executor::ExecuteResult, Error> {
        let started = self.explains_slow().then(Instant::now);
        let result = run_on_pool!(self, execute, sql, params);
        self.explain_if_slow(started, &result, sql, params).await;
        result
    }

    fn explains_slow(&self) -> bool {
        self.inner.config.explain_slow_queries && self.inner.config.slow_query_threshold.is_some()
    }

    /// With [`DbConfig::explain_slow_queries`], explains a statement that succeeded
    /// slower than the threshold and logs its plan (boxed: only a slow call pays for
    /// the explain's future).
    async fn explain_if_slow<T>(
        &self,
        started: Option<Instant>,
        result: &Result<T, Error>,
        sql: &str,
        params: &[Arc<dyn Param + '_>],
    ) {
        let (Some(started), Some(threshold)) = (started, self.inner.config.slow_query_threshold)
        else {
            return;
        };
        let elapsed = started.elapsed();
        // Only the statements EXPLAIN takes (so never an EXPLAIN itself).
        let explainable = !matches!(
            crate::sql::summary::operation(sql).1,
            crate::sql::summary::Operation::Other
        );
        if elapsed < threshold || result.is_err() || !explainable {
            return;
        }
        let explained: std::pin::Pin<Box<dyn Future<Output = _> + Send + '_>> =
            Box::pin(crate::plan::explain(self, sql, params, false));
        match explained.await {
            Ok(plan) => {
                let plan = plan.redacted();
                let advice: Vec<String> = plan.advice().iter().map(ToString::to_string).collect();
                tracing::warn!(
                    target: "txova_db::slow_query",
                    statement = %crate::sql::summary::redact(sql, self.backend()),
                    elapsed_ms = elapsed.as_secs_f64() * 1e3,
                    plan = %plan,
                    advice = ?advice,
                    "slow query plan"
                );
            }
            Err(error) => tracing::debug!(
                target: "txova_db::slow_query",
                statement = %crate::sql::summary::redact(sql, self.backend()),
                %error,
                "the slow query could not be explained"
            ),
        }
    }

    pub(crate) async fn run_copy_in(&self, sql: &str, data: &[u8]) -> Result<u64, Error> {
        if self.backend() != Backend::Postgres {
            return Err(Error::Unsupported {
                feature: "COPY",
                backend: self.backend(),
            });
        }
        run_on_pool!(copy self, copy_in, sql, data)
    }

    pub(crate) async fn run_fetch_all(
        &self,
        sql: &str,
        params: &[Arc<dyn Param + '_>],
    ) -> Result<Vec<Row>, Error> {
        let started = self.explains_slow().then(Instant::now);
        let result = run_on_pool!(self, fetch_all, sql, params);
        self.explain_if_slow(started, &result, sql, params).await;
        result
    }

    pub(crate) async fn run_fetch_each(
        &self,
        sql: &str,
        params: &[Arc<dyn Param + '_>],
        sink: &mut (dyn FnMut(Row) -> Result<(), Error> + Send),
    ) -> Result<(), Error> {
        let started = self.explains_slow().then(Instant::now);
        let result =
            run_on_pool!(self, fetch_each, sql, params, sink).and_then(|done| done.map(|_| ()));
        self.explain_if_slow(started, &result, sql, params).await;
        result
    }

    /// Runs a statement for a [`RowStream`](crate::executor::RowStream), handing rows to
    /// `slot`. Inside a transaction, marks its connection held until this ends.
    pub(crate) async fn run_fetch_stream(
        &self,
        sql: &str,
        params: &[Arc<dyn Param + '_>],
        slot: &crate::executor::RowSlot,
    ) -> Result<(), Error> {
        let _held = ambient::current_for(self).map(ambient::StreamGuard::new);
        run_on_pool!(self, fetch_stream, sql, params, slot)?.map(|_| ())
    }

    pub(crate) async fn run_fetch_optional(
        &self,
        sql: &str,
        params: &[Arc<dyn Param + '_>],
    ) -> Result<Option<Row>, Error> {
        let started = self.explains_slow().then(Instant::now);
        let result = run_on_pool!(self, fetch_optional, sql, params);
        self.explain_if_slow(started, &result, sql, params).await;
        result
    }

    /// A connection from the pool, counted in the statistics; through the breaker when
    /// [`DbConfig::breaker`] is on.
    pub(crate) async fn acquire_from<D: driver::Driver>(
        &self,
        pool: &pool::ConnPool<D>,
    ) -> Result<pool::PooledConn<D>, Error> {
        Ok(self.acquire_timed(pool).await?.0)
    }

    /// [`acquire_from`](Self::acquire_from), with when the connection was in hand: a
    /// statement's start, so that one clock reading times both the acquire and the
    /// statement when an idle connection is there at once (each reading costs about as
    /// much as that whole path).
    pub(crate) async fn acquire_timed<D: driver::Driver>(
        &self,
        pool: &pool::ConnPool<D>,
    ) -> Result<(pool::PooledConn<D>, Instant), Error> {
        match &self.inner.breaker {
            None => self.acquire_counted(pool).await,
            // Boxed: the breaker's state is not carried in every statement's future.
            Some(breaker) => {
                Box::pin(breaker.call(self.acquire_counted(pool), || self.prober())).await
            }
        }
    }

    async fn acquire_counted<D: driver::Driver>(
        &self,
        pool: &pool::ConnPool<D>,
    ) -> Result<(pool::PooledConn<D>, Instant), Error> {
        let pending = self.inner.counters.start_acquire();
        let began = Instant::now();
        match pool.acquire(began).await {
            Ok(acquired) => {
                let waited = acquired.at.saturating_duration_since(began);
                pending.finish(!acquired.waited, waited, false, D::BACKEND);
                Ok((acquired.conn, acquired.at))
            }
            Err(err) => {
                let timed_out = matches!(err, pool::AcquireError::TimedOut);
                pending.finish(false, began.elapsed(), timed_out, D::BACKEND);
                Err(self.acquire_error(err))
            }
        }
    }

    fn acquire_error(&self, err: pool::AcquireError) -> Error {
        match err {
            pool::AcquireError::Closed => Error::PoolClosed,
            pool::AcquireError::TimedOut => Error::PoolTimeout {
                after: self.inner.config.acquire_timeout,
            },
            pool::AcquireError::ConnectTimedOut(after) => Error::ConnectTimeout {
                target: self.inner.target.clone(),
                after,
            },
            pool::AcquireError::Sqlx(error) => self.error(error),
        }
    }

    /// The breaker's probe: a connection opened beside the pool, for as long as the
    /// `Db` lives.
    fn prober(&self) -> impl FnMut() -> Option<BoxedProbe> + Send + 'static {
        let inner = Arc::downgrade(&self.inner);
        move || {
            let db = Db {
                inner: inner.upgrade()?,
            };
            Some(Box::pin(async move {
                let probed = with_pool!(db, |pool| pool.probe().await);
                probed.map_err(|err| db.acquire_error(err))
            }))
        }
    }

    /// The state of the breaker [`DbConfig::breaker`] puts around acquiring; `None`
    /// when it is off (the default).
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// use txova_db::resilience::{BreakerConfig, BreakerState};
    /// use txova_db::{Db, DbConfig};
    ///
    /// let db = Db::connect("sqlite::memory:").await?;
    /// assert_eq!(db.breaker_state(), None);
    /// let guarded = Db::connect_with(DbConfig {
    ///     breaker: BreakerConfig::default(),
    ///     ..DbConfig::new("sqlite::memory:")
    /// })
    /// .await?;
    /// assert_eq!(guarded.breaker_state(), Some(BreakerState::Closed));
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub fn breaker_state(&self) -> Option<BreakerState> {
        self.inner.breaker.as_ref().map(ProbedBreaker::state)
    }

    pub(crate) fn error(&self, err: sqlx::Error) -> Error {
        Error::from_sqlx(err, &self.inner.target, self.inner.config.acquire_timeout)
    }
}

macro_rules! from_sqlx_pool {
    ($feature:literal, $pool:ty, $variant:ident) => {
        #[cfg(feature = $feature)]
        impl From<$pool> for Db {
            /// Wraps a pool built with sqlx directly, keeping its settings.
            fn from(pool: $pool) -> Self {
                let options = pool.options();
                let config = DbConfig {
                    url: crate::config::DatabaseUrl::from(concat!($feature, ":<external pool>")),
                    max_connections: options.get_max_connections(),
                    min_connections: options.get_min_connections(),
                    max_lifetime: options.get_max_lifetime(),
                    idle_timeout: options.get_idle_timeout(),
                    acquire_timeout: options.get_acquire_timeout(),
                    test_before_acquire: options.get_test_before_acquire(),
                    ..DbConfig::default()
                };
                Self::from_parts(Inner::new(
                    Pool::$variant(pool::ConnPool::External(pool)),
                    config,
                    "external pool".to_owned(),
                    Peer::default(),
                    Arc::default(),
                ))
            }
        }
    };
}

from_sqlx_pool!("postgres", sqlx::PgPool, Postgres);
from_sqlx_pool!("sqlite", sqlx::SqlitePool, Sqlite);
from_sqlx_pool!("mysql", sqlx::MySqlPool, MySql);

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend())
            .field("url", &self.inner.config.url)
            .field("closed", &self.is_closed())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Whether a connection error is the server refusing these credentials or database
/// (SQLSTATE class 28, or 3D000 no such database): retrying will not help.
fn is_login_rejected(err: &Error) -> bool {
    let code = match err {
        Error::Connection { source, .. } => source
            .as_database_error()
            .and_then(|db| db.code())
            .map(|code| code.into_owned()),
        _ => err.code().map(str::to_owned),
    };
    code.is_some_and(|code| code.starts_with("28") || code == "3D000")
}
