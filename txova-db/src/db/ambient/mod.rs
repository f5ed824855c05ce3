//! The ambient transaction: the transaction a task is running on a [`Db`], which every
//! statement that task runs through that `Db` (or a clone) joins without being handed
//! a parameter.
//!
//! This module owns everything of a live transaction: the task-local that marks it,
//! its connection, the first retryable failure seen in it, the work to run after it
//! commits, and its N+1 count. `transaction/` opens, retries and ends transactions on
//! top of it; the statement path (`db/mod.rs`) and the cache only ask it whether the
//! current task is inside one.
//!
//! A transaction whose owner (the `transaction` call that began it) is dropped midway
//! is abandoned: its connection goes back to the pool at once, or as soon as the
//! statement holding it lets go, and the pool rolls it back before anyone reuses it.

mod connection;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::future::BoxFuture;
use tokio::sync::{Mutex as AsyncMutex, MutexGuard as AsyncMutexGuard};

pub(crate) use connection::{CommitFailed, TxConnection};

use super::Db;
use super::driver::Driver as _;
use crate::backend::{Wrap, per_engine, with_engine};
use crate::error::{Error, ErrorKind};
use crate::n_plus_one::Detector;

tokio::task_local! {
    static CURRENT: Arc<AmbientTx>;
}

/// The task's transaction on `db`'s pool, if there is one.
pub(crate) fn current_for(db: &Db) -> Option<Arc<AmbientTx>> {
    CURRENT
        .try_with(Arc::clone)
        .ok()
        .filter(|tx| Arc::ptr_eq(&tx.db.inner, &db.inner))
}

/// The task's transaction on any database, if there is one.
pub(crate) fn current() -> Option<Arc<AmbientTx>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// Whether the current task is inside a transaction (on any database).
pub(crate) fn in_transaction() -> bool {
    CURRENT.try_with(|_| ()).is_ok()
}

/// Runs `work` with `tx` as the task's transaction.
pub(crate) async fn scope<F: Future>(tx: Arc<AmbientTx>, work: F) -> F::Output {
    CURRENT.scope(tx, work).await
}

/// A live transaction: its connection and what is known about it.
pub(crate) struct AmbientTx {
    db: Db,
    conn: AsyncMutex<Option<TxConn>>,
    /// The `transaction` call that owns it is gone: whoever holds the connection lets
    /// it go (to be rolled back) when done with it.
    abandoned: AtomicBool,
    savepoints: AtomicU32,
    /// Savepoints sent and not yet released or rolled back to, and those whose scopes
    /// were dropped midway.
    savepoint_scopes: Mutex<SavepointScopes>,
    /// The first retryable failure seen by a statement of this transaction.
    failure: Mutex<Option<ErrorKind>>,
    /// Work to run once the transaction has committed (cache evictions).
    after_commit: Mutex<Vec<BoxFuture<'static, ()>>>,
    /// The N+1 count of this transaction's statements.
    statements: Detector,
    /// A stream of one of its statements holds the connection (see
    /// [`StreamGuard`]).
    streaming: AtomicBool,
}

/// Marks a transaction as having an open row stream: while the stream holds the
/// connection, another statement of the transaction fails at once instead of waiting
/// for a connection the stream gives back only when read to the end or dropped.
pub(crate) struct StreamGuard(Arc<AmbientTx>);

impl StreamGuard {
    pub(crate) fn new(tx: Arc<AmbientTx>) -> Self {
        tx.streaming.store(true, Ordering::Release);
        Self(tx)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.streaming.store(false, Ordering::Release);
    }
}

/// A transaction's connection on engine `D`.
type TxConnOf<D> = TxConnection<D>;

per_engine! {
    /// The transaction's connection, per engine.
    pub(crate) enum TxConn = TxConnOf;
}

/// Runs `$body` with `$conn` bound to the transaction's connection (a
/// `&mut TxConnection<$backend>`) and `$backend` naming the sqlx database type.
macro_rules! with_tx_conn_impl {
    ($guard:expr, |$conn:ident, $backend:ident| $body:expr) => {
        $crate::backend::with_engine!(
            &mut *$guard,
            $crate::db::ambient::TxConn,
            |$conn, $backend| $body
        )
    };
}

