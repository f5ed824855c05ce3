//! A held lock: [`LockGuard`] (releases it), [`Lease`] (what the body sees: fencing
//! token and the `lost` signal) and the task that keeps the lease alive.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::backend;
use crate::error::Error;
use crate::store::Store;

/// What the work under a lock knows about it: its fencing token and whether the lock
/// has been lost. Cheap to clone; inside a `#[locked]` method,
/// [`lock::current`](super::current) returns it.
///
/// A lock is lost when its expiry passes without an extension (the holder stalled, the
/// watchdog could not reach the store, or there is no watchdog) or when an extension
/// finds another owner. From then on another process may hold the lock: stop, or make
/// sure the storage you write to rejects stale [`fencing_token`](Self::fencing_token)s.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::lock::Locks;
/// use txova_db::store::Store;
///
/// let locks = Locks::new(Store::embedded());
/// let guard = locks.acquire("report:daily").await?;
/// let lease = guard.lease().clone();
/// tokio::select! {
///     _ = lease.lost() => { /* stop: someone else may be running the report */ }
///     _ = tokio::time::sleep(Duration::from_millis(10)) => { /* the work */ }
/// }
/// guard.release().await?;
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct Lease {
    inner: Arc<LeaseState>,
}

struct LeaseState {
    key: String,
    token: String,
    fencing_token: u64,
    /// Until when the lock is ours for sure: the send time of the last successful
    /// acquire or extend, plus its TTL (the server's expiry is no earlier).
    valid_until: Mutex<Instant>,
    lost: watch::Sender<bool>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("key", &self.inner.key)
            .field("fencing_token", &self.inner.fencing_token)
            .field("lost", &self.is_lost())
            .finish_non_exhaustive()
    }
}

impl Lease {
    pub(super) fn new(
        key: String,
        token: String,
        fencing_token: u64,
        valid_until: Instant,
    ) -> Self {
        Self {
            inner: Arc::new(LeaseState {
                key,
                token,
                fencing_token,
                valid_until: Mutex::new(valid_until),
                lost: watch::Sender::new(false),
            }),
        }
    }

    /// The lock's key in the store (`lock:{name}`).
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// The fencing token of this acquisition: larger than that of every earlier
    /// acquisition of the same lock. Pass it to the storage the lock protects, so it
    /// can reject writes from a holder whose lock has since passed to another.
    pub fn fencing_token(&self) -> u64 {
        self.inner.fencing_token
    }

    /// Whether the lock has been lost.
    pub fn is_lost(&self) -> bool {
        *self.inner.lost.borrow()
    }

    /// Completes when the lock is lost (at once if it already is); never, if it is
    /// held until released. Meant for `tokio::select!` against the work.
    pub async fn lost(&self) {
        let mut lost = self.inner.lost.subscribe();
        // The sender lives as long as `self`, so this only ends when the lock is lost.
        let _ = lost.wait_for(|lost| *lost).await;
    }

    pub(super) fn token(&self) -> &str {
        &self.inner.token
    }

