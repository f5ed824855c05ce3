//! The connection pool behind [`Db`](crate::Db): sqlx connections kept on a LIFO idle
//! stack, handed out under a fair semaphore of `max_connections` permits.
//!
//! sqlx's own `Pool` costs a point query two extra round trips: it pings every
//! connection it hands out (`test_before_acquire`) and again, in a spawned task, every
//! connection returned to it, so the next acquire also waits for that task. Here:
//!
//! - Acquire takes a permit (a compare-and-swap when one is free) and pops the
//!   most recently used idle connection; release pushes it back. Nothing is spawned
//!   and nothing is sent to the server.
//! - A connection is checked (pinged) before it is handed out only when there is a
//!   reason to doubt it: it sat idle longer than `test_after_idle` (1 s by default,
//!   as in pgxpool), or another connection of the pool broke since it went idle (a
//!   restart or `pg_terminate_backend` ends them all).
//! - A connection that reports a connection-class error is closed, never reused.
//! - Lifetimes: connections older than `max_lifetime` are closed when returned or
//!   found idle; idle ones beyond `min_connections` are closed after `idle_timeout`
//!   by a maintenance task, which also keeps `min_connections` open.
//!
//! Every await can be the last: the caller's future may be dropped at any of them (a
//! client went away, a `timeout` or `select!` fired). So everything acquired before
//! an await is owned by a guard that gives it back when dropped:
//!
//! - a permit by its `Slot`; room reserved for a connection being opened by a
//!   `Reservation`; a connection out of the idle stack (being checked, handed out, or
//!   inside a transaction) by its `Checkout`;
//! - a caller that finds no idle connection and no room (the pool is full of
//!   connections in use or being settled) parks until one comes back or closes, and
//!   gives up at `acquire_timeout`, never spinning;
//! - only connections known to be clean reach the idle stack. One checked in with a
//!   statement in flight or a transaction open goes to the settle task (`settle`),
//!   which lets a statement finish for a moment, cancels it on the server if it does
//!   not, reads what is left of its reply, rolls back what it left open, and only then
//!   returns it to the stack; if any of that fails, the connection is closed. Its
//!   permit is given back at once, so the next caller takes another connection
//!   without waiting for it.
//!
//! A pool built with sqlx directly (`Db::from(PgPool)`) is wrapped as it is: sqlx then
//! does its own checks.

mod conn;
mod maintain;
mod settle;

use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sqlx::{ConnectOptions as _, Connection as _};
use tokio::sync::{Notify, Semaphore, TryAcquireError};
use tokio::time::Instant;

use conn::{Checkout, Slot, Use};
pub(crate) use conn::{Live, PooledConn, TxPhase};

use super::driver::{Driver, SessionLimits};
use super::stats::PoolCounters;

/// The connect options of driver `D`.
pub(crate) type Options<D> = <<D as sqlx::Database>::Connection as sqlx::Connection>::Options;

/// The settings the pool enforces, from [`DbConfig`](crate::DbConfig).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) max_connections: u32,
    pub(crate) min_connections: u32,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) acquire_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    /// Ping connections idle longer than this before handing them out; `None`: never.
    pub(crate) test_after_idle: Option<Duration>,
    /// Applied to each connection it opens.
    pub(crate) session: SessionLimits,
}

/// Why an acquire failed.
#[derive(Debug)]
pub(crate) enum AcquireError {
    /// The pool was closed.
    Closed,
    /// No connection became free within the acquire timeout.
    TimedOut,
    /// Opening a new connection took longer than the connect timeout.
    ConnectTimedOut(Duration),
    /// The server refused a new connection, or sqlx's own pool failed.
    Sqlx(sqlx::Error),
}

/// A connection handed out, and whether the caller had to wait for it (for a permit,
/// or for a new connection to open).
pub(crate) struct Acquired<D: Driver> {
    pub(crate) conn: PooledConn<D>,
    pub(crate) waited: bool,
    /// When the connection was in hand: the caller's `began` itself when an idle one
    /// was there at once (a clock read costs as much as the rest of that path).
    pub(crate) at: Instant,
}

/// A pool of connections of driver `D`: txova-db's own, or one built with sqlx.
pub(crate) enum ConnPool<D: Driver> {
    Own(Arc<Shared<D>>),
    External(sqlx::Pool<D>),
}

