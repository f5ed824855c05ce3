//! Transactions: [`Db::transaction`], the ambient transaction of a task, savepoints,
//! and retry of serialization failures and deadlocks.
//!
//! Inside `db.transaction(|tx| async move { .. })`, every statement run through `db`
//! (or a clone of it) by the same task joins the transaction, so repository code does
//! not need a transaction parameter; `&tx` works as an executor too. A nested
//! `transaction` call joins the outer one, or opens a SAVEPOINT with
//! [`TxOptions::savepoint`]. Work spawned onto other tasks does not join: it runs on
//! its own connections, outside the transaction.
//!
//! The transaction state itself (the task-local, the connection, what failed) lives in
//! the `db` module's ambient transaction; this module opens, retries and ends
//! transactions on top of it.

mod explicit;
mod retry;

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt as _;

pub use explicit::Transaction;
pub use retry::RetryPolicy;

use crate::db::Db;
use crate::db::ambient::{self, AmbientTx, Owner, SavepointVerb};
use crate::error::{Backend, Error, ErrorKind};

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

    /// The isolation level: `BEGIN ISOLATION LEVEL …` on Postgres, `SET TRANSACTION
    /// ISOLATION LEVEL …` before `START TRANSACTION` on MySQL and MariaDB (for that
    /// transaction only, in the same round trip); ignored by SQLite, whose transactions
    /// are serializable.
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
            Backend::Postgres => {
                let mut sql = String::from("BEGIN");
                if let Some(isolation) = self.isolation {
                    sql.push_str(" ISOLATION LEVEL ");
                    sql.push_str(isolation.sql());
                }
                if self.read_only {
                    sql.push_str(" READ ONLY");
                }
                sql
            }
            // START TRANSACTION takes no isolation level on MySQL and MariaDB; `SET
            // TRANSACTION` (no SESSION) sets it for the next transaction only, and goes
            // in the same round trip.
            Backend::MySql => {
                let mut sql = String::new();
                if let Some(isolation) = self.isolation {
                    sql.push_str("SET TRANSACTION ISOLATION LEVEL ");
                    sql.push_str(isolation.sql());
                    sql.push_str("; ");
                }
                sql.push_str("START TRANSACTION");
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
    inner: Arc<AmbientTx>,
}

impl Tx {
    /// The `Db` this transaction runs on.
    pub fn db(&self) -> &Db {
        self.inner.db()
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.inner.db().backend()
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
        self.inner.after_commit(Box::pin(work));
    }
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx")
            .field("backend", &self.backend())
            .field("savepoints", &self.inner.savepoints_opened())
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
    /// A body that returns `Ok` after a statement of the transaction failed on the
    /// server (it handled or ignored the error) does not commit: Postgres will not
    /// commit such a transaction, and MySQL has already rolled it back after a
    /// deadlock. It is rolled back and the call fails with [`Error::RolledBack`] (rerun
    /// if that failure was retryable), and no [`after_commit`](Tx::after_commit) work
    /// runs.
    ///
    /// Dropped at any await (its caller went away, a `timeout` fired), the transaction
    /// is rolled back at once, on the server, before its connection is reused.
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
        if let Some(outer) = ambient::current_for(self) {
            let outer = Tx { inner: outer };
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
        let begin = options.begin_sql(self.backend());
        let tx = match AmbientTx::begin(self, &begin).await {
            Ok(tx) => tx,
            // SQLITE_BUSY at BEGIN IMMEDIATE, a lock timeout: nothing ran yet.
            Err(err) if err.is_retryable() => {
                return Attempt::Retryable(err.kind(), Err(E::from(err)));
            }
            Err(err) => return Attempt::Done(Err(E::from(err))),
        };
        // Dropped from here on (the caller gave up at any await), the transaction lets
        // go of its connection at once, and the pool rolls it back.
        let owner = Owner(Arc::clone(&tx));
        let handle = Tx {
            inner: Arc::clone(&tx),
        };
        let outcome = ambient::scope(
            Arc::clone(&tx),
            AssertUnwindSafe(body(handle)).catch_unwind(),
        )
        .await;
        let attempt = match outcome {
            Err(panic) => {
                tx.rollback().await;
                std::panic::resume_unwind(panic);
            }
            Ok(Ok(value)) => match tx.commit().await {
                Ok(()) => {
                    tx.run_after_commit().await;
                    Attempt::Done(Ok(value))
                }
                // A failure the body swallowed doomed it; if that failure was one a
                // retry can fix, run the body again.
                Err(err) => match (tx.retryable_failure(), err.is_retryable()) {
                    (_, true) => Attempt::Retryable(err.kind(), Err(E::from(err))),
                    (Some(kind), false) if err.kind() == ErrorKind::RolledBack => {
                        Attempt::Retryable(kind, Err(E::from(err)))
                    }
                    _ => Attempt::Done(Err(E::from(err))),
                },
            },
            Ok(Err(err)) => {
                tx.rollback().await;
                match tx.retryable_failure() {
                    Some(kind) => Attempt::Retryable(kind, Err(err)),
                    None => Attempt::Done(Err(err)),
                }
            }
        };
        drop(owner);
        attempt
    }

