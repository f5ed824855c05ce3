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
//!   as in pgxpool), its last statement was cancelled or it came back with a
//!   transaction open, or another connection of the pool found its session ended by
//!   the server (a restart or `pg_terminate_backend` ends them all).
//! - A connection that reports a connection-class error is closed, never reused; and
//!   a statement that finds the session of its idle connection ended by the server
//!   (Postgres 57P01, 57P02, 57P05: the statement never ran) runs again on another
//!   connection, so that failure never reaches the caller (see `Db`'s statement loop).
//! - Lifetimes: connections older than `max_lifetime` are closed when returned or
//!   found idle; idle ones beyond `min_connections` are closed after `idle_timeout`
//!   by a maintenance task, which also keeps `min_connections` open.
//!
//! A pool built with sqlx directly (`Db::from(PgPool)`) is wrapped as it is: sqlx then
//! does its own checks.

mod conn;
mod maintain;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sqlx::{ConnectOptions as _, Connection as _};
use tokio::sync::{Notify, Semaphore, TryAcquireError};
use tokio::time::Instant;

pub(crate) use conn::PooledConn;
use conn::{Live, Slot};

use super::driver::Driver;
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
    /// hold none. Closed by [`ConnPool::close`], which fails every waiter.
    permits: Semaphore,
    /// Most recently returned last.
    idle: Mutex<Vec<Idle<D>>>,
    /// `idle.len()`, readable without the lock.
    idle_count: AtomicU32,
    /// Open connections: idle, handed out, or being opened.
    size: AtomicU32,
    closed: AtomicBool,
    /// Bumped when a connection's session turns out to have been ended by the server:
    /// connections that went idle before that are checked before they are reused.
    suspect_epoch: AtomicU64,
    counters: Arc<PoolCounters>,
    backend: &'static str,
    /// Wakes the maintenance task (a connection was closed: maybe replenish).
    maintenance: Arc<Notify>,
    /// Wakes [`ConnPool::close`] when a connection closes after the pool did.
    drained: Notify,
}

/// A connection resting in the pool.
struct Idle<D: Driver> {
    live: Live<D>,
    since: Instant,
    epoch: u64,
    /// Returned with a statement cancelled midway or a transaction open: its state is
    /// unknown until a round trip settles it.
    unsettled: bool,
}

/// What an acquire found under the idle lock.
enum Take<D: Driver> {
    Idle(Idle<D>),
    /// No idle connection; a slot for a new one was reserved in `size`.
    Open,
    /// No idle connection and no room (transiently: another task is opening one).
    Busy,
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

impl<D: Driver> ConnPool<D> {
    /// A pool that opens connections with `options` as callers need them, starting
    /// with `first` (the connection `Db::connect` opened to check the server) if given.
    /// Spawns the maintenance task when there is maintenance to do.
    pub(crate) fn new(
        options: Options<D>,
        settings: Settings,
        counters: Arc<PoolCounters>,
        first: Option<D::Connection>,
    ) -> Self {
        let maintenance = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            options: Arc::new(options),
            permits: Semaphore::new(settings.max_connections as usize),
            idle: Mutex::new(Vec::with_capacity(settings.max_connections as usize)),
            idle_count: AtomicU32::new(0),
            size: AtomicU32::new(0),
            closed: AtomicBool::new(false),
            suspect_epoch: AtomicU64::new(0),
            counters,
            backend: super::telemetry::system_name(D::BACKEND),
            maintenance: Arc::clone(&maintenance),
            drained: Notify::new(),
            settings,
        });
        if let Some(raw) = first {
            shared.size.fetch_add(1, Ordering::Relaxed);
            shared.connection_created();
            shared.push_idle(Live::new(raw), false);
        }
        maintain::spawn(&shared, maintenance);
        Self::Own(shared)
    }

    /// Hands out a connection: an idle one (checked first if there is reason to doubt
    /// it), else a new one while there is room, else the first one returned.
    pub(crate) async fn acquire(&self) -> Result<Acquired<D>, AcquireError> {
        match self {
            Self::Own(shared) => shared.acquire().await,
            Self::External(pool) => {
                let waited = pool.num_idle() == 0;
                match pool.acquire().await {
                    Ok(conn) => Ok(Acquired {
                        conn: PooledConn::external(conn),
                        waited,
                    }),
                    Err(sqlx::Error::PoolTimedOut) => Err(AcquireError::TimedOut),
                    Err(sqlx::Error::PoolClosed) => Err(AcquireError::Closed),
                    Err(other) => Err(AcquireError::Sqlx(other)),
                }
            }
        }
    }

    /// The options new connections are opened with.
    pub(crate) fn connect_options(&self) -> Arc<Options<D>> {
        match self {
            Self::Own(shared) => Arc::clone(&shared.options),
            Self::External(pool) => pool.connect_options(),
        }
    }

    /// Open connections, idle connections, and the configured maximum.
    pub(crate) fn sizes(&self) -> (u32, u32, u32) {
        match self {
            Self::Own(shared) => (
                shared.size.load(Ordering::Relaxed),
                shared.idle_count.load(Ordering::Relaxed),
                shared.settings.max_connections,
            ),
            Self::External(pool) => (
                pool.size(),
                u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                pool.options().get_max_connections(),
            ),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Self::Own(shared) => shared.closed.load(Ordering::SeqCst),
            Self::External(pool) => pool.is_closed(),
        }
    }

    /// Fails new acquires at once, closes the idle connections, and completes when every
    /// connection handed out has come back and been closed.
    pub(crate) async fn close(&self) {
        let shared = match self {
            Self::Own(shared) => shared,
            Self::External(pool) => return pool.close().await,
        };
        shared.closed.store(true, Ordering::SeqCst);
        shared.permits.close();
        shared.maintenance.notify_one();
        loop {
            let mut drained = std::pin::pin!(shared.drained.notified());
            drained.as_mut().enable();
            // Again on every wake-up: a connection returned while this was draining
            // may have reached the idle stack after all.
            let idle = std::mem::take(&mut *lock(&shared.idle));
            shared.idle_count.store(0, Ordering::Relaxed);
            for entry in idle {
                shared.size.fetch_sub(1, Ordering::AcqRel);
                // A failed goodbye changes nothing: the socket closes either way.
                let _ = entry.live.raw.close().await;
            }
            if shared.size.load(Ordering::Acquire) == 0 {
                return;
            }
            drained.await;
        }
    }
}

