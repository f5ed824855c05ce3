//! [`PooledConn`]: a connection handed out by the pool, which goes back when dropped —
//! to the idle stack if it is known to be clean, to the settle task if not.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use tokio::time::Instant;

use super::{Shared, settle};
use crate::db::driver::{Driver, SessionLimits};

/// An open connection, when it was opened, and how to reach its session from outside
/// (to cancel a statement it is running).
pub(crate) struct Live<D: Driver> {
    pub(super) raw: D::Connection,
    pub(super) created: Instant,
    pub(super) key: D::CancelKey,
}

impl<D: Driver> Live<D> {
    /// Learns what is needed to cancel the connection's statements (one round trip on
    /// Postgres and MySQL, none on SQLite).
    pub(crate) async fn identify(
        mut raw: D::Connection,
        limits: &SessionLimits,
    ) -> Result<Self, sqlx::Error> {
        let key = D::identify(&mut raw, limits).await?;
        Ok(Self {
            raw,
            created: Instant::now(),
            key,
        })
    }

    /// The connection, before the pool has it.
    pub(crate) fn connection(&mut self) -> &mut D::Connection {
        &mut self.raw
    }
}

/// One permit of the pool's semaphore, given back when dropped.
pub(super) struct Slot<D: Driver> {
    shared: Arc<Shared<D>>,
}

impl<D: Driver> Slot<D> {
    pub(super) fn new(shared: Arc<Shared<D>>) -> Self {
        Self { shared }
    }
}

impl<D: Driver> Drop for Slot<D> {
    fn drop(&mut self) {
        self.shared.permits.add_permits(1);
    }
}

/// What is known of a checked-out connection's wire state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// Between statements, nothing pending.
    Settled,
    /// A statement (or a check) started and has not finished: if the connection comes
    /// back like this, its caller dropped the statement midway.
    Running,
    /// Reported a connection-class error: it is closed, never reused.
    Broken,
}

/// Where a checked-out connection stands with respect to a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxPhase {
    /// No transaction was begun on it.
    None,
    /// BEGIN was sent (its reply may still be in flight) and no COMMIT or ROLLBACK yet:
    /// the server may hold a transaction open.
    Open,
    /// COMMIT or ROLLBACK was sent: once its reply is read, no transaction is open.
    Ending,
}

/// A connection out of the idle stack, owned until it is checked back in: when dropped
/// it goes back to the idle stack if it is settled with no transaction, to the settle
/// task if a statement or transaction was left behind, and is closed if it broke. No
/// path, at any await point, loses the connection's place in the pool's size.
pub(crate) struct Checkout<D: Driver> {
    /// `None` only inside `drop`.
    live: Option<Live<D>>,
    shared: Arc<Shared<D>>,
    state: Use,
    tx: TxPhase,
    /// Taken from the idle stack, rather than opened for this caller.
    from_idle: bool,
    /// Lent whole to a caller (`Db::acquire`), who may have changed its session.
    lent: bool,
    /// In a protocol state no drain can read back (a `COPY` in progress): closed if it
    /// comes back so.
    unrecoverable: bool,
    /// When its last statement ended, if the caller read the clock then and has done
    /// nothing with it since: the idle stack's timestamp, without reading it again.
    ended: Option<Instant>,
}

impl<D: Driver> Checkout<D> {
    pub(super) fn new(shared: Arc<Shared<D>>, live: Live<D>, from_idle: bool) -> Self {
        Self {
            live: Some(live),
            shared,
            state: Use::Settled,
            tx: TxPhase::None,
            from_idle,
            lent: false,
            unrecoverable: false,
            ended: None,
        }
    }

    pub(super) fn raw(&mut self) -> &mut D::Connection {
        match &mut self.live {
            Some(live) => &mut live.raw,
            None => unreachable!("a checkout is emptied only when dropped"),
        }
    }

    pub(super) fn started(&mut self) {
        self.ended = None;
        if self.state != Use::Broken {
            self.state = Use::Running;
        }
    }

