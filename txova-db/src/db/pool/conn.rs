//! [`PooledConn`]: a connection handed out by the pool, which goes back when dropped.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::Shared;
use crate::db::driver::Driver;

/// An open connection and when it was opened.
pub(crate) struct Live<D: Driver> {
    pub(super) raw: D::Connection,
    pub(super) created: Instant,
}

impl<D: Driver> Live<D> {
    pub(super) fn new(raw: D::Connection) -> Self {
        Self {
            raw,
            created: Instant::now(),
        }
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

/// What is known of a handed-out connection's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Between statements, nothing pending.
    Settled,
    /// A statement started and has not finished: if the connection comes back like
    /// this, the statement's future was dropped midway.
    Running,
    /// Came back from a statement with a reply still owed, or a transaction left open
    /// (its rollback queued): the next round trip settles it.
    Unsettled,
    /// Reported a connection-class error: it is closed, never reused.
    Broken,
}

/// A connection handed out by the pool; dereferences to the sqlx connection.
pub(crate) struct PooledConn<D: Driver> {
    held: Held<D>,
}

enum Held<D: Driver> {
    Own {
        /// `None` only inside `drop`.
        live: Option<Live<D>>,
        state: Use,
        /// Taken from the idle stack, rather than opened for this caller.
        from_idle: bool,
        slot: Slot<D>,
    },
    External(sqlx::pool::PoolConnection<D>),
}

impl<D: Driver> PooledConn<D> {
    pub(super) fn own(live: Live<D>, slot: Slot<D>, from_idle: bool) -> Self {
        Self {
            held: Held::Own {
                live: Some(live),
                state: Use::Settled,
                from_idle,
                slot,
            },
        }
    }

    pub(super) fn external(conn: sqlx::pool::PoolConnection<D>) -> Self {
        Self {
            held: Held::External(conn),
        }
    }

    /// Call before running a statement on the connection.
    pub(crate) fn statement_started(&mut self) {
        if let Held::Own { state, .. } = &mut self.held
            && *state != Use::Broken
        {
            *state = Use::Running;
        }
    }

    /// Call when the statement has finished, with its error if it failed: a
    /// connection-class error closes the connection when it is returned.
    pub(crate) fn statement_finished(&mut self, error: Option<&sqlx::Error>) {
        let Held::Own { state, slot, .. } = &mut self.held else {
            return;
        };
        match error {
            Some(error) if D::breaks_connection(error) => {
                if D::session_ended(error) {
                    slot.shared.suspect_idle();
                }
                *state = Use::Broken;
            }
            _ if *state == Use::Running => *state = Use::Settled,
            _ => {}
        }
    }

    /// Marks the connection as owing the server a round trip (a rollback queued by a
    /// transaction dropped while open): it is checked before its next use.
    pub(crate) fn mark_unsettled(&mut self) {
        if let Held::Own { state, .. } = &mut self.held
            && *state != Use::Broken
        {
            *state = Use::Unsettled;
        }
    }

    /// Whether `error` says the server had ended this connection's session while it
    /// sat idle in the pool, before the statement reached it: then the statement never
    /// ran, and can run again on another connection.
    pub(crate) fn ended_while_idle(&self, error: &sqlx::Error) -> bool {
        matches!(
            &self.held,
            Held::Own {
                from_idle: true,
                ..
            }
        ) && D::session_ended(error)
    }
}

impl<D: Driver> Deref for PooledConn<D> {
    type Target = D::Connection;

    fn deref(&self) -> &D::Connection {
        match &self.held {
            Held::Own { live, .. } => match live {
                Some(live) => &live.raw,
                None => unreachable!("a pooled connection is emptied only when dropped"),
            },
            Held::External(conn) => conn,
        }
    }
}

impl<D: Driver> DerefMut for PooledConn<D> {
    fn deref_mut(&mut self) -> &mut D::Connection {
        match &mut self.held {
            Held::Own { live, .. } => match live {
                Some(live) => &mut live.raw,
                None => unreachable!("a pooled connection is emptied only when dropped"),
            },
            Held::External(conn) => conn,
        }
    }
}

impl<D: Driver> Drop for PooledConn<D> {
    /// Returns the connection to the idle stack, or closes it if it is broken, past its
    /// lifetime, or the pool is closed. The slot's permit is given back after (fields
    /// drop after this body), so a waiter it wakes finds the connection.
    fn drop(&mut self) {
        let Held::Own {
            live, state, slot, ..
        } = &mut self.held
        else {
            return;
        };
        let Some(live) = live.take() else {
            return;
        };
        let shared = &slot.shared;
        if *state == Use::Broken {
            shared.discard(live, false);
        } else if shared.closed.load(Ordering::SeqCst) || shared.outlived(&live, Instant::now()) {
            shared.discard(live, true);
        } else {
            shared.push_idle(live, *state != Use::Settled);
        }
    }
}