pub(crate) use with_tx_conn_impl as with_tx_conn;

/// The connection of a live transaction, locked for one statement. If the transaction
/// was abandoned meanwhile, the connection is let go when this guard drops.
pub(crate) struct TxConnGuard<'a> {
    guard: AsyncMutexGuard<'a, Option<TxConn>>,
    tx: &'a AmbientTx,
}

impl std::ops::Deref for TxConnGuard<'_> {
    type Target = TxConn;
    fn deref(&self) -> &TxConn {
        // `connection()` hands out guards only while the transaction is open.
        self.guard
            .as_ref()
            .unwrap_or_else(|| unreachable!("guard of a finished transaction"))
    }
}

impl std::ops::DerefMut for TxConnGuard<'_> {
    fn deref_mut(&mut self) -> &mut TxConn {
        self.guard
            .as_mut()
            .unwrap_or_else(|| unreachable!("guard of a finished transaction"))
    }
}

impl Drop for TxConnGuard<'_> {
    fn drop(&mut self) {
        if self.tx.abandoned.load(Ordering::Acquire) {
            // Back to the pool, which rolls it back.
            drop(self.guard.take());
        }
    }
}

/// Which savepoints are open, and which were left by scopes dropped midway.
#[derive(Default)]
struct SavepointScopes {
    open: Vec<u32>,
    dropped: Vec<u32>,
}

/// A savepoint statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SavepointVerb {
    /// `SAVEPOINT`: the scope begins.
    Open,
    /// `RELEASE SAVEPOINT`: the scope's work joins the enclosing transaction.
    Release,
    /// `ROLLBACK TO SAVEPOINT`: the scope's work is undone.
    RollbackTo,
}

