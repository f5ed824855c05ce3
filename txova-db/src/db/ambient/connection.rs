//! [`TxConnection`]: a pooled connection with a transaction open on it.
//!
//! BEGIN, COMMIT and ROLLBACK are sent as plain statements and the connection's
//! [`TxPhase`] is kept on its checkout, so a transaction dropped at any point (BEGIN in
//! flight, mid-body, COMMIT in flight) is rolled back by the pool's settle task before
//! the connection is reused. (sqlx's own transaction manager counts a transaction only
//! once BEGIN's reply is read, so a drop during BEGIN left it open.)

use std::ops::{Deref, DerefMut};

use crate::db::driver::Driver;
use crate::db::pool::{PooledConn, TxPhase};
use crate::error::AbortCause;

/// A pooled connection inside a transaction.
pub(crate) struct TxConnection<D: Driver> {
    conn: PooledConn<D>,
    /// The failure that left the transaction unable to commit (Postgres: any error in
    /// it; MySQL: a deadlock or a lock wait timeout), unless a later `ROLLBACK TO
    /// SAVEPOINT` undid it.
    aborted: Option<Aborted>,
    /// Statements sent so far: orders failures against savepoints.
    sent: u64,
    /// The savepoints open, innermost last, each with the statement count when it was
    /// taken.
    savepoints: Vec<(u32, u64)>,
    /// A statement of this transaction was dropped midway: its reply is read before
    /// the next statement is sent.
    abandoned: bool,
}

/// A failure that dooms the transaction, and when it happened.
struct Aborted {
    cause: AbortCause,
    /// The number of the statement that failed (see [`TxConnection::sent`]).
    at: u64,
    /// Whether rolling back to a savepoint taken before it undoes it: the failure
    /// undid only its statement (a lock wait timeout on MySQL, any error on Postgres),
    /// not the whole transaction (a deadlock).
    undone_by_savepoint: bool,
}

/// Why [`TxConnection::begin`] failed.
pub(crate) struct BeginFailed {
    pub(crate) error: sqlx::Error,
    /// The idle connection turned out dead: BEGIN, which has no effect of its own, can
    /// run on another connection.
    pub(crate) retry_elsewhere: bool,
}

/// How a COMMIT ended, when it did not commit.
pub(crate) enum CommitFailed {
    /// The transaction had failed (its cause, where known): it was rolled back, and the
    /// COMMIT never sent.
    RolledBack(Option<AbortCause>),
    /// The COMMIT itself failed; the transaction is not committed.
    Error(sqlx::Error),
}

impl<D: Driver> TxConnection<D> {
    /// Runs `begin` (`BEGIN`, `BEGIN ISOLATION LEVEL …`, `START TRANSACTION`, `BEGIN
    /// IMMEDIATE`) on `conn`.
    pub(crate) async fn begin(mut conn: PooledConn<D>, begin: &str) -> Result<Self, BeginFailed> {
        // Open from the moment BEGIN may be on the wire: dropped from here on, the
        // connection is rolled back before it is reused.
        conn.set_tx_phase(TxPhase::Open);
        conn.statement_started();
        let begun = D::simple(&mut conn, begin).await;
        conn.statement_finished(begun.as_ref().err());
        match begun {
            Ok(_) => Ok(Self {
                conn,
                aborted: None,
                sent: 0,
                savepoints: Vec::new(),
                abandoned: false,
            }),
            Err(error) => {
                // A BEGIN the server refused opened nothing.
                conn.set_tx_phase(TxPhase::None);
                // A BEGIN of two statements (MySQL's `SET TRANSACTION …; START
                // TRANSACTION`) may have run its first, which sets the characteristics of
                // the session's next transaction: the session is not reused.
                if begin.contains(';') {
                    conn.mark_broken();
                }
                Err(BeginFailed {
                    retry_elsewhere: super::super::found_dead::<D>(&conn, &error),
                    error,
                })
            }
        }
    }

    /// Reads what is left of a statement of this transaction that was dropped midway,
    /// noting the failure if it failed, so the next statement starts clean. Where the
    /// backend cannot be read back to a known state, the transaction is lost: its
    /// connection is closed (the server rolls it back) and this fails.
    pub(crate) async fn settle(&mut self) -> Result<(), sqlx::Error> {
        if !self.abandoned {
            return Ok(());
        }
        if !D::DRAINS || self.conn.is_unrecoverable() {
            self.conn.mark_broken();
            return Err(sqlx::Error::Protocol(
                "a statement of this transaction was dropped midway, and this backend's \
                 connection cannot be read back to a known state: the transaction is lost"
                    .into(),
            ));
        }
        // Its caller dropped it (gone away, or past its `.timeout(..)`): a moment to
        // finish, then it is cancelled on the server rather than waited for. Boxed:
        // rare, and its future (a cancel request is a connection of its own) would
        // otherwise be carried by every statement's future in a transaction.
        let met = Box::pin(self.conn.finish_abandoned()).await?;
        self.abandoned = false;
        if let Some(error) = met {
            self.note(Some(&error));
        }
        Ok(())
    }