    fn valid_until(&self) -> Instant {
        *self
            .inner
            .valid_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn extended(&self, until: Instant) {
        *self
            .inner
            .valid_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = until;
    }

    fn mark_lost(&self) {
        let first = self
            .inner
            .lost
            .send_if_modified(|lost| !std::mem::replace(lost, true));
        if first {
            tracing::warn!(key = %self.inner.key, "distributed lock lost before its work finished");
            metrics::counter!("txova_db_lock_lost_total").increment(1);
        }
    }
}

/// A held lock. [`release`](Self::release) it when the work is done; dropping the
/// guard releases it too, from a spawned task (so the release's error is only logged,
/// and outside a Tokio runtime the lock is left to expire).
///
/// While the guard lives, a background task extends the lock every third of its TTL
/// (the watchdog, unless turned off in [`LockOptions`](super::LockOptions)) and marks
/// the [`Lease`] lost when it cannot.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::lock::Locks;
/// use txova_db::store::Store;
///
/// let locks = Locks::new(Store::embedded());
/// let guard = locks.acquire("report:daily").await?;
/// assert_eq!(guard.lease().key(), "lock:{report:daily}");
/// // Long work: extend it by hand (the watchdog also does, every third of the TTL).
/// guard.extend(Duration::from_secs(60)).await?;
/// assert!(!guard.is_lost());
/// guard.release().await?;
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard {
    lease: Lease,
    store: Store,
    keeper: JoinHandle<()>,
    released: bool,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl LockGuard {
    pub(super) fn new(lease: Lease, store: Store, ttl: Duration, watchdog: bool) -> Self {
        let keeper = tokio::spawn(keep(lease.clone(), store.clone(), ttl, watchdog));
        Self {
            lease,
            store,
            keeper,
            released: false,
        }
    }

    /// The lease: fencing token and the `lost` signal, to hand to the work.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// The fencing token of this acquisition (see [`Lease::fencing_token`]).
    pub fn fencing_token(&self) -> u64 {
        self.lease.fencing_token()
    }

    /// Whether the lock has been lost (see [`Lease`]).
    pub fn is_lost(&self) -> bool {
        self.lease.is_lost()
    }

    /// Resets the lock's expiry to `ttl` from now. [`Error::NotLockOwner`] if the lock
    /// has already expired or passed to another holder (the lease is then lost).
    pub async fn extend(&self, ttl: Duration) -> Result<(), Error> {
        let sent = Instant::now();
        if backend::extend(&self.store, self.lease.key(), self.lease.token(), ttl).await? {
            self.lease.extended(sent + ttl);
            Ok(())
        } else {
            self.lease.mark_lost();
            Err(Error::NotLockOwner {
                key: self.lease.key().to_owned(),
            })
        }
    }

    /// Releases the lock. [`Error::NotLockOwner`] if it had expired or passed to
    /// another holder: that holder's lock is left alone.
    pub async fn release(mut self) -> Result<(), Error> {
        self.released = true;
        self.keeper.abort();
        if backend::release(&self.store, self.lease.key(), self.lease.token()).await? {
            Ok(())
        } else {
            self.lease.mark_lost();
            Err(Error::NotLockOwner {
                key: self.lease.key().to_owned(),
            })
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.keeper.abort();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::debug!(key = %self.lease.key(), "lock guard dropped outside a runtime; the lock will expire");
            return;
        };
        let (store, lease) = (self.store.clone(), self.lease.clone());
        runtime.spawn(async move {
            match backend::release(&store, lease.key(), lease.token()).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(key = %lease.key(), "dropped lock guard: the lock had already expired"),
                Err(err) => tracing::warn!(key = %lease.key(), error = %err, "dropped lock guard: release failed; the lock will expire"),
            }
        });
    }
}

/// Keeps the lease alive until aborted: with the watchdog, extends it every `ttl / 3`
/// (retrying failed extensions until the lease runs out); without, waits for its
/// expiry. Either way, marks it lost when it runs out or another owner is found.
async fn keep(lease: Lease, store: Store, ttl: Duration, watchdog: bool) {
    let period = ttl / 3;
    let retry = (period / 4).max(Duration::from_millis(10));
    let mut next = Instant::now() + period;
    loop {
        let valid_until = lease.valid_until();
        if !watchdog {
            tokio::time::sleep_until(valid_until).await;
            if Instant::now() >= lease.valid_until() {
                lease.mark_lost();
                return;
            }
            continue;
        }
        tokio::time::sleep_until(next.min(valid_until)).await;
        let sent = Instant::now();
        if sent >= lease.valid_until() {
            lease.mark_lost();
            return;
        }
        // An extension still in flight when the lease runs out (a hung server, a
        // command timeout longer than what is left) must not delay the signal.
        let extend = backend::extend(&store, lease.key(), lease.token(), ttl);
        let Ok(extended) = tokio::time::timeout_at(lease.valid_until(), extend).await else {
            lease.mark_lost();
            return;
        };
        match extended {
            Ok(true) => {
                lease.extended(sent + ttl);
                next = sent + period;
            }
            Ok(false) => {
                lease.mark_lost();
                return;
            }
            Err(err) => {
                tracing::warn!(key = %lease.key(), error = %err, "lock watchdog could not extend the lock; retrying");
                next = Instant::now() + retry;
            }
        }
    }
}
