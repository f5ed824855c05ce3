//! Transactions: [`Db::transaction`], the ambient transaction of a task, savepoints,
//! and retry of serialization failures and deadlocks.
//!
//! Inside `db.transaction(|tx| async move { .. })`, every statement run through `db`
//! (or a clone of it) by the same task joins the transaction, so repository code does
//! not need a transaction parameter; `&tx` works as an executor too. A nested
//! `transaction` call joins the outer one, or opens a SAVEPOINT with
//! [`TxOptions::savepoint`]. Work spawned onto other tasks does not join: it runs on
//! its own connections, outside the transaction.

mod connection;
mod retry;

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use tokio::sync::{Mutex as AsyncMutex, MutexGuard};

pub use retry::RetryPolicy;

use crate::db::Db;
use crate::error::{Backend, Error, ErrorKind};
use connection::TxConnection;

tokio::task_local! {
    static CURRENT: Tx;
}

/// Transaction isolation levels.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::transaction::{Isolation, TxOptions};
/// use txova_db::{Db, Error};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let options = TxOptions::new().isolation(Isolation::Serializable).retries(5);
/// let n: i64 = db
///     .transaction_with(options, |_tx| {
///         let db = db.clone();
///         async move { txova_db::query("SELECT 1").fetch_one(&db).await?.try_get(0) }
///     })
///     .await?;
/// assert_eq!(n, 1);
/// # let _: Option<Error> = None;
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isolation {
    /// `READ COMMITTED` (the Postgres default).
    ReadCommitted,
    /// `REPEATABLE READ` (snapshot isolation on Postgres).
    RepeatableRead,
    /// `SERIALIZABLE`: may fail with serialization errors, which are retried.
    Serializable,
}

impl Isolation {
    fn sql(self) -> &'static str {
        match self {
            Self::ReadCommitted => "READ COMMITTED",
            Self::RepeatableRead => "REPEATABLE READ",
            Self::Serializable => "SERIALIZABLE",
        }
    }
}

/// What a `transaction` call inside another transaction of the same task does.
///
/// ```
/// use txova_db::transaction::TxOptions;
///
/// // Inside another transaction: roll back to a savepoint on error, keep the outer one.
/// let options = TxOptions::new().savepoint();
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Nesting {
    /// Run as part of the outer transaction (no BEGIN, no SAVEPOINT).
    #[default]
    Join,
    /// Open a SAVEPOINT: an error rolls back to it and leaves the outer transaction
    /// usable.
    Savepoint,
}

/// How [`Db::transaction_with`] runs its transaction.
///
/// ```
/// use txova_db::transaction::{Isolation, TxOptions};
///
/// let options = TxOptions::new()
///     .isolation(Isolation::Serializable)
///     .retries(8);
/// assert_eq!(options.retry_policy().max_attempts, 9);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxOptions {
    isolation: Option<Isolation>,
    read_only: bool,
    retry: RetryPolicy,
    nesting: Nesting,
}

impl Default for TxOptions {
    fn default() -> Self {
        Self {
            isolation: None,
            read_only: false,
            retry: RetryPolicy::default(),
            nesting: Nesting::Join,
        }
    }
}

impl TxOptions {
    /// The backend's default isolation, read-write, [`RetryPolicy::default`], joining.
    pub fn new() -> Self {
        Self::default()
    }