    /// The connection failed its check (whatever the error): close it when dropped.
    pub(super) fn broke(&mut self) {
        self.state = Use::Broken;
    }

    pub(super) fn finished(&mut self, error: Option<&sqlx::Error>) {
        self.ended = None;
        match error {
            Some(error) if D::breaks_connection(error) => {
                self.shared.suspect_idle();
                self.state = Use::Broken;
            }
            _ if self.state == Use::Running => self.state = Use::Settled,
            _ => {}
        }
    }
}

impl<D: Driver> Drop for Checkout<D> {
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            let state = if self.unrecoverable {
                Use::Broken
            } else {
                self.state
            };
            self.shared
                .check_in(live, state, self.tx, self.lent, self.ended);
        }
    }
}

/// A connection handed out by the pool; dereferences to the sqlx connection.
pub(crate) struct PooledConn<D: Driver> {
    held: Held<D>,
}

enum Held<D: Driver> {
    /// Fields drop in order: the connection is checked in before the permit is given
    /// back, so a waiter the permit wakes finds it on the idle stack.
    Own {
        checkout: Checkout<D>,
        _slot: Slot<D>,
    },
    External(External<D>),
}

/// A connection of a pool built with sqlx, which does its own checks on release. One
/// dropped with a statement in flight or a transaction open is detached from that pool
/// and closed instead: sqlx would drain it, but it cannot know of a transaction begun
/// with a plain `BEGIN`, and would hand it out again still inside it.
pub(crate) struct External<D: Driver> {
    /// `None` only inside `drop`.
    conn: Option<sqlx::pool::PoolConnection<D>>,
    state: Use,
    tx: TxPhase,
    /// Lent whole (`Db::acquire`): its session cannot be reset from here.
    lent: bool,
    /// See [`PooledConn::unrecoverable`].
    unrecoverable: bool,
}

impl<D: Driver> Drop for External<D> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && (self.state != Use::Settled
                || self.tx != TxPhase::None
                || self.lent
                || self.unrecoverable)
        {
            // The socket closes with it: the server rolls back what was left open.
            drop(conn.detach());
        }
    }
}

impl<D: Driver> PooledConn<D> {
    pub(super) fn own(checkout: Checkout<D>, slot: Slot<D>) -> Self {
        Self {
            held: Held::Own {
                checkout,
                _slot: slot,
            },
        }
    }

    pub(super) fn external(conn: sqlx::pool::PoolConnection<D>) -> Self {
        Self {
            held: Held::External(External {
                conn: Some(conn),
                state: Use::Settled,
                tx: TxPhase::None,
                lent: false,
                unrecoverable: false,
            }),
        }
    }

    /// Call before sending a statement on the connection.
    pub(crate) fn statement_started(&mut self) {
        match &mut self.held {
            Held::Own { checkout, .. } => checkout.started(),
            Held::External(external) => external.state = Use::Running,
        }
    }

    /// Call when the statement has finished, with its error if it failed: a
    /// connection-class error closes the connection when it is returned, and makes
    /// every connection idle now suspect.
    pub(crate) fn statement_finished(&mut self, error: Option<&sqlx::Error>) {
        match &mut self.held {
            Held::Own { checkout, .. } => checkout.finished(error),
            Held::External(external) => external.state = Use::Settled,
        }
    }

    /// [`statement_finished`](Self::statement_finished) by a caller that read the
    /// clock as it ended (`ended`) and returns the connection next: the pool takes
    /// that as the moment it went idle.
    pub(crate) fn statement_finished_at(&mut self, error: Option<&sqlx::Error>, ended: Instant) {
        self.statement_finished(error);
        if let Held::Own { checkout, .. } = &mut self.held {
            checkout.ended = Some(ended);
        }
    }

    /// Closes the connection when it is returned, whatever its state.
    pub(crate) fn mark_broken(&mut self) {
        match &mut self.held {
            Held::Own { checkout, .. } => checkout.broke(),
            Held::External(external) => external.state = Use::Broken,
        }
    }