    /// See [`PooledConn::unrecoverable`].
    pub(crate) fn unrecoverable(&mut self, marked: bool) {
        self.conn.unrecoverable(marked);
    }

    /// Call before sending a statement of the transaction.
    pub(crate) fn statement_started(&mut self) {
        self.abandoned = true;
        self.sent += 1;
        self.conn.statement_started();
    }

    /// Call when the statement has finished, with its error if it failed.
    pub(crate) fn statement_finished(&mut self, error: Option<&sqlx::Error>) {
        self.abandoned = false;
        self.conn.statement_finished(error);
        self.note(error);
    }

    /// Savepoint `n` was taken by the statement just finished.
    pub(crate) fn savepoint_taken(&mut self, n: u32) {
        self.savepoints.push((n, self.sent));
    }

    /// Savepoint `n` was released: it and those taken after it are gone.
    pub(crate) fn savepoint_released(&mut self, n: u32) {
        if let Some(at) = self.savepoints.iter().position(|&(open, _)| open == n) {
            self.savepoints.truncate(at);
        }
    }

    /// The transaction rolled back to savepoint `n`: those taken after it are gone, and
    /// a failure after it that undid only its statement is undone with the rest.
    pub(crate) fn rolled_back_to_savepoint(&mut self, n: u32) {
        let Some(at) = self.savepoints.iter().position(|&(open, _)| open == n) else {
            return;
        };
        let taken = self.savepoints[at].1;
        self.savepoints.truncate(at + 1);
        if self
            .aborted
            .as_ref()
            .is_some_and(|aborted| aborted.undone_by_savepoint && aborted.at > taken)
        {
            self.aborted = None;
        }
    }

    fn note(&mut self, error: Option<&sqlx::Error>) {
        match error {
            Some(error) if D::aborts_transaction(error) => {
                let (at, undone_by_savepoint) = (self.sent, !D::ends_transaction(error));
                self.aborted.get_or_insert_with(|| Aborted {
                    cause: AbortCause::of(error),
                    at,
                    undone_by_savepoint,
                });
            }
            Some(_) => {}
            None if D::SUCCESS_RESTORES_TRANSACTION => self.aborted = None,
            None => {}
        }
    }

    /// Commits; a transaction that had failed is rolled back instead and reported so.
    pub(crate) async fn commit(mut self) -> Result<(), CommitFailed> {
        self.settle().await.map_err(CommitFailed::Error)?;
        if let Some(Aborted { cause, .. }) = self.aborted.take() {
            // Nothing to gain from sending COMMIT (Postgres would answer ROLLBACK
            // without an error): roll back and say so.
            self.rollback().await.map_err(CommitFailed::Error)?;
            return Err(CommitFailed::RolledBack(Some(cause)));
        }
        self.conn.set_tx_phase(TxPhase::Ending);
        self.conn.statement_started();
        let committed = D::simple(&mut self.conn, "COMMIT").await;
        self.conn.statement_finished(committed.as_ref().err());
        match committed {
            Ok(_) => {
                self.conn.set_tx_phase(TxPhase::None);
                Ok(())
            }
            // The engine had rolled back by itself (SQLite after SQLITE_FULL and the
            // like): nothing was committed.
            Err(error) if D::no_transaction(&error) => {
                self.conn.set_tx_phase(TxPhase::None);
                Err(CommitFailed::RolledBack(None))
            }
            Err(error) => {
                if D::commit_error_ends_transaction(&error) {
                    self.conn.set_tx_phase(TxPhase::None);
                } else {
                    // Still open (SQLite's SQLITE_BUSY at COMMIT): roll back now rather
                    // than leave it to the pool.
                    self.conn.set_tx_phase(TxPhase::Open);
                    let _ = self.rollback_in_place().await;
                }
                Err(CommitFailed::Error(error))
            }
        }
    }

    /// Rolls back.
    pub(crate) async fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.settle().await?;
        self.rollback_in_place().await
    }

    async fn rollback_in_place(&mut self) -> Result<(), sqlx::Error> {
        self.conn.set_tx_phase(TxPhase::Ending);
        self.conn.statement_started();
        let rolled_back = D::rollback(&mut self.conn).await;
        self.conn.statement_finished(rolled_back.as_ref().err());
        if rolled_back.is_ok() {
            self.conn.set_tx_phase(TxPhase::None);
        } else {
            // Unknown: the pool rolls back again, or closes the connection.
            self.conn.set_tx_phase(TxPhase::Open);
        }
        rolled_back
    }
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