    /// The isolation level (ignored by SQLite, whose transactions are serializable).
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = Some(isolation);
        self
    }

    /// A read-only transaction.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Retry up to `retries` times after the first attempt (0: never retry).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retry.max_attempts = retries + 1;
        self
    }

    /// The whole retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Inside another transaction, open a SAVEPOINT instead of joining it.
    pub fn savepoint(mut self) -> Self {
        self.nesting = Nesting::Savepoint;
        self
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    fn begin_sql(&self, backend: Backend) -> String {
        match backend {
            // Writers take the write lock at BEGIN, so two writers cannot deadlock
            // upgrading from a read lock (they wait, or get SQLITE_BUSY, retried).
            Backend::Sqlite if self.read_only => "BEGIN DEFERRED".to_owned(),
            Backend::Sqlite => "BEGIN IMMEDIATE".to_owned(),
            Backend::Postgres | Backend::MySql => {
                let mut sql = String::from(if backend == Backend::MySql {
                    "START TRANSACTION"
                } else {
                    "BEGIN"
                });
                if let Some(isolation) = self.isolation
                    && backend == Backend::Postgres
                {
                    sql.push_str(" ISOLATION LEVEL ");
                    sql.push_str(isolation.sql());
                }
                if self.read_only {
                    sql.push_str(" READ ONLY");
                }
                sql
            }
        }
    }
}

/// An open transaction: a cheap handle, cloned into closures; usable as an executor
/// (`.fetch_all(&tx)`), though statements through the `Db` it came from join it too.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, Error};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE audit (what TEXT)").await?;
/// db.transaction(|tx| {
///     let db = db.clone();
///     async move {
///         // Statements through `db` in this task join the transaction...
///         db.execute("INSERT INTO audit (what) VALUES ('assigned')").await?;
///         // ...and work that must only happen once it is committed waits for it.
///         tx.after_commit(async { println!("committed: notify the driver") });
///         Ok::<_, Error>(())
///     }
/// })
/// .await?;
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct Tx {
    inner: Arc<TxInner>,
}

struct TxInner {
    db: Db,
    conn: AsyncMutex<Option<TxConn>>,
    savepoints: AtomicU32,
    /// The first retryable failure seen by a statement of this transaction.
    failure: Mutex<Option<ErrorKind>>,
    /// Work to run once the transaction has committed (cache evictions).
    after_commit: Mutex<Vec<BoxFuture<'static, ()>>>,
    /// The N+1 count of this transaction's statements.
    statements: crate::n_plus_one::Detector,
}

pub(crate) enum TxConn {
    #[cfg(feature = "postgres")]
    Postgres(TxConnection<sqlx::Postgres>),
    #[cfg(feature = "sqlite")]
    Sqlite(TxConnection<sqlx::Sqlite>),
    #[cfg(feature = "mysql")]
    MySql(TxConnection<sqlx::MySql>),
}

/// Runs `$body` with `$conn` bound to the transaction's connection (a
/// `&mut TxConnection<$backend>`) and `$backend` naming the sqlx database type.
macro_rules! with_tx_conn_impl {
    ($guard:expr, |$conn:ident, $backend:ident| $body:expr) => {
        match &mut *$guard {
            #[cfg(feature = "postgres")]
            crate::transaction::TxConn::Postgres($conn) => {
                type $backend = sqlx::Postgres;
                $body
            }
            #[cfg(feature = "sqlite")]
            crate::transaction::TxConn::Sqlite($conn) => {
                type $backend = sqlx::Sqlite;
                $body
            }
            #[cfg(feature = "mysql")]
            crate::transaction::TxConn::MySql($conn) => {
                type $backend = sqlx::MySql;
                $body
            }
        }
    };
}

pub(crate) use with_tx_conn_impl as with_tx_conn;

/// The connection of a live transaction, locked for one statement.
pub(crate) struct TxConnGuard<'a>(MutexGuard<'a, Option<TxConn>>);

impl std::ops::Deref for TxConnGuard<'_> {
    type Target = TxConn;
    fn deref(&self) -> &TxConn {
        // `connection()` hands out guards only while the transaction is open.
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("guard of a finished transaction"))
    }
}

impl std::ops::DerefMut for TxConnGuard<'_> {
    fn deref_mut(&mut self) -> &mut TxConn {
        self.0
            .as_mut()
            .unwrap_or_else(|| unreachable!("guard of a finished transaction"))
    }
}