    /// Records where the connection stands with respect to a transaction, so that if it
    /// comes back mid-transaction it is rolled back before anyone else can use it.
    pub(crate) fn set_tx_phase(&mut self, phase: TxPhase) {
        match &mut self.held {
            Held::Own { checkout, .. } => checkout.tx = phase,
            Held::External(external) => external.tx = phase,
        }
    }

    /// Ends a statement of this connection's caller that was dropped midway: lets it
    /// run [`GRACE`](settle::GRACE) longer, then cancels it on the server and reads the rest of its
    /// reply. The statement's error, if it met one; an error (the connection marked
    /// broken) when the connection cannot be brought back to a known state. On a
    /// connection of sqlx's own pool, which cannot be cancelled from here, waits for
    /// the statement to finish.
    pub(crate) async fn finish_abandoned(&mut self) -> Result<Option<sqlx::Error>, sqlx::Error> {
        self.statement_started();
        let finished = match &mut self.held {
            Held::Own { checkout, .. } => match checkout.live.as_mut() {
                Some(live) => settle::finish_statement(&checkout.shared, live, settle::GRACE)
                    .await
                    .map_err(|err| match err {
                        settle::SettleError::Driver(error) => error,
                        other => sqlx::Error::Protocol(other.to_string()),
                    }),
                None => unreachable!("a checkout is emptied only when dropped"),
            },
            Held::External(External {
                conn: Some(conn), ..
            }) => D::drain(conn).await,
            Held::External(External { conn: None, .. }) => {
                unreachable!("an external connection is emptied only when dropped")
            }
        };
        match &finished {
            Ok(_) => self.statement_finished(None),
            Err(_) => self.mark_broken(),
        }
        finished
    }

    /// Lends the connection whole (`Db::acquire`): its session state is reset before
    /// the pool hands it out again (a connection of sqlx's own pool, which cannot be
    /// reset from here, is closed instead).
    pub(crate) fn lend(&mut self) {
        match &mut self.held {
            Held::Own { checkout, .. } => checkout.lent = true,
            Held::External(external) => external.lent = true,
        }
    }

    /// Marks the connection as in a protocol state no drain can read back (a `COPY`
    /// under way: `true`), or out of it again (`false`): dropped while marked, it is
    /// closed, not settled.
    pub(crate) fn unrecoverable(&mut self, marked: bool) {
        match &mut self.held {
            Held::Own { checkout, .. } => checkout.unrecoverable = marked,
            Held::External(external) => external.unrecoverable = marked,
        }
    }

    /// Whether the connection is marked with [`unrecoverable`](Self::unrecoverable).
    pub(crate) fn is_unrecoverable(&self) -> bool {
        match &self.held {
            Held::Own { checkout, .. } => checkout.unrecoverable,
            Held::External(external) => external.unrecoverable,
        }
    }

    /// Whether the connection was taken from the idle stack (rather than opened for
    /// this caller): only then can an error mean the server ended it while it waited.
    pub(crate) fn was_idle(&self) -> bool {
        matches!(&self.held, Held::Own { checkout, .. } if checkout.from_idle)
    }
}

impl<D: Driver> Deref for PooledConn<D> {
    type Target = D::Connection;

    fn deref(&self) -> &D::Connection {
        match &self.held {
            Held::Own { checkout, .. } => match &checkout.live {
                Some(live) => &live.raw,
                None => unreachable!("a checkout is emptied only when dropped"),
            },
            Held::External(External {
                conn: Some(conn), ..
            }) => conn,
            Held::External(External { conn: None, .. }) => {
                unreachable!("an external connection is emptied only when dropped")
            }
        }
    }
}

impl<D: Driver> DerefMut for PooledConn<D> {
    fn deref_mut(&mut self) -> &mut D::Connection {
        match &mut self.held {
            Held::Own { checkout, .. } => checkout.raw(),
            Held::External(External {
                conn: Some(conn), ..
            }) => conn,
            Held::External(External { conn: None, .. }) => {
                unreachable!("an external connection is emptied only when dropped")
            }
        }
    }
}
