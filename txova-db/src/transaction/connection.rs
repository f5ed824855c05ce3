//! [`TxConnection`]: a pooled connection with a transaction open on it.

use std::ops::{Deref, DerefMut};

use sqlx::SqlSafeStr as _;
use sqlx_core::transaction::TransactionManager as _;

use crate::db::driver::Driver;
use crate::db::pool::PooledConn;

/// A pooled connection inside a transaction, through sqlx's transaction manager of
/// the backend. Dropped while still open (the body's future was dropped), it queues a
/// ROLLBACK, sent with the connection's next round trip: the pool checks the
/// connection before handing it out again, which sends it.
pub(crate) struct TxConnection<D: Driver> {
    conn: PooledConn<D>,
    open: bool,
}

impl<D: Driver> TxConnection<D> {
    /// Runs `begin` (`BEGIN`, or `BEGIN ISOLATION LEVEL …`) on `conn`.
    pub(crate) async fn begin(conn: PooledConn<D>, begin: String) -> Result<Self, BeginFailed> {
        // Open from the start: if BEGIN fails or is cancelled after reaching the server,
        // the drop queues the rollback.
        let mut tx = Self { conn, open: true };
        tx.statement_started();
        let begun = D::TransactionManager::begin(
            &mut tx.conn,
            Some(sqlx::AssertSqlSafe(begin).into_sql_str()),
        )
        .await;
        tx.statement_finished(begun.as_ref().err());
        match begun {
            Ok(()) => Ok(tx),
            Err(error) => Err(BeginFailed {
                retry_elsewhere: tx.conn.ended_while_idle(&error),
                error,
            }),
        }
    }

    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.statement_started();
        let committed = D::TransactionManager::commit(&mut self.conn).await;
        self.statement_finished(committed.as_ref().err());
        if committed.is_ok() {
            self.open = false;
        }
        committed
    }

    pub(crate) async fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.statement_started();
        let rolled_back = D::TransactionManager::rollback(&mut self.conn).await;
        self.statement_finished(rolled_back.as_ref().err());
        if rolled_back.is_ok() {
            self.open = false;
        }
        rolled_back
    }

    /// See [`PooledConn::statement_started`].
    pub(crate) fn statement_started(&mut self) {
        self.conn.statement_started();
    }

    /// See [`PooledConn::statement_finished`].
    pub(crate) fn statement_finished(&mut self, error: Option<&sqlx::Error>) {
        self.conn.statement_finished(error);
    }
}

/// Why [`TxConnection::begin`] failed.
pub(crate) struct BeginFailed {
    pub(crate) error: sqlx::Error,
    /// The server had ended the idle connection's session before BEGIN reached it:
    /// BEGIN can run on another connection.
    pub(crate) retry_elsewhere: bool,
}

impl<D: Driver> Deref for TxConnection<D> {
    type Target = D::Connection;

    fn deref(&self) -> &D::Connection {
        &self.conn
    }
}

impl<D: Driver> DerefMut for TxConnection<D> {
    fn deref_mut(&mut self) -> &mut D::Connection {
        &mut self.conn
    }
}

impl<D: Driver> Drop for TxConnection<D> {
    fn drop(&mut self) {
        if self.open {
            D::TransactionManager::start_rollback(&mut self.conn);
            self.conn.mark_unsettled();
        }
    }
}