    /// The transaction this task is running on this `Db`, if any: for code that needs
    /// the transaction itself (to pass it on, or use it as an explicit executor).
    pub fn current_tx(&self) -> Option<Tx> {
        ambient::current_for(self).map(|inner| Tx { inner })
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
    let tx = &outer.inner;
    let n = tx.next_savepoint();
    // Dropped before it ends (at SAVEPOINT, mid-body), the scope's work is rolled back
    // before the transaction's next statement.
    let _scope = SavepointScope { tx, n };
    tx.savepoint_statement(SavepointVerb::Open, n).await?;
    match AssertUnwindSafe(body(outer.clone())).catch_unwind().await {
        Ok(Ok(value)) => {
            tx.savepoint_statement(SavepointVerb::Release, n).await?;
            Ok(value)
        }
        Ok(Err(err)) => {
            tx.savepoint_statement(SavepointVerb::RollbackTo, n).await?;
            Err(err)
        }
        Err(panic) => {
            // The outer scope rolls everything back when the panic reaches it.
            std::panic::resume_unwind(panic);
        }
    }
}

/// One savepoint scope of a transaction; see [`AmbientTx::savepoint_scope_dropped`].
struct SavepointScope<'a> {
    tx: &'a AmbientTx,
    n: u32,
}

impl Drop for SavepointScope<'_> {
    fn drop(&mut self) {
        // A no-op once the scope released or rolled back its savepoint.
        self.tx.savepoint_scope_dropped(self.n);
    }
}

impl crate::executor::sealed::Sealed for Tx {}

impl crate::executor::Executor for Tx {
    fn backend(&self) -> Backend {
        Tx::backend(self)
    }

    fn server_traits(&self) -> crate::executor::ServerTraits {
        crate::executor::Executor::server_traits(self.inner.db())
    }

    async fn execute_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn crate::types::Param + 'a>],
    ) -> Result<crate::executor::ExecuteResult, Error> {
        ambient::scope(
            Arc::clone(&self.inner),
            self.inner.db().run_execute(sql, params),
        )
        .await
    }

    async fn fetch_all_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn crate::types::Param + 'a>],
    ) -> Result<Vec<crate::row::Row>, Error> {
        ambient::scope(
            Arc::clone(&self.inner),
            self.inner.db().run_fetch_all(sql, params),
        )
        .await
    }

    async fn fetch_optional_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn crate::types::Param + 'a>],
    ) -> Result<Option<crate::row::Row>, Error> {
        ambient::scope(
            Arc::clone(&self.inner),
            self.inner.db().run_fetch_optional(sql, params),
        )
        .await
    }

    async fn fetch_each_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn crate::types::Param + 'a>],
        sink: &'a mut (dyn FnMut(crate::row::Row) -> Result<(), Error> + Send),
    ) -> Result<(), Error> {
        ambient::scope(
            Arc::clone(&self.inner),
            self.inner.db().run_fetch_each(sql, params, sink),
        )
        .await
    }

    async fn stream_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn crate::types::Param + 'a>],
        slot: &'a crate::executor::RowSlot,
    ) -> Result<(), Error> {
        ambient::scope(
            Arc::clone(&self.inner),
            self.inner.db().run_fetch_stream(sql, params, slot),
        )
        .await
    }

    async fn copy_in_statement<'a>(&'a self, sql: &'a str, data: &'a [u8]) -> Result<u64, Error> {
        ambient::scope(
            Arc::clone(&self.inner),
            self.inner.db().run_copy_in(sql, data),
        )
        .await
    }
}
