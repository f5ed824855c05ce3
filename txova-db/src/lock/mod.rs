//! Distributed locks on the [`Store`]: one holder at a time across every process that
//! shares the store.
//!
//! A lock named `ride:assign:42` is the key `lock:{ride:assign:42}`, set with `NX` and
//! a TTL (default 30 s) to a random owner token; only that owner can release or extend
//! it (a script compares the token first). Each acquisition also hands out a **fencing
//! token**, larger than every earlier one for the same lock: the larger of the last
//! token plus one (kept in `lock:{ride:assign:42}:fence`) and the store server's clock
//! in microseconds. So tokens keep increasing even when the counter is lost (evicted,
//! a failover before it replicated, `FLUSHDB`), as long as the server's clock does not
//! step back past the last token; the counter only guards against a clock step back,
//! and expires [`FENCE_TTL`] after the last acquire, so no key lives forever. The
//! braces are a Redis Cluster hash tag: both keys live in one slot, so the script may
//! touch both.
//!
//! A lock with a TTL can expire under a holder that stalls (a GC-like pause, a slow
//! query). While a [`LockGuard`] lives, a watchdog extends the lock every third of its
//! TTL; if it cannot, the [`Lease`] is marked lost and the work can notice
//! ([`Lease::lost`], [`Lease::is_lost`]) instead of running on unprotected. Storage the
//! lock protects can check the fencing token to reject a stale holder's writes — the
//! only protection that holds even across pauses (Kleppmann, "How to do distributed
//! locking").
//!
//! Locks are not reentrant: acquiring a lock the task already holds waits for itself.
//!
//! ```
//! # async fn demo() -> txova_db::Result<()> {
//! use std::time::Duration;
//! use txova_db::lock::Locks;
//! use txova_db::store::Store;
//!
//! let locks = Locks::new(Store::embedded());
//! let first = locks
//!     .with_lock("ride:assign:42", Duration::from_secs(30), |lease| async move {
//!         // Only one process runs this at a time for ride 42.
//!         lease.fencing_token()
//!     })
//!     .await?;
//! let second = locks
//!     .with_lock("ride:assign:42", Duration::from_secs(30), |lease| async move {
//!         lease.fencing_token()
//!     })
//!     .await?;
//! assert!(second > first, "each holder's token is larger than the last");
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

mod backend;
mod guard;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

pub use guard::{Lease, LockGuard};

use crate::error::Error;
use crate::resilience::Backoff;
use crate::store::Store;
use backend::Attempt;

tokio::task_local! {
    static CURRENT: Lease;
}

/// The lease of the innermost lock taken by [`Locks::run_locked`] (and so by a
/// `#[locked]` method) on this task, if any: its fencing token and `lost` signal.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::lock::{self, LockOptions, Locks};
/// use txova_db::store::Store;
///
/// let locks = Locks::new(Store::embedded());
/// let token = locks
///     .run_locked("ledger:7", LockOptions::new(), || async {
///         Ok::<_, txova_db::Error>(lock::current().map(|lease| lease.fencing_token()))
///     })
///     .await?;
/// assert!(token.is_some());
/// assert!(lock::current().is_none());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
pub fn current() -> Option<Lease> {
    CURRENT.try_with(Lease::clone).ok()
}

/// Defaults for the locks of one [`Locks`] handle.
///
/// ```
/// use std::time::Duration;
/// use txova_db::lock::LockConfig;
///
/// let config: LockConfig = serde_json::from_str(r#"{"ttl": "10s", "wait": "2s"}"#).unwrap();
/// assert_eq!(config.ttl, Duration::from_secs(10));
/// assert!(config.watchdog);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LockConfig {
    /// How long a lock lives without an extension (default 30 s).
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// How long [`Locks::acquire`] waits for a held lock (default 10 s).
    #[serde(with = "humantime_serde")]
    pub wait: Duration,
    /// Whether held locks are extended every third of their TTL (default on).
    pub watchdog: bool,
    /// The shortest wait between two acquire attempts' backoff ceilings (default 2 ms).
    #[serde(with = "humantime_serde")]
    pub retry_base: Duration,
    /// The longest wait between two acquire attempts (default 100 ms).
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
}

impl Default for LockConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(30),
            wait: Duration::from_secs(10),
            watchdog: true,
            retry_base: Duration::from_millis(2),
            retry_max: Duration::from_millis(100),
        }
    }
}

/// Per-call settings that override the [`LockConfig`].
///
/// ```
/// use std::time::Duration;
/// use txova_db::lock::LockOptions;
///
/// let options = LockOptions::new()
///     .ttl(Duration::from_secs(5))
///     .wait(Duration::ZERO)
///     .watchdog(false);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockOptions {
    ttl: Option<Duration>,
    wait: Option<Duration>,
    watchdog: Option<bool>,
}