pub(crate) struct Shared<D: Driver> {
    options: Arc<Options<D>>,
    settings: Settings,
    /// One per connection handed out (or being opened for a caller); idle connections
    /// and connections being settled hold none. Closed by [`ConnPool::close`], which
    /// fails every waiter.
    permits: Semaphore,
    /// Most recently returned last.
    idle: Mutex<Vec<Idle<D>>>,
    /// `idle.len()`, readable without the lock.
    idle_count: AtomicU32,
    /// Open connections: idle, handed out, being settled, or being opened.
    size: AtomicU32,
    /// Connections the settle task is cleaning up.
    settling: AtomicU32,
    closed: AtomicBool,
    /// Bumped when a connection breaks: connections that went idle before that are
    /// checked before they are reused.
    suspect_epoch: AtomicU64,
    counters: Arc<PoolCounters>,
    backend: &'static str,
    /// Wakes the maintenance task (a connection was closed: maybe replenish).
    maintenance: Arc<Notify>,
    /// Wakes callers parked for room and [`ConnPool::close`]: a connection reached the
    /// idle stack, or one closed.
    changed: Notify,
}

/// A connection resting in the pool: settled, with no transaction open.
struct Idle<D: Driver> {
    live: Live<D>,
    since: Instant,
    epoch: u64,
}

/// What an acquire found under the idle lock.
enum Take<'a, D: Driver> {
    Idle(Idle<D>),
    /// No idle connection; room for a new one is reserved.
    Open(Reservation<'a, D>),
    /// No idle connection and no room: every connection is in use, being settled, or
    /// being opened by someone else.
    Full,
}

/// Room for one connection in the pool's `size`, reserved while the connection is
/// being opened: given back when dropped, unless the connection opened.
struct Reservation<'a, D: Driver> {
    shared: &'a Shared<D>,
    kept: bool,
}

impl<D: Driver> Reservation<'_, D> {
    /// The connection opened: it now owns the room.
    fn keep(mut self) {
        self.kept = true;
    }
}

impl<D: Driver> Drop for Reservation<'_, D> {
    fn drop(&mut self) {
        if !self.kept {
            self.shared.unreserve();
        }
    }
}

/// How a connection leaving the pool is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Close {
    /// Say goodbye to the server (in a task): the connection is healthy.
    Graceful,
    /// Drop the socket: the connection is broken or its state unknown. The server ends
    /// the session, and rolls back any transaction it had open, when it sees the EOF.
    Hard,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data under these locks is consistent between statements, so a panic while
    // one was held leaves nothing half-done.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<D: Driver> Clone for ConnPool<D> {
    fn clone(&self) -> Self {
        match self {
            Self::Own(shared) => Self::Own(Arc::clone(shared)),
            Self::External(pool) => Self::External(pool.clone()),
        }
    }
}

/// The pool's sizes, for [`DbStats`](crate::DbStats).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) size: u32,
    pub(crate) idle: u32,
    pub(crate) settling: u32,
    pub(crate) max: u32,
}