impl<D: Driver> Shared<D> {
    async fn acquire(self: &Arc<Self>) -> Result<Acquired<D>, AcquireError> {
        let deadline = Instant::now() + self.settings.acquire_timeout;
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
        loop {
            match self.take() {
                Take::Idle(idle) => {
                    let now = Instant::now();
                    if self.outlived(&idle.live, now) {
                        self.discard(idle.live, true);
                        continue;
                    }
                    let mut live = idle.live;
                    if self.doubtful(&idle.since, idle.epoch, idle.unsettled, now) {
                        match tokio::time::timeout_at(deadline, live.raw.ping()).await {
                            Ok(Ok(())) => {}
                            Ok(Err(error)) => {
                                tracing::debug!(%error, "a pooled connection failed its check; closing it");
                                self.discard(live, false);
                                continue;
                            }
                            Err(_) => {
                                self.discard(live, false);
                                return Err(AcquireError::TimedOut);
                            }
                        }
                    }
                    return Ok(Acquired {
                        conn: PooledConn::own(live, slot, true),
                        waited,
                    });
                }
                Take::Open => {
                    let raw = self.open(deadline).await?;
                    return Ok(Acquired {
                        conn: PooledConn::own(Live::new(raw), slot, false),
                        waited: true,
                    });
                }
                Take::Busy => tokio::task::yield_now().await,
            }
        }
    }

    /// Pops the most recently returned idle connection or, if there is none, reserves
    /// room for a new one.
    fn take(&self) -> Take<D> {
        let mut idle = lock(&self.idle);
        if let Some(entry) = idle.pop() {
            self.idle_count.store(idle.len() as u32, Ordering::Relaxed);
            return Take::Idle(entry);
        }
        drop(idle);
        let max = self.settings.max_connections;
        match self
            .size
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |size| {
                (size < max).then_some(size + 1)
            }) {
            Ok(_) => Take::Open,
            Err(_) => Take::Busy,
        }
    }

    /// Opens a connection into a slot reserved in `size` (released again on failure),
    /// within the connect timeout and the caller's acquire deadline.
    async fn open(&self, deadline: Instant) -> Result<D::Connection, AcquireError> {
        let connect_timeout = self.settings.connect_timeout;
        let limit = deadline.min(Instant::now() + connect_timeout);
        let outcome = tokio::time::timeout_at(limit, self.options.connect()).await;
        match outcome {
            Ok(Ok(raw)) => {
                self.connection_created();
                Ok(raw)
            }
            failed => {
                self.size_closed();
                Err(match failed {
                    Ok(Err(error)) => AcquireError::Sqlx(error),
                    _ if limit < deadline => AcquireError::ConnectTimedOut(connect_timeout),
                    _ => AcquireError::TimedOut,
                })
            }
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
    fn doubtful(&self, since: &Instant, epoch: u64, unsettled: bool, now: Instant) -> bool {
        unsettled
            || epoch < self.suspect_epoch.load(Ordering::Relaxed)
            || self
                .settings
                .test_after_idle
                .is_some_and(|after| now.saturating_duration_since(*since) >= after)
    }

    /// Puts a healthy connection back on the idle stack.
    fn push_idle(&self, live: Live<D>, unsettled: bool) {
        let entry = Idle {
            live,
            since: Instant::now(),
            epoch: self.suspect_epoch.load(Ordering::Relaxed),
            unsettled,
        };
        let mut idle = lock(&self.idle);
        idle.push(entry);
        self.idle_count.store(idle.len() as u32, Ordering::Relaxed);
        drop(idle);
        if self.closed.load(Ordering::SeqCst) {
            // `close` may have drained the stack just before: have it look again.
            self.drained.notify_waiters();
        }
    }

    /// Closes a connection that leaves the pool: gracefully (in a task) if it is
    /// healthy, by dropping its socket if it is broken.
    fn discard(&self, live: Live<D>, healthy: bool) {
        if healthy && let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), live.raw.close()).await;
            });
        }
        self.size_closed();
    }

    /// One connection fewer (closed, or never opened): the maintenance task may need
    /// to open another.
    fn size_closed(&self) {
        self.unreserve();
        if self.settings.min_connections > 0 {
            self.maintenance.notify_one();
        }
    }

    /// Gives back a slot of `size`, telling a `close` in progress.
    fn unreserve(&self) {
        self.size.fetch_sub(1, Ordering::AcqRel);
        if self.closed.load(Ordering::SeqCst) {
            self.drained.notify_waiters();
        }
    }

    /// Marks every connection idle now as one to check before reuse: the server ended
    /// one session, and whatever did it (a restart, an administrator) likely ended
    /// theirs too.
    fn suspect_idle(&self) {
        self.suspect_epoch.fetch_add(1, Ordering::Relaxed);
    }
}