impl LockOptions {
    /// The configuration's defaults.
    pub const fn new() -> Self {
        Self {
            ttl: None,
            wait: None,
            watchdog: None,
        }
    }

    /// How long the lock lives without an extension (at least 1 ms).
    pub const fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// How long to wait for a held lock; `Duration::ZERO` tries once.
    pub const fn wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    /// Whether the watchdog extends the lock while it is held.
    pub const fn watchdog(mut self, on: bool) -> Self {
        self.watchdog = Some(on);
        self
    }
}

/// Distributed locks on one store. Cheap to clone.
///
/// See the [module documentation](self) for the guarantees.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::lock::Locks;
/// use txova_db::store::Store;
///
/// // The in-process store here; `Store::redis(url)` or `Store::from_env()` in a service.
/// let locks = Locks::new(Store::embedded());
/// let guard = locks.acquire("ride:assign:42").await?;
/// // While it is held, nobody else gets it.
/// assert!(locks.try_acquire("ride:assign:42").await?.is_none());
/// // Pass the fencing token to what the lock protects, so a stale holder is refused.
/// let token = guard.fencing_token();
/// guard.release().await?;
/// let again = locks.try_acquire("ride:assign:42").await?.expect("free again");
/// assert!(again.fencing_token() > token);
/// let total = locks
///     .with_lock("report:daily", Duration::from_secs(30), |_lease| async { 7 })
///     .await?;
/// assert_eq!(total, 7);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct Locks {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: LockConfig,
}