impl SavepointVerb {
    fn sql(self) -> &'static str {
        match self {
            Self::Open => "SAVEPOINT",
            Self::Release => "RELEASE SAVEPOINT",
            Self::RollbackTo => "ROLLBACK TO SAVEPOINT",
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each of these holds plain data, consistent between statements.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AmbientTx {
    /// Begins a transaction with `begin` on a connection of `db`'s pool. A BEGIN that
    /// meets a connection the server had ended while it sat idle (the error was waiting
    /// before BEGIN was sent) runs once more on another.
    pub(crate) async fn begin(db: &Db, begin: &str) -> Result<Arc<Self>, Error> {
        let conn = crate::db::with_pool!(db, |pool, B| {
            let mut retried = false;
            loop {
                let conn = db.acquire_from(pool).await?;
                let begun = db.observed(begin, async {
                    match TxConnection::<B>::begin(conn, begin).await {
                        Ok(tx) => Ok(Some(tx)),
                        Err(failed) if failed.retry_elsewhere && !retried => Ok(None),
                        Err(failed) => Err(failed.error),
                    }
                });
                match begun.await? {
                    Some(tx) => break <B as Wrap<TxConn, _>>::wrap(tx),
                    None => retried = true,
                }
            }
        });
        Ok(Arc::new(Self {
            db: db.clone(),
            conn: AsyncMutex::new(Some(conn)),
            abandoned: AtomicBool::new(false),
            savepoints: AtomicU32::new(0),
            savepoint_scopes: Mutex::new(SavepointScopes::default()),
            failure: Mutex::new(None),
            after_commit: Mutex::new(Vec::new()),
            statements: Detector::new("transaction"),
            streaming: AtomicBool::new(false),
        }))
    }

    /// The `Db` this transaction runs on.
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// The N+1 count of this transaction's statements.
    pub(crate) fn statements(&self) -> &Detector {
        &self.statements
    }

    /// The number of the next savepoint.
    pub(crate) fn next_savepoint(&self) -> u32 {
        self.savepoints.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// How many savepoints were opened so far.
    pub(crate) fn savepoints_opened(&self) -> u32 {
        self.savepoints.load(Ordering::Relaxed)
    }

    /// The transaction's connection, for one statement: first reads what a statement
    /// dropped midway left on it, and rolls back to savepoints whose scopes were
    /// dropped midway.
    pub(crate) async fn connection(&self) -> Result<TxConnGuard<'_>, Error> {
        let locked = match self.conn.try_lock() {
            Ok(locked) => locked,
            // Held by an open stream, which gives it back only when read to the end or
            // dropped: waiting for it from the task reading the stream never ends.
            Err(_) if self.streaming.load(Ordering::Acquire) => {
                return Err(Error::InvalidQuery {
                    reason: "a row stream of this transaction is still open: read it to the \
                             end or drop it before the transaction's next statement"
                        .into(),
                });
            }
            Err(_) => self.conn.lock().await,
        };
        let mut guard = TxConnGuard {
            guard: locked,
            tx: self,
        };
        if guard.guard.is_none() {
            return Err(Error::InvalidQuery {
                reason: "the transaction has already ended".into(),
            });
        }
        let settled = with_tx_conn!(guard, |c, B| c.settle().await);
        settled.map_err(|e| self.db.error(e))?;
        let outermost = {
            let mut scopes = lock(&self.savepoint_scopes);
            let outermost = std::mem::take(&mut scopes.dropped).into_iter().min();
            if let Some(outermost) = outermost {
                // Rolling back to the outermost one undoes the others too.
                scopes.open.retain(|&n| n < outermost);
            }
            outermost
        };
        if let Some(outermost) = outermost {
            let sql = format!("ROLLBACK TO SAVEPOINT {}", savepoint_name(outermost));
            let rolled_back = with_tx_conn!(guard, |c, B| {
                c.statement_started();
                let result = B::simple(&mut **c, &sql).await;
                c.statement_finished(result.as_ref().err());
                if result.is_ok() {
                    c.rolled_back_to_savepoint(outermost);
                }
                result
            });
            rolled_back.map_err(|e| self.db.error(e))?;
        }
        Ok(guard)
    }

    /// Notes that savepoint `n`'s scope was dropped before it ended: if the savepoint
    /// was sent, the transaction rolls back to it before its next statement, so nothing
    /// of that scope survives.
    pub(crate) fn savepoint_scope_dropped(&self, n: u32) {
        let mut scopes = lock(&self.savepoint_scopes);
        if let Some(at) = scopes.open.iter().position(|&open| open == n) {
            scopes.open.remove(at);
            scopes.dropped.push(n);
        }
    }

    /// Notes a retryable failure, so the outermost scope can retry whatever error type
    /// the closure turned it into.
    pub(crate) fn record<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(err) = &result {
            self.note_failure(err);
        }
        result
    }

    pub(crate) fn note_failure(&self, err: &Error) {
        if err.is_retryable() {
            lock(&self.failure).get_or_insert(err.kind());
        }
    }

    /// The first retryable failure seen, if any.
    pub(crate) fn retryable_failure(&self) -> Option<ErrorKind> {
        *lock(&self.failure)
    }

    /// Runs `work` once the transaction commits.
    pub(crate) fn after_commit(&self, work: BoxFuture<'static, ()>) {
        lock(&self.after_commit).push(work);
    }

    /// Runs the after-commit work, in registration order.
    pub(crate) async fn run_after_commit(&self) {
        let hooks = std::mem::take(&mut *lock(&self.after_commit));
        for hook in hooks {
            hook.await;
        }
    }

    /// Commits. A transaction that had failed on the server (a statement error that
    /// the body handled) is rolled back instead and reported as
    /// [`Error::RolledBack`]; a connection lost during COMMIT is
    /// [`Error::AmbiguousCommit`].
    pub(crate) async fn commit(&self) -> Result<(), Error> {
        let conn = self.take_connection().await?;
        let committed = self.db.observed("COMMIT", async move {
            let outcome = with_engine!(conn, TxConn, |tx, _E| tx.commit().await);
            match outcome {
                Ok(()) => Ok(Ok(())),
                Err(CommitFailed::RolledBack(cause)) => Ok(Err(cause)),
                Err(CommitFailed::Error(error)) => Err(error),
            }
        });
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(cause)) => Err(Error::RolledBack { cause }),
            // The COMMIT may or may not have reached the server: say so, never retry.
            Err(lost) if lost.kind() == ErrorKind::Connection => Err(Error::AmbiguousCommit {
                source: Box::new(lost),
            }),
            Err(other) => {
                self.note_failure(&other);
                Err(other)
            }
        }
    }

    /// Rolls back; a failure here (a dead connection) changes nothing for the caller,
    /// whose own error or panic is what gets reported, and the pool closes the
    /// connection.
    pub(crate) async fn rollback(&self) {
        let Ok(conn) = self.take_connection().await else {
            return;
        };
        let rolled_back = self.db.observed("ROLLBACK", async move {
            with_engine!(conn, TxConn, |tx, _E| tx.rollback().await)
        });
        if let Err(err) = rolled_back.await {
            tracing::debug!(error = %err, "rollback failed; the connection is discarded");
        }
    }

    /// Takes the connection out to end the transaction on it.
    async fn take_connection(&self) -> Result<TxConn, Error> {
        self.conn.lock().await.take().ok_or(Error::InvalidQuery {
            reason: "the transaction has already ended".into(),
        })
    }

    /// Runs a savepoint statement (`SAVEPOINT txova_sp_3`, …) in the transaction, keeping
    /// track of which savepoints are open for [`savepoint_scope_dropped`].
    ///
    /// [`savepoint_scope_dropped`]: Self::savepoint_scope_dropped
    pub(crate) async fn savepoint_statement(
        &self,
        verb: SavepointVerb,
        n: u32,
    ) -> Result<(), Error> {
        let sql = format!("{} {}", verb.sql(), savepoint_name(n));
        let mut conn = self.connection().await?;
        let run = async {
            with_tx_conn!(conn, |c, B| {
                match verb {
                    // Open from the moment it may be on the wire.
                    SavepointVerb::Open => lock(&self.savepoint_scopes).open.push(n),
                    // Its work stays once RELEASE is sent, as a statement's does once it
                    // is sent: a drop from here on does not undo it.
                    SavepointVerb::Release => self.forget_savepoint(n),
                    SavepointVerb::RollbackTo => {}
                }
                c.statement_started();
                let result = B::simple(&mut **c, &sql).await;
                c.statement_finished(result.as_ref().err());
                match verb {
                    SavepointVerb::Open if result.is_ok() => c.savepoint_taken(n),
                    SavepointVerb::Release => c.savepoint_released(n),
                    SavepointVerb::RollbackTo if result.is_ok() => c.rolled_back_to_savepoint(n),
                    _ => {}
                }
                let closed = match verb {
                    SavepointVerb::Open => result.is_err(),
                    SavepointVerb::Release => false,
                    SavepointVerb::RollbackTo => result.is_ok(),
                };
                if closed {
                    self.forget_savepoint(n);
                }
                result
            })
        };
        let result = self.db.observed(&sql, run).await;
        self.record(result.map(|_| ()))
    }

    fn forget_savepoint(&self, n: u32) {
        lock(&self.savepoint_scopes).open.retain(|&open| open != n);
    }

    /// The owner is gone: let the connection go now if nobody is using it, else when
    /// the statement using it finishes.
    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::Release);
        if let Ok(mut conn) = self.conn.try_lock() {
            drop(conn.take());
        }
    }
}

/// The SQL name of savepoint `n`.
fn savepoint_name(n: u32) -> String {
    format!("txova_sp_{n}")
}

/// Abandons its transaction when dropped: held by the `transaction` call that owns it,
/// so a caller that drops that call (at BEGIN, mid-body, at COMMIT) lets the
/// transaction go at once instead of when the last clone of its handle is dropped.
pub(crate) struct Owner(pub(crate) Arc<AmbientTx>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.abandon();
    }
}