/// The task's transaction on any database, if there is one.
pub(crate) fn current_any() -> Option<Tx> {
    CURRENT.try_with(Tx::clone).ok()
}

/// The task's transaction, if it is one of `db`'s pool.
pub(crate) fn ambient_for(db: &Db) -> Option<Tx> {
    CURRENT
        .try_with(|tx| tx.clone())
        .ok()
        .filter(|tx| Arc::ptr_eq(&tx.inner.db.inner, &db.inner))
}

impl Tx {
    async fn begin(db: &Db, options: &TxOptions) -> Result<Self, Error> {
        let begin = options.begin_sql(db.backend());
        let conn = crate::db::with_pool!(db, |pool| {
            let mut retried = false;
            loop {
                let conn = db.acquire(pool).await?;
                let begun = db.observed(&begin, async {
                    match TxConnection::begin(conn, begin.clone()).await {
                        Ok(tx) => Ok(Some(tx)),
                        Err(failed) if failed.retry_elsewhere && !retried => Ok(None),
                        Err(failed) => Err(failed.error),
                    }
                });
                match begun.await? {
                    Some(tx) => break wrap(tx),
                    None => retried = true,
                }
            }
        });
        Ok(Self {
            inner: Arc::new(TxInner {
                db: db.clone(),
                conn: AsyncMutex::new(Some(conn)),
                savepoints: AtomicU32::new(0),
                failure: Mutex::new(None),
                after_commit: Mutex::new(Vec::new()),
                statements: crate::n_plus_one::Detector::new("transaction"),
            }),
        })
    }

    /// The N+1 count of this transaction's statements.
    pub(crate) fn statements(&self) -> &crate::n_plus_one::Detector {
        &self.inner.statements
    }