impl std::fmt::Debug for Locks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locks")
            .field("store", &self.inner.store)
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Locks {
    /// Locks on `store` with the default [`LockConfig`].
    pub fn new(store: Store) -> Self {
        Self::with_config(store, LockConfig::default())
    }

    /// Locks on `store` with `config`.
    pub fn with_config(store: Store, config: LockConfig) -> Self {
        Self {
            inner: Arc::new(Inner { store, config }),
        }
    }

    /// The store the locks live in.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The defaults.
    pub fn config(&self) -> &LockConfig {
        &self.inner.config
    }

    /// Takes the lock `name` if it is free, without waiting.
    pub async fn try_acquire(&self, name: &str) -> Result<Option<LockGuard>, Error> {
        match self
            .acquire_with(name, LockOptions::new().wait(Duration::ZERO))
            .await
        {
            Ok(guard) => Ok(Some(guard)),
            Err(Error::LockNotAcquired { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Takes the lock `name`, waiting up to [`LockConfig::wait`] for its holder to
    /// release it; [`Error::LockNotAcquired`] after that.
    pub async fn acquire(&self, name: &str) -> Result<LockGuard, Error> {
        self.acquire_with(name, LockOptions::new()).await
    }

    /// Takes the lock `name` with per-call settings. While it is held, attempts are
    /// spaced by exponential backoff with full jitter (between
    /// [`LockConfig::retry_base`] and [`LockConfig::retry_max`], and never past the
    /// holder's remaining TTL or the deadline).
    pub async fn acquire_with(&self, name: &str, options: LockOptions) -> Result<LockGuard, Error> {
        let config = &self.inner.config;
        let ttl = options
            .ttl
            .unwrap_or(config.ttl)
            .max(Duration::from_millis(1));
        let wait = options.wait.unwrap_or(config.wait);
        let watchdog = options.watchdog.unwrap_or(config.watchdog);
        let (key, fence_key) = keys(name)?;
        let token = crate::token::random_token::<16>();
        let started = Instant::now();
        let deadline = started + wait;
        // Unlimited: the deadline is the limit.
        let mut delays = Backoff::new(config.retry_base, config.retry_max).delays();
        loop {
            let sent = Instant::now();
            // If this future is dropped while the attempt is in flight, the store may
            // have granted the lock to a token nobody holds: the guard gives it back.
            let in_flight = AttemptInFlight {
                store: &self.inner.store,
                key: &key,
                token: &token,
            };
            let attempt = backend::acquire(&self.inner.store, &key, &fence_key, &token, ttl).await;
            in_flight.landed();
            match attempt? {
                Attempt::Acquired { fencing_token } => {
                    metrics::histogram!("txova_db_lock_wait_seconds")
                        .record(started.elapsed().as_secs_f64());
                    let lease = Lease::new(key, token, fencing_token, sent + ttl);
                    return Ok(LockGuard::new(
                        lease,
                        self.inner.store.clone(),
                        ttl,
                        watchdog,
                    ));
                }
                Attempt::Held { remaining } => {
                    let now = Instant::now();
                    if now >= deadline {
                        metrics::counter!("txova_db_lock_timeouts_total").increment(1);
                        return Err(Error::LockNotAcquired {
                            key,
                            waited: now - started,
                        });
                    }
                    let mut pause = delays
                        .next()
                        .unwrap_or(config.retry_max)
                        .min(deadline - now);
                    if let Some(remaining) = remaining {
                        pause = pause.min(remaining + Duration::from_millis(1));
                    }
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Runs `work` under the lock `name` (waiting up to [`LockConfig::wait`] for it,
    /// held for `ttl` at a time and extended by the watchdog), then releases it.
    ///
    /// `work` gets the [`Lease`]; if the lock is lost meanwhile, `work` still runs to
    /// its end unless it watches [`Lease::lost`], and the loss is logged.
    pub async fn with_lock<T, F, Fut>(&self, name: &str, ttl: Duration, work: F) -> Result<T, Error>
    where
        F: FnOnce(Lease) -> Fut,
        Fut: Future<Output = T>,
    {
        let guard = self.acquire_with(name, LockOptions::new().ttl(ttl)).await?;
        let lease = guard.lease().clone();
        let output = CURRENT.scope(lease.clone(), work(lease)).await;
        finish(guard).await;
        Ok(output)
    }

    /// Runs `work` (which returns `Result<T, E>` with `E: From<Error>`) under the lock
    /// `name`: what `#[locked]` expands to. A lock that cannot be taken is
    /// `Err(E::from(error))`; inside, [`current`] returns the lease.
    pub async fn run_locked<R, F, Fut>(&self, name: &str, options: LockOptions, work: F) -> R
    where
        R: LockedOutput,
        F: FnOnce() -> Fut,
        Fut: Future<Output = R>,
    {
        let guard = match self.acquire_with(name, options).await {
            Ok(guard) => guard,
            Err(err) => return R::from_lock_error(err),
        };
        let output = CURRENT.scope(guard.lease().clone(), work()).await;
        finish(guard).await;
        output
    }
}

/// What a function run under a lock ([`Locks::run_locked`], `#[locked]`) returns: a
/// `Result` whose error can carry the lock's own failure.
///
/// ```
/// use txova_db::lock::{Locks, UsesLocks};
/// use txova_db::locked;
///
/// /// The service's own error: `#[locked]` reports a lock it could not take through
/// /// `From<txova_db::Error>`.
/// #[derive(Debug)]
/// enum DispatchError {
///     Db(txova_db::Error),
/// }
///
/// impl From<txova_db::Error> for DispatchError {
///     fn from(err: txova_db::Error) -> Self {
///         Self::Db(err)
///     }
/// }
///
/// struct Dispatch {
///     locks: Locks,
/// }
///
/// impl UsesLocks for Dispatch {
///     fn locks(&self) -> &Locks {
///         &self.locks
///     }
/// }
///
/// impl Dispatch {
///     #[locked("ride:assign:<ride>", wait = "2s")]
///     async fn assign(&self, ride: i64) -> Result<i64, DispatchError> {
///         Ok(ride)
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "#[locked] cannot report a lock failure through `{Self}`",
    label = "return `Result<T, E>` with `E: From<txova_db::Error>`",
    note = "a lock still held after `wait` is returned as `Err(txova_db::Error::LockNotAcquired {{ .. }})`, converted with `From`"
)]
pub trait LockedOutput {
    /// The output for a lock that could not be taken.
    fn from_lock_error(err: Error) -> Self;
}

impl<T, E: From<Error>> LockedOutput for Result<T, E> {
    fn from_lock_error(err: Error) -> Self {
        Err(E::from(err))
    }
}

/// Releases after the work: a lock that expired under it is logged, not an error — the
/// work is done, and its result is the caller's.
async fn finish(guard: LockGuard) {
    let key = guard.lease().key().to_owned();
    match guard.release().await {
        Ok(()) => {}
        Err(Error::NotLockOwner { .. }) => {
            tracing::warn!(%key, "the lock expired before its work finished");
        }
        Err(err) => {
            tracing::warn!(%key, error = %err, "releasing the lock failed; it will expire");
        }
    }
}

/// The lock's key and its fencing counter's key, both hash-tagged by the name.
fn keys(name: &str) -> Result<(String, String), Error> {
    let reason = if name.is_empty() {
        Some("a lock name cannot be empty")
    } else if name.contains(['{', '}']) {
        Some("a lock name cannot contain `{` or `}` (it becomes a Redis Cluster hash tag)")
    } else {
        None
    };
    if let Some(reason) = reason {
        return Err(Error::InvalidKey {
            key: name.to_owned(),
            reason,
        });
    }
    Ok((format!("lock:{{{name}}}"), format!("lock:{{{name}}}:fence")))
}

/// Where `#[locked]` methods find their locks: implement it for the type the methods
/// are on.
///
/// ```
/// use txova_db::lock::{Locks, UsesLocks};
///
/// struct Dispatch {
///     locks: Locks,
/// }
///
/// impl UsesLocks for Dispatch {
///     fn locks(&self) -> &Locks {
///         &self.locks
///     }
/// }
/// ```
///
/// ```
/// use txova_db::lock::{Locks, UsesLocks};
/// use txova_db::{Error, locked};
///
/// struct Payouts {
///     locks: Locks,
/// }
///
/// // Where `#[locked]` methods of `Payouts` find their locks.
/// impl UsesLocks for Payouts {
///     fn locks(&self) -> &Locks {
///         &self.locks
///     }
/// }
///
/// impl Payouts {
///     /// One payout run per driver at a time, across every instance of the service.
///     #[locked("payout:<driver_id>", ttl = "30s")]
///     async fn pay(&self, driver_id: i64) -> Result<(), Error> {
///         let _ = driver_id;
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not say which locks its #[locked] methods use",
    label = "the locks are taken from `self`",
    note = "implement `txova_db::lock::UsesLocks` for `{Self}`, or name them: `#[locked(\"..\", locks = self.locks)]`"
)]
pub trait UsesLocks {
    /// The locks.
    fn locks(&self) -> &Locks;
}

impl UsesLocks for Locks {
    fn locks(&self) -> &Locks {
        self
    }
}

impl<T: UsesLocks + ?Sized> UsesLocks for &T {
    fn locks(&self) -> &Locks {
        (**self).locks()
    }
}

impl<T: UsesLocks + ?Sized> UsesLocks for Arc<T> {
    fn locks(&self) -> &Locks {
        (**self).locks()
    }
}

/// How long a lock's fencing counter outlives its last acquire. The server clock keeps
/// tokens increasing without it; it guards only against that clock stepping back.
pub const FENCE_TTL: Duration = Duration::from_secs(24 * 3600);

/// An acquire attempt on its way to the store. Dropped before its reply arrived (the
/// caller's future was dropped), it releases the lock in case the store granted it:
/// the release compares the owner token, so it is harmless if it did not.
struct AttemptInFlight<'a> {
    store: &'a Store,
    key: &'a str,
    token: &'a str,
}

impl AttemptInFlight<'_> {
    /// The reply arrived: whatever it says is handled by the caller.
    fn landed(self) {
        std::mem::forget(self);
    }
}

impl Drop for AttemptInFlight<'_> {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, key, token) = (
            self.store.clone(),
            self.key.to_owned(),
            self.token.to_owned(),
        );
        runtime.spawn(async move {
            if let Err(err) = backend::release(&store, &key, &token).await {
                tracing::warn!(target: "txova_db::lock", %key, error = %err, "an abandoned acquire could not be undone; the lock expires with its TTL");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stalled_holder_without_watchdog_loses_the_lock() {
        let locks = Locks::new(Store::embedded());
        let options = LockOptions::new()
            .ttl(Duration::from_secs(3))
            .watchdog(false);
        let guard = locks.acquire_with("job", options).await.unwrap();
        assert!(!guard.is_lost());
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(guard.is_lost());
        let other = locks.try_acquire("job").await.unwrap().expect("expired");
        assert!(other.fencing_token() > guard.fencing_token());
        let err = guard.release().await.unwrap_err();
        assert!(matches!(err, Error::NotLockOwner { .. }), "{err}");
        other.release().await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_keeps_a_long_body_s_lock() {
        let locks = Locks::new(Store::embedded());
        let guard = locks
            .acquire_with("long", LockOptions::new().ttl(Duration::from_secs(3)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(!guard.is_lost());
        assert!(locks.try_acquire("long").await.unwrap().is_none());
        guard.release().await.unwrap();
        assert!(locks.try_acquire("long").await.unwrap().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_gives_up_at_its_deadline() {
        let locks = Locks::new(Store::embedded());
        let _held = locks.acquire("busy").await.unwrap();
        let started = Instant::now();
        let err = locks
            .acquire_with("busy", LockOptions::new().wait(Duration::from_secs(2)))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::LockNotAcquired { .. }), "{err}");
        assert!(started.elapsed() >= Duration::from_secs(2));
        assert!(started.elapsed() < Duration::from_millis(2200));
    }

    #[test]
    fn names_that_would_break_the_hash_tag_are_refused() {
        assert!(keys("").is_err());
        assert!(keys("a{b}").is_err());
        assert_eq!(keys("ride:assign:7").unwrap().0, "lock:{ride:assign:7}");
    }
}