impl<D: Driver> ConnPool<D> {
    /// A pool that opens connections with `options` as callers need them, starting
    /// with `first` (the connection `Db::connect` opened to check the server) if given.
    /// Spawns the maintenance task when there is maintenance to do.
    pub(crate) fn new(
        options: Options<D>,
        settings: Settings,
        counters: Arc<PoolCounters>,
        first: Option<Live<D>>,
    ) -> Self {
        let maintenance = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            options: Arc::new(options),
            permits: Semaphore::new(settings.max_connections as usize),
            idle: Mutex::new(Vec::with_capacity(settings.max_connections as usize)),
            idle_count: AtomicU32::new(0),
            size: AtomicU32::new(0),
            settling: AtomicU32::new(0),
            closed: AtomicBool::new(false),
            suspect_epoch: AtomicU64::new(0),
            counters,
            backend: super::telemetry::system_name(D::BACKEND),
            maintenance: Arc::clone(&maintenance),
            changed: Notify::new(),
            settings,
        });
        if let Some(live) = first {
            shared.size.fetch_add(1, Ordering::Relaxed);
            shared.connection_created();
            shared.push_idle(live, Instant::now());
        }
        maintain::spawn(&shared, maintenance);
        Self::Own(shared)
    }

    /// Hands out a connection: an idle one (checked first if there is reason to doubt
    /// it), else a new one while there is room, else the first one returned, waiting
    /// until `began` (the caller's clock reading) plus the acquire timeout.
    pub(crate) async fn acquire(&self, began: Instant) -> Result<Acquired<D>, AcquireError> {
        match self {
            Self::Own(shared) => shared.acquire(began).await,
            Self::External(pool) => {
                let waited = pool.num_idle() == 0;
                // Boxed: sqlx's acquire carries its connect inline (several KB), which
                // every statement's future would otherwise carry too.
                match Box::pin(pool.acquire()).await {
                    Ok(conn) => Ok(Acquired {
                        conn: PooledConn::external(conn),
                        waited,
                        at: Instant::now(),
                    }),
                    Err(sqlx::Error::PoolTimedOut) => Err(AcquireError::TimedOut),
                    Err(sqlx::Error::PoolClosed) => Err(AcquireError::Closed),
                    Err(other) => Err(AcquireError::Sqlx(other)),
                }
            }
        }
    }

    /// Opens one connection beside the pool and closes it again: whether the server
    /// takes connections now (the database breaker's probe). Sqlx's own pool is asked
    /// for a connection instead, which it checks.
    pub(crate) async fn probe(&self) -> Result<(), AcquireError> {
        match self {
            Self::Own(shared) => {
                let limit = shared.settings.connect_timeout;
                match tokio::time::timeout(limit, shared.options.connect()).await {
                    Ok(Ok(conn)) => {
                        let _ = tokio::time::timeout(GOODBYE_WITHIN, conn.close()).await;
                        Ok(())
                    }
                    Ok(Err(error)) => Err(AcquireError::Sqlx(error)),
                    Err(_) => Err(AcquireError::ConnectTimedOut(limit)),
                }
            }
            Self::External(pool) => match pool.acquire().await {
                Ok(_) => Ok(()),
                Err(sqlx::Error::PoolTimedOut) => Err(AcquireError::TimedOut),
                Err(sqlx::Error::PoolClosed) => Err(AcquireError::Closed),
                Err(other) => Err(AcquireError::Sqlx(other)),
            },
        }
    }

    /// The options new connections are opened with.
    #[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
    pub(crate) fn connect_options(&self) -> Arc<Options<D>> {
        match self {
            Self::Own(shared) => Arc::clone(&shared.options),
            Self::External(pool) => pool.connect_options(),
        }
    }

    /// Open, idle and settling connections, and the configured maximum.
    pub(crate) fn sizes(&self) -> Sizes {
        match self {
            Self::Own(shared) => Sizes {
                size: shared.size.load(Ordering::Relaxed),
                idle: shared.idle_count.load(Ordering::Relaxed),
                settling: shared.settling.load(Ordering::Relaxed),
                max: shared.settings.max_connections,
            },
            Self::External(pool) => Sizes {
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                settling: 0,
                max: pool.options().get_max_connections(),
            },
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Self::Own(shared) => shared.closed.load(Ordering::SeqCst),
            Self::External(pool) => pool.is_closed(),
        }
    }

    /// Fails new acquires at once, closes the idle connections, and completes when every
    /// connection handed out (or being settled) has come back and been closed.
    pub(crate) async fn close(&self) {
        let shared = match self {
            Self::Own(shared) => shared,
            Self::External(pool) => return pool.close().await,
        };
        shared.closed.store(true, Ordering::SeqCst);
        shared.permits.close();
        shared.maintenance.notify_one();
        // Callers parked for room see the pool closed.
        shared.changed.notify_waiters();
        loop {
            let mut changed = pin!(shared.changed.notified());
            changed.as_mut().enable();
            // Again on every wake-up: a connection returned while this was draining
            // may have reached the idle stack after all.
            let idle = std::mem::take(&mut *lock(&shared.idle));
            shared.idle_count.store(0, Ordering::Relaxed);
            // Out of the pool's size before the goodbyes: if this future is dropped
            // midway, the connections not yet told close with their sockets.
            let closing = u32::try_from(idle.len()).unwrap_or(u32::MAX);
            if closing > 0 {
                shared.size.fetch_sub(closing, Ordering::AcqRel);
            }
            for entry in idle {
                // A failed goodbye changes nothing: the socket closes either way.
                let _ = tokio::time::timeout(GOODBYE_WITHIN, entry.live.raw.close()).await;
            }
            if shared.size.load(Ordering::Acquire) == 0 {
                return;
            }
            changed.await;
        }
    }
}

/// How long a graceful close may take before the socket is simply dropped.
const GOODBYE_WITHIN: Duration = Duration::from_secs(5);