    /// The `Db` this transaction runs on.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.inner.db.backend()
    }

    /// Runs `work` after this transaction commits, before the `transaction` call
    /// returns; drops it if the transaction rolls back or is retried. Registered
    /// inside a joined or savepoint scope, it waits for the outermost commit (and runs
    /// even if that savepoint was rolled back: use it for work that is safe to do
    /// extra, like cache evictions).
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    ///
    /// let db = txova_db::Db::connect("sqlite::memory:").await?;
    /// let done = Arc::new(AtomicBool::new(false));
    /// db.transaction(|tx| {
    ///     let done = done.clone();
    ///     async move {
    ///         tx.after_commit(async move { done.store(true, Ordering::SeqCst) });
    ///         Ok::<_, txova_db::Error>(())
    ///     }
    /// })
    /// .await?;
    /// assert!(done.load(Ordering::SeqCst));
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub fn after_commit(&self, work: impl Future<Output = ()> + Send + 'static) {
        if let Ok(mut hooks) = self.inner.after_commit.lock() {
            hooks.push(Box::pin(work));
        }
    }

    /// Runs the after-commit work, in registration order.
    async fn run_after_commit(&self) {
        let hooks = match self.inner.after_commit.lock() {
            Ok(mut hooks) => std::mem::take(&mut *hooks),
            Err(_) => return,
        };
        for hook in hooks {
            hook.await;
        }
    }

    pub(crate) async fn connection(&self) -> Result<TxConnGuard<'_>, Error> {
        let guard = self.inner.conn.lock().await;
        if guard.is_none() {
            return Err(Error::InvalidQuery {
                reason: "the transaction has already ended".into(),
            });
        }
        Ok(TxConnGuard(guard))
    }

    /// Notes a retryable failure, so the outermost scope can retry whatever error type
    /// the closure turned it into.
    pub(crate) fn record<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(err) = &result {
            self.note_failure(err);
        }
        result
    }

    fn note_failure(&self, err: &Error) {
        if err.is_retryable()
            && let Ok(mut failure) = self.inner.failure.lock()
        {
            failure.get_or_insert(err.kind());
        }
    }

    fn retryable_failure(&self) -> Option<ErrorKind> {
        self.inner.failure.lock().ok().and_then(|f| *f)
    }

    async fn commit(&self) -> Result<(), Error> {
        let Some(conn) = self.inner.conn.lock().await.take() else {
            return Ok(());
        };
        let committed = self.inner.db.observed("COMMIT", async move {
            match conn {
                #[cfg(feature = "postgres")]
                TxConn::Postgres(tx) => tx.commit().await,
                #[cfg(feature = "sqlite")]
                TxConn::Sqlite(tx) => tx.commit().await,
                #[cfg(feature = "mysql")]
                TxConn::MySql(tx) => tx.commit().await,
            }
        });
        committed.await.map_err(|err| match err {
            // The COMMIT may or may not have reached the server: say so, never retry.
            lost if lost.kind() == ErrorKind::Connection => Error::AmbiguousCommit {
                source: Box::new(lost),
            },
            other => {
                self.note_failure(&other);
                other
            }
        })
    }

    /// Rolls back; a failure here (a dead connection) changes nothing for the caller,
    /// whose own error or panic is what gets reported.
    async fn rollback(&self) {
        let Some(conn) = self.inner.conn.lock().await.take() else {
            return;
        };
        let rolled_back = self.inner.db.observed("ROLLBACK", async move {
            match conn {
                #[cfg(feature = "postgres")]
                TxConn::Postgres(tx) => tx.rollback().await,
                #[cfg(feature = "sqlite")]
                TxConn::Sqlite(tx) => tx.rollback().await,
                #[cfg(feature = "mysql")]
                TxConn::MySql(tx) => tx.rollback().await,
            }
        });
        if let Err(err) = rolled_back.await {
            tracing::debug!(error = %err, "rollback failed; the connection is discarded");
        }
    }

    async fn savepoint_statement(&self, verb: &str, name: &str) -> Result<(), Error> {
        let sql = format!("{verb} {name}");
        let mut conn = self.connection().await?;
        let run = async {
            with_tx_conn!(conn, |c, B| {
                c.statement_started();
                let result = crate::db::driver::execute_script::<B>(&mut **c, &sql).await;
                c.statement_finished(result.as_ref().err());
                result
            })
        };
        let result = self.inner.db.observed(&sql, run).await;
        self.record(result.map(|_| ()))
    }
}

fn wrap<D: WrapTx>(tx: TxConnection<D>) -> TxConn {
    D::wrap(tx)
}

trait WrapTx: crate::db::driver::Driver {
    fn wrap(tx: TxConnection<Self>) -> TxConn;
}

#[cfg(feature = "postgres")]
impl WrapTx for sqlx::Postgres {
    fn wrap(tx: TxConnection<Self>) -> TxConn {
        TxConn::Postgres(tx)
    }
}

#[cfg(feature = "sqlite")]
impl WrapTx for sqlx::Sqlite {
    fn wrap(tx: TxConnection<Self>) -> TxConn {
        TxConn::Sqlite(tx)
    }
}

#[cfg(feature = "mysql")]
impl WrapTx for sqlx::MySql {
    fn wrap(tx: TxConnection<Self>) -> TxConn {
        TxConn::MySql(tx)
    }
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx")
            .field("backend", &self.backend())
            .field("savepoints", &self.inner.savepoints.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Runs `body` in a transaction: COMMIT when it returns `Ok`, ROLLBACK when it
    /// returns `Err` or panics (the panic then continues).
    ///
    /// Serialization failures, deadlocks and lock timeouts — in any statement or in the
    /// COMMIT — make the whole body run again, with exponential backoff and full jitter
    /// ([`RetryPolicy`]), so `body` must be safe to repeat (no side effects outside the
    /// database, or idempotent ones). Only the outermost transaction retries. A
    /// connection lost during COMMIT is [`Error::AmbiguousCommit`], never retried.
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// let db = txova_db::Db::connect("sqlite::memory:").await?;
    /// db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)").await?;
    /// db.execute("INSERT INTO accounts VALUES (1, 100), (2, 0)").await?;
    /// db.transaction(|_tx| {
    ///     let db = db.clone();
    ///     async move {
    ///         // Statements through `db` join the transaction of this task.
    ///         db.execute("UPDATE accounts SET balance = balance - 30 WHERE id = 1").await?;
    ///         db.execute("UPDATE accounts SET balance = balance + 30 WHERE id = 2").await?;
    ///         Ok::<_, txova_db::Error>(())
    ///     }
    /// })
    /// .await?;
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub async fn transaction<F, Fut, T, E>(&self, body: F) -> Result<T, E>
    where
        F: FnMut(Tx) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.transaction_with(TxOptions::default(), body).await
    }

