//! [`Transaction`]: a transaction its holder ends, from [`Db::begin`].

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

use super::{Tx, TxOptions, savepoint};
use crate::db::Db;
use crate::db::ambient::{self, AmbientTx, Owner};
use crate::error::{Backend, Error};
use crate::executor::{ExecuteResult, Executor, RowSlot, ServerTraits, sealed};
use crate::row::Row;
use crate::types::Param;

/// A transaction ended by [`commit`](Self::commit) or [`rollback`](Self::rollback),
/// from [`Db::begin`]: for code whose transaction spans calls that a closure cannot
/// wrap. Statements run in it when given it as their executor (`.execute(&tx)`), or
/// when they run inside [`scope`](Self::scope).
///
/// Dropped without `commit` — an early return, a `?`, a panic, a caller that went
/// away at any await — it is rolled back at once, on the server, before its connection
/// is reused. There is no retry: a serialization failure or a deadlock is the caller's
/// to handle, so [`Db::transaction`] and `#[transactional]`, which run the body again,
/// stay the way to write most transactions.
///
/// A statement outside the transaction does not see its uncommitted work, and on
/// SQLite (one writer at a time) a write outside it waits until it ends: in the task
/// that holds it and has not committed, that wait never ends.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, query};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE fares (cents INTEGER NOT NULL)").await?;
///
/// let tx = db.begin().await?;
/// query("INSERT INTO fares VALUES (?)").bind(1200_i64).execute(&tx).await?;
/// // Code that runs under `scope` joins it without being given it.
/// tx.scope(db.execute("INSERT INTO fares VALUES (800)")).await?;
/// tx.commit().await?;
///
/// let tx = db.begin().await?;
/// query("DELETE FROM fares").execute(&tx).await?;
/// drop(tx); // rolled back
/// let left: i64 = query("SELECT count(*) FROM fares").fetch_one(&db).await?.try_get(0)?;
/// assert_eq!(left, 2);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[must_use = "a transaction is rolled back when dropped: end it with commit()"]
pub struct Transaction {
    handle: Tx,
    /// Lets the connection go (to be rolled back) when the transaction is dropped.
    _owner: Owner,
}

impl Db {
    /// Begins a [`Transaction`] that the caller ends.
    ///
    /// Dropped at any await, the BEGIN leaves nothing open.
    pub async fn begin(&self) -> Result<Transaction, Error> {
        self.begin_with(TxOptions::default()).await
    }

    /// [`begin`](Self::begin) with an isolation level or read-only mode (the options'
    /// retry policy and nesting do not apply: nothing reruns an explicit transaction,
    /// and it never joins the task's ambient one).
    pub async fn begin_with(&self, options: TxOptions) -> Result<Transaction, Error> {
        let inner = AmbientTx::begin(self, &options.begin_sql(self.backend())).await?;
        Ok(Transaction {
            _owner: Owner(Arc::clone(&inner)),
            handle: Tx { inner },
        })
    }
}

impl Transaction {
    /// Commits, then runs the [`after_commit`](Tx::after_commit) work. A transaction
    /// the server will not commit (a statement of it failed on Postgres, a deadlock or
    /// a lock wait timeout on MySQL) is rolled back instead and reported as
    /// [`Error::RolledBack`]; a connection lost during COMMIT is
    /// [`Error::AmbiguousCommit`].
    pub async fn commit(self) -> Result<(), Error> {
        let inner = &self.handle.inner;
        inner.commit().await?;
        inner.run_after_commit().await;
        Ok(())
    }

    /// Rolls back. Nothing can fail that the caller could act on: where the ROLLBACK
    /// does not go through (a dead connection), the connection is closed, which ends
    /// the transaction on the server just the same.
    pub async fn rollback(self) {
        self.handle.inner.rollback().await;
    }

    /// Runs `body` in a savepoint of this transaction: its statements are undone if it
    /// returns `Err` (or is dropped midway), and the transaction carries on.
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// use txova_db::{Db, Error, query};
    ///
    /// let db = Db::connect("sqlite::memory:").await?;
    /// db.execute("CREATE TABLE log (what TEXT NOT NULL)").await?;
    /// let tx = db.begin().await?;
    /// query("INSERT INTO log VALUES ('kept')").execute(&tx).await?;
    /// let failed: Result<(), Error> = tx
    ///     .savepoint(|sp| async move {
    ///         query("INSERT INTO log VALUES ('undone')").execute(&sp).await?;
    ///         Err(Error::NotFound)
    ///     })
    ///     .await;
    /// assert!(failed.is_err());
    /// tx.commit().await?;
    /// let rows = query("SELECT what FROM log").fetch_all(&db).await?;
    /// assert_eq!(rows.len(), 1);
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub async fn savepoint<F, Fut, T, E>(&self, body: F) -> Result<T, E>
    where
        F: FnMut(Tx) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.scope(savepoint(self.handle.clone(), body)).await
    }

    /// Runs `work` with this transaction as the task's ambient one: statements through
    /// its `Db` and `#[transactional]` methods called in `work` join it, as they would
    /// inside [`Db::transaction`].
    pub async fn scope<F: Future>(&self, work: F) -> F::Output {
        ambient::scope(Arc::clone(&self.handle.inner), work).await
    }
}

/// The transaction's handle: [`Tx::after_commit`], [`Tx::db`], [`Tx::backend`].
impl Deref for Transaction {
    type Target = Tx;

    fn deref(&self) -> &Tx {
        &self.handle
    }
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Transaction").field(&self.handle).finish()
    }
}

impl sealed::Sealed for Transaction {}

impl Executor for Transaction {
    fn backend(&self) -> Backend {
        self.handle.backend()
    }

    fn server_traits(&self) -> ServerTraits {
        self.handle.server_traits()
    }

    fn execute_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
    ) -> impl Future<Output = Result<ExecuteResult, Error>> + Send + 'a {
        self.handle.execute_statement(sql, params)
    }

    fn fetch_all_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send + 'a {
        self.handle.fetch_all_statement(sql, params)
    }

    fn fetch_optional_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send + 'a {
        self.handle.fetch_optional_statement(sql, params)
    }

    fn fetch_each_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
        sink: &'a mut (dyn FnMut(Row) -> Result<(), Error> + Send),
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        self.handle.fetch_each_statement(sql, params, sink)
    }

    fn stream_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
        slot: &'a RowSlot,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        self.handle.stream_statement(sql, params, slot)
    }

    fn copy_in_statement<'a>(
        &'a self,
        sql: &'a str,
        data: &'a [u8],
    ) -> impl Future<Output = Result<u64, Error>> + Send + 'a {
        self.handle.copy_in_statement(sql, data)
    }
}