impl<D: Driver> Shared<D> {
    async fn acquire(self: &Arc<Self>, began: Instant) -> Result<Acquired<D>, AcquireError> {
        let deadline = began + self.settings.acquire_timeout;
        let mut waited = false;
        let permit = match self.permits.try_acquire() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => return Err(AcquireError::Closed),
            Err(TryAcquireError::NoPermits) => {
                waited = true;
                match tokio::time::timeout_at(deadline, self.permits.acquire()).await {
                    Err(_) => return Err(AcquireError::TimedOut),
                    Ok(Err(_closed)) => return Err(AcquireError::Closed),
                    Ok(Ok(permit)) => permit,
                }
            }
        };
        // From here the permit is accounted by hand: `Slot` gives it back when dropped,
        // whether the caller gets a connection (and returns it) or not.
        permit.forget();
        let slot = Slot::new(Arc::clone(self));
        // What time it is at the first look, unless a wait came before it; every later
        // look reads the clock.
        let mut first_look = (!waited).then_some(began);
        loop {
            // Created before looking, so a connection returned between the look and the
            // wait still wakes this caller: `changed` is only ever signalled with
            // `notify_waiters`, which a `Notified` sees from its creation on, before it
            // is first polled. Not `enable`d: that would put it on the waiter list
            // (two locks) for every acquire, though almost every acquire never waits.
            let changed = self.changed.notified();
            match self.take() {
                Take::Idle(idle) => {
                    let mut now = first_look.take().unwrap_or_else(Instant::now);
                    if self.outlived(&idle.live, now) {
                        self.discard(idle.live, Close::Graceful);
                        continue;
                    }
                    let doubtful = self.doubtful(idle.since, idle.epoch, now);
                    let mut checkout = Checkout::new(Arc::clone(self), idle.live, true);
                    if doubtful {
                        // Dropped during the ping, the checkout sends the connection to
                        // be settled: nothing is lost.
                        checkout.started();
                        // Boxed, as `open` below: rare, and carried inline it would make
                        // every statement's future larger.
                        let ping = Box::pin(checkout.raw().ping());
                        match tokio::time::timeout_at(deadline, ping).await {
                            Ok(Ok(())) => {
                                checkout.finished(None);
                                now = Instant::now();
                            }
                            Ok(Err(error)) => {
                                tracing::debug!(%error, "a pooled connection failed its check; closing it");
                                checkout.broke();
                                continue;
                            }
                            Err(_) => return Err(AcquireError::TimedOut),
                        }
                    }
                    return Ok(Acquired {
                        conn: PooledConn::own(checkout, slot),
                        waited,
                        at: now,
                    });
                }
                Take::Open(reservation) => {
                    // Boxed: connecting is rare and its future is large (sqlx's connect
                    // and handshake for the engine); carried inline it made every
                    // statement's future ~10 KB, copied whenever a caller's future is
                    // boxed or spawned (an axum handler's is).
                    let live = Box::pin(self.open(reservation, deadline)).await?;
                    return Ok(Acquired {
                        conn: PooledConn::own(Checkout::new(Arc::clone(self), live, false), slot),
                        waited: true,
                        at: Instant::now(),
                    });
                }
                Take::Full => {
                    waited = true;
                    first_look = None;
                    if self.closed.load(Ordering::SeqCst) {
                        return Err(AcquireError::Closed);
                    }
                    if tokio::time::timeout_at(deadline, changed).await.is_err() {
                        return Err(AcquireError::TimedOut);
                    }
                }
            }
        }
    }

    /// Pops the most recently returned idle connection or, if there is none, reserves
    /// room for a new one.
    fn take(&self) -> Take<'_, D> {
        let mut idle = lock(&self.idle);
        if let Some(entry) = idle.pop() {
            self.idle_count.store(idle.len() as u32, Ordering::Relaxed);
            return Take::Idle(entry);
        }
        drop(idle);
        match self.reserve(self.settings.max_connections) {
            Some(reservation) => Take::Open(reservation),
            None => Take::Full,
        }
    }

    /// Reserves room for one connection while fewer than `limit` are open.
    fn reserve(&self, limit: u32) -> Option<Reservation<'_, D>> {
        self.size
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |size| {
                (size < limit).then_some(size + 1)
            })
            .ok()
            .map(|_| Reservation {
                shared: self,
                kept: false,
            })
    }

    /// Opens a connection into reserved room (given back on failure, or if this future
    /// is dropped), within the connect timeout and the caller's acquire deadline.
    async fn open(
        &self,
        reservation: Reservation<'_, D>,
        deadline: Instant,
    ) -> Result<Live<D>, AcquireError> {
        let connect_timeout = self.settings.connect_timeout;
        let limit = deadline.min(Instant::now() + connect_timeout);
        let opening =
            async { Live::identify(self.options.connect().await?, &self.settings.session).await };
        match tokio::time::timeout_at(limit, opening).await {
            Ok(Ok(live)) => {
                reservation.keep();
                self.connection_created();
                Ok(live)
            }
            Ok(Err(error)) => Err(AcquireError::Sqlx(error)),
            Err(_) if limit < deadline => Err(AcquireError::ConnectTimedOut(connect_timeout)),
            Err(_) => Err(AcquireError::TimedOut),
        }
    }

    fn connection_created(&self) {
        self.counters.connection_created();
        metrics::counter!("txova_db_pool_connections_created_total", "backend" => self.backend)
            .increment(1);
    }

    /// Past its `max_lifetime`.
    fn outlived(&self, live: &Live<D>, now: Instant) -> bool {
        self.settings
            .max_lifetime
            .is_some_and(|lifetime| now.saturating_duration_since(live.created) >= lifetime)
    }

    /// Whether an idle connection must be pinged before it is handed out.
    fn doubtful(&self, since: Instant, epoch: u64, now: Instant) -> bool {
        epoch < self.suspect_epoch.load(Ordering::Relaxed)
            || self
                .settings
                .test_after_idle
                .is_some_and(|after| now.saturating_duration_since(since) >= after)
    }

    /// Takes back a connection from its checkout: to the idle stack if it is clean, to
    /// the settle task if its caller left a statement or transaction behind or had it
    /// whole (`lent`), closed if it broke. `ended`: when its last statement ended, if
    /// that was just now (the statement path has read the clock already).
    fn check_in(
        self: &Arc<Self>,
        live: Live<D>,
        state: Use,
        tx: TxPhase,
        lent: bool,
        ended: Option<Instant>,
    ) {
        match (state, tx) {
            (Use::Broken, _) => self.discard(live, Close::Hard),
            (Use::Settled, TxPhase::None) if !lent => {
                self.release(live, ended.unwrap_or_else(Instant::now));
            }
            (state, tx) => settle::spawn(
                self,
                live,
                settle::Leftover {
                    running: state == Use::Running,
                    tx,
                    reset: lent,
                },
            ),
        }
    }

    /// A clean connection goes back on the idle stack at `now`, unless it is past its
    /// lifetime or the pool was closed.
    fn release(&self, live: Live<D>, now: Instant) {
        if self.closed.load(Ordering::SeqCst) || self.outlived(&live, now) {
            self.discard(live, Close::Graceful);
        } else {
            self.push_idle(live, now);
        }
    }

    /// Puts a clean connection on the idle stack, idle from `since`.
    fn push_idle(&self, live: Live<D>, since: Instant) {
        let entry = Idle {
            live,
            since,
            epoch: self.suspect_epoch.load(Ordering::Relaxed),
        };
        let mut idle = lock(&self.idle);
        idle.push(entry);
        self.idle_count.store(idle.len() as u32, Ordering::Relaxed);
        drop(idle);
        // A caller parked for room takes it; `close` closes it.
        self.changed.notify_waiters();
    }

    /// Closes a connection that leaves the pool.
    fn discard(&self, live: Live<D>, how: Close) {
        if how == Close::Graceful
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = tokio::time::timeout(GOODBYE_WITHIN, live.raw.close()).await;
            });
        }
        self.size_closed();
    }

    /// One connection fewer: a parked caller may now open one, and the maintenance
    /// task may need to.
    fn size_closed(&self) {
        self.unreserve();
        if self.settings.min_connections > 0 {
            self.maintenance.notify_one();
        }
    }

    /// Gives back room in `size` (a connection closed, or one that never opened): a
    /// parked caller may now open one.
    fn unreserve(&self) {
        self.size.fetch_sub(1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    /// Marks every connection idle now as one to check before reuse: one connection
    /// broke, and whatever broke it (a restart, an administrator, the network) likely
    /// broke theirs too.
    fn suspect_idle(&self) {
        self.suspect_epoch.fetch_add(1, Ordering::Relaxed);
    }
}