    /// [`transaction`](Self::transaction) with options: isolation, read-only, retry
    /// policy, and SAVEPOINT nesting.
    pub async fn transaction_with<F, Fut, T, E>(
        &self,
        options: TxOptions,
        mut body: F,
    ) -> Result<T, E>
    where
        F: FnMut(Tx) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        if let Some(outer) = ambient_for(self) {
            return match options.nesting {
                Nesting::Join => body(outer).await,
                Nesting::Savepoint => savepoint(outer, body).await,
            };
        }
        let mut attempt = 1;
        loop {
            let (kind, failed) = match self.attempt(&options, &mut body).await {
                Attempt::Done(result) => return result,
                Attempt::Retryable(kind, failed) => (kind, failed),
            };
            if attempt >= options.retry.max_attempts {
                return failed;
            }
            let delay = options.retry.delay(attempt);
            metrics::counter!("txova_db_transaction_retries_total", "kind" => kind.to_string())
                .increment(1);
            tracing::warn!(
                target: "txova_db::transaction",
                attempt,
                kind = %kind,
                delay_ms = delay.as_secs_f64() * 1e3,
                "transaction failed with a retryable error; running it again"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One run of the body in a fresh transaction.
    async fn attempt<F, Fut, T, E>(&self, options: &TxOptions, body: &mut F) -> Attempt<T, E>
    where
        F: FnMut(Tx) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let tx = match Tx::begin(self, options).await {
            Ok(tx) => tx,
            // SQLITE_BUSY at BEGIN IMMEDIATE, a lock timeout: nothing ran yet.
            Err(err) if err.is_retryable() => {
                return Attempt::Retryable(err.kind(), Err(E::from(err)));
            }
            Err(err) => return Attempt::Done(Err(E::from(err))),
        };
        let outcome = CURRENT
            .scope(
                tx.clone(),
                AssertUnwindSafe(body(tx.clone())).catch_unwind(),
            )
            .await;
        match outcome {
            Err(panic) => {
                tx.rollback().await;
                std::panic::resume_unwind(panic);
            }
            Ok(Ok(value)) => match tx.commit().await {
                Ok(()) => {
                    tx.run_after_commit().await;
                    Attempt::Done(Ok(value))
                }
                Err(err) if err.is_retryable() => Attempt::Retryable(err.kind(), Err(E::from(err))),
                Err(err) => Attempt::Done(Err(E::from(err))),
            },
            Ok(Err(err)) => {
                tx.rollback().await;
                match tx.retryable_failure() {
                    Some(kind) => Attempt::Retryable(kind, Err(err)),
                    None => Attempt::Done(Err(err)),
                }
            }
        }
    }

    /// The transaction this task is running on this `Db`, if any: for code that needs
    /// the transaction itself (to pass it on, or use it as an explicit executor).
    pub fn current_tx(&self) -> Option<Tx> {
        ambient_for(self)
    }
}

/// Where `#[transactional]` methods find their database: implement it for the type
/// the methods are on (a repository holding a `Db`).
///
/// ```
/// use txova_db::{Db, UsesDb};
///
/// struct RideRepo {
///     db: Db,
/// }
///
/// impl UsesDb for RideRepo {
///     fn db(&self) -> &Db {
///         &self.db
///     }
/// }
/// ```
///
/// ```
/// use txova_db::{Db, Error, UsesDb, transactional};
///
/// struct Rides {
///     db: Db,
/// }
///
/// // Where `#[transactional]` methods of `Rides` open their transaction.
/// impl UsesDb for Rides {
///     fn db(&self) -> &Db {
///         &self.db
///     }
/// }
///
/// impl Rides {
///     #[transactional]
///     async fn cancel(&self, id: i64) -> Result<u64, Error> {
///         txova_db::query("UPDATE rides SET status = 'cancelled' WHERE id = $1")
///             .bind(id)
///             .execute(&self.db)
///             .await
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not say which database #[transactional] should use",
    label = "the transaction's `Db` comes from here",
    note = "implement `txova_db::UsesDb` for `{Self}`, or write `#[transactional(db = <expr>)]`"
)]
pub trait UsesDb {
    /// The database the transaction runs on.
    fn db(&self) -> &Db;
}

impl UsesDb for Db {
    fn db(&self) -> &Db {
        self
    }
}

impl<T: UsesDb + ?Sized> UsesDb for &T {
    fn db(&self) -> &Db {
        (**self).db()
    }
}

impl<T: UsesDb + ?Sized> UsesDb for Arc<T> {
    fn db(&self) -> &Db {
        (**self).db()
    }
}

/// How one run of a transaction ended.
enum Attempt<T, E> {
    /// Committed, or failed in a way a retry cannot fix.
    Done(Result<T, E>),
    /// Failed with a retryable error (of this kind); the result to return if no
    /// attempt is left.
    Retryable(ErrorKind, Result<T, E>),
}

async fn savepoint<F, Fut, T, E>(outer: Tx, mut body: F) -> Result<T, E>
where
    F: FnMut(Tx) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: From<Error>,
{
    let n = outer.inner.savepoints.fetch_add(1, Ordering::Relaxed) + 1;
    let name = format!("txova_sp_{n}");
    outer.savepoint_statement("SAVEPOINT", &name).await?;
    match AssertUnwindSafe(body(outer.clone())).catch_unwind().await {
        Ok(Ok(value)) => {
            outer
                .savepoint_statement("RELEASE SAVEPOINT", &name)
                .await?;
            Ok(value)
        }
        Ok(Err(err)) => {
            outer
                .savepoint_statement("ROLLBACK TO SAVEPOINT", &name)
                .await?;
            Err(err)
        }
        Err(panic) => {
            // The outer scope rolls everything back when the panic reaches it.
            std::panic::resume_unwind(panic);
        }
    }
}

impl crate::executor::sealed::Sealed for Tx {}

impl crate::executor::Executor for Tx {
    fn backend(&self) -> Backend {
        Tx::backend(self)
    }

    async fn execute_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn crate::types::Param>],
    ) -> Result<u64, Error> {
        CURRENT
            .scope(self.clone(), self.inner.db.run_execute(sql, params))
            .await
    }

    async fn fetch_all_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn crate::types::Param>],
    ) -> Result<Vec<crate::row::Row>, Error> {
        CURRENT
            .scope(self.clone(), self.inner.db.run_fetch_all(sql, params))
            .await
    }

    async fn fetch_optional_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn crate::types::Param>],
    ) -> Result<Option<crate::row::Row>, Error> {
        CURRENT
            .scope(self.clone(), self.inner.db.run_fetch_optional(sql, params))
            .await
    }

    async fn fetch_each_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn crate::types::Param>],
        sink: &'a mut (dyn FnMut(crate::row::Row) -> Result<(), Error> + Send),
    ) -> Result<(), Error> {
        CURRENT
            .scope(
                self.clone(),
                self.inner.db.run_fetch_each(sql, params, sink),
            )
            .await
    }
}
