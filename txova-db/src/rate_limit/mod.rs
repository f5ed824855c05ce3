//! Rate limits on the [`Store`]: fixed window, sliding window and token bucket, keyed
//! by anything (a user, an IP address, an API key).
//!
//! Each check is one round trip on Redis — a script that reads the server's clock
//! (`TIME`), decides and updates the key's state — so every process sharing the store
//! agrees on the count whatever its own clock says. On the embedded store the same
//! algorithm runs in process.
//!
//! ```
//! # async fn demo() -> txova_db::Result<()> {
//! use std::time::Duration;
//! use txova_db::rate_limit::{RateLimit, RateLimiter};
//! use txova_db::store::Store;
//!
//! let limiter = RateLimiter::new(Store::embedded());
//! let per_minute = RateLimit::sliding_window(2, Duration::from_secs(60));
//! assert!(limiter.check(&per_minute, "rider:42").await?.allowed());
//! assert!(limiter.check(&per_minute, "rider:42").await?.allowed());
//! let refused = limiter.check(&per_minute, "rider:42").await?;
//! assert!(!refused.allowed());
//! for (name, value) in refused.headers() {
//!     println!("{name}: {value}"); // RateLimit-Limit: 2, …, Retry-After: 60
//! }
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

mod algorithm;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::store::{Backend, Store, Value};
use algorithm::Verdict;

/// How a [`RateLimit`] counts.
///
/// ```
/// use std::time::Duration;
/// use txova_db::rate_limit::{Algorithm, RateLimit};
///
/// let limit = RateLimit::token_bucket(10, Duration::from_secs(1)).burst(20);
/// assert_eq!(limit.algorithm, Algorithm::TokenBucket);
/// assert_eq!(limit.capacity(), 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Algorithm {
    /// A counter per aligned window: cheap and exact per window, but allows up to
    /// twice the limit across a window boundary.
    FixedWindow,
    /// The current window's count plus the previous window's, weighted by how much of
    /// it the sliding window still covers: smooth at boundaries, within a few percent
    /// of an exact sliding log, at the cost of a fixed window.
    SlidingWindow,
    /// A token bucket (as GCRA): up to `burst` calls at once, refilled at `limit`
    /// per `window`, evenly.
    TokenBucket,
}

impl Algorithm {
    fn tag(self) -> &'static str {
        match self {
            Self::FixedWindow => "fw",
            Self::SlidingWindow => "sw",
            Self::TokenBucket => "tb",
        }
    }
}

/// One limit: `limit` calls per `window`, counted by an [`Algorithm`].
///
/// ```
/// use std::time::Duration;
/// use txova_db::rate_limit::RateLimit;
///
/// let login = RateLimit::fixed_window(5, Duration::from_secs(60));
/// let api = RateLimit::token_bucket(10, Duration::from_secs(1)).burst(50);
/// # let _ = (login, api);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RateLimit {
    /// How calls are counted.
    pub algorithm: Algorithm,
    /// Calls allowed per window (the refill rate, for a token bucket).
    pub limit: u32,
    /// The window (at least 1 ms).
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// For a token bucket, the calls allowed at once; the limit for the others.
    pub burst: u32,
}

impl RateLimit {
    /// `limit` calls per aligned `window`.
    pub const fn fixed_window(limit: u32, window: Duration) -> Self {
        Self::new(Algorithm::FixedWindow, limit, window)
    }

    /// `limit` calls per sliding `window` (approximated from two fixed windows).
    pub const fn sliding_window(limit: u32, window: Duration) -> Self {
        Self::new(Algorithm::SlidingWindow, limit, window)
    }

    /// A bucket refilled with `limit` tokens per `window`, holding `limit` at most
    /// (change that with [`burst`](Self::burst)).
    pub const fn token_bucket(limit: u32, window: Duration) -> Self {
        Self::new(Algorithm::TokenBucket, limit, window)
    }

    /// For a token bucket, how many calls may come at once.
    pub const fn burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    const fn new(algorithm: Algorithm, limit: u32, window: Duration) -> Self {
        Self {
            algorithm,
            limit,
            window,
            burst: limit,
        }
    }

    /// The calls allowed at once: `burst` for a token bucket, `limit` otherwise.
    pub fn capacity(&self) -> u32 {
        match self.algorithm {
            Algorithm::TokenBucket => self.burst,
            _ => self.limit,
        }
    }

    fn window_micros(&self) -> u64 {
        u64::try_from(self.window.as_micros()).unwrap_or(u64::MAX)
    }

    fn validate(&self) -> Result<(), Error> {
        let reason = if self.limit == 0 || self.capacity() == 0 {
            Some("a rate limit must allow at least one call (limit and burst ≥ 1)")
        } else if self.window < Duration::from_millis(1) {
            Some("a rate limit's window must be at least 1ms")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(crate::error::ConfigError::InvalidValue {
                key: format!("{:?} rate limit", self.algorithm),
                reason: reason.to_owned(),
            }
            .into()),
            None => Ok(()),
        }
    }
}

/// What the limiter does when the store cannot be reached.
///
/// ```
/// use txova_db::rate_limit::{FailureMode, RateLimiter};
/// use txova_db::store::Store;
///
/// // Sign-ins fail closed: when the store cannot be asked, refuse rather than let a
/// // password-guessing run through unlimited.
/// let logins = RateLimiter::new(Store::embedded()).failure_mode(FailureMode::Closed);
/// # let _ = logins;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// Allow the call (the default): an outage of the store does not take the service
    /// down with it.
    #[default]
    Open,
    /// Refuse the call: for limits that protect something more fragile than the
    /// service's availability (login attempts, costly third-party calls).
    Closed,
}

/// The answer to one check, with what the standard headers need.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::rate_limit::{RateLimit, RateLimiter};
/// use txova_db::store::Store;
///
/// let limiter = RateLimiter::new(Store::embedded());
/// let limit = RateLimit::fixed_window(2, Duration::from_secs(60));
/// assert!(limiter.check(&limit, "user:42").await?.allowed());
/// assert!(limiter.check(&limit, "user:42").await?.allowed());
/// let refused = limiter.check(&limit, "user:42").await?;
/// assert!(!refused.allowed());
/// assert_eq!(refused.remaining(), 0);
/// assert!(refused.retry_after().is_some());
/// // What a 429 carries.
/// assert!(refused.headers().any(|(name, _)| name == "Retry-After"));
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitDecision {
    allowed: bool,
    limit: u32,
    remaining: u32,
    reset: Duration,
    retry_after: Option<Duration>,
    degraded: bool,
    window: Duration,
}

impl RateLimitDecision {
    /// Whether the call may go ahead.
    pub fn allowed(&self) -> bool {
        self.allowed
    }

    /// Calls allowed at once (the limit, or the bucket's burst).
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Calls still allowed now, after this one.
    pub fn remaining(&self) -> u32 {
        self.remaining
    }

    /// Time until the quota is fully restored.
    pub fn reset(&self) -> Duration {
        self.reset
    }

    /// For a refused call, how long until one may be allowed.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether the store could not be reached and the [`FailureMode`] decided.
    pub fn is_degraded(&self) -> bool {
        self.degraded
    }

    /// The response headers for this decision: `RateLimit-Limit`,
    /// `RateLimit-Remaining`, `RateLimit-Reset` (seconds, rounded up) and
    /// `RateLimit-Policy` (IETF draft "RateLimit header fields for HTTP"), plus
    /// `Retry-After` (seconds, rounded up, RFC 9110) when the call is refused.
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// # use std::time::Duration;
    /// # use txova_db::rate_limit::{RateLimit, RateLimiter};
    /// # let limiter = RateLimiter::new(txova_db::store::Store::embedded());
    /// let decision = limiter
    ///     .check(&RateLimit::fixed_window(100, Duration::from_secs(60)), "ip:10.0.0.1")
    ///     .await?;
    /// let headers: Vec<(&str, String)> = decision.headers().collect();
    /// assert_eq!(headers[0], ("RateLimit-Limit", "100".to_owned()));
    /// assert_eq!(headers[1], ("RateLimit-Remaining", "99".to_owned()));
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, String)> + use<> {
        let mut headers = vec![
            ("RateLimit-Limit", self.limit.to_string()),
            ("RateLimit-Remaining", self.remaining.to_string()),
            ("RateLimit-Reset", ceil_secs(self.reset).to_string()),
            (
                "RateLimit-Policy",
                format!("{};w={}", self.limit, ceil_secs(self.window)),
            ),
        ];
        if let Some(retry_after) = self.retry_after {
            headers.push(("Retry-After", ceil_secs(retry_after).max(1).to_string()));
        }
        headers.into_iter()
    }

    fn from_verdict(limit: &RateLimit, verdict: Verdict) -> Self {
        Self {
            allowed: verdict.allowed,
            limit: limit.capacity(),
            remaining: u32::try_from(verdict.remaining).unwrap_or(u32::MAX),
            reset: Duration::from_micros(verdict.reset_us),
            retry_after: (!verdict.allowed).then(|| Duration::from_micros(verdict.retry_after_us)),
            degraded: false,
            window: limit.window,
        }
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Checks [`RateLimit`]s against a store. Cheap to clone.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::rate_limit::{RateLimit, RateLimiter};
/// use txova_db::store::Store;
/// use txova_db::ErrorKind;
///
/// let limiter = RateLimiter::new(Store::embedded());
/// let ride_requests = RateLimit::token_bucket(3, Duration::from_secs(60));
/// for _ in 0..3 {
///     limiter.enforce(&ride_requests, "rides:user:42").await?;
/// }
/// let err = limiter.enforce(&ride_requests, "rides:user:42").await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::RateLimited);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct RateLimiter {
    store: Store,
    failure_mode: FailureMode,
}

impl RateLimiter {
    /// A limiter on `store` that fails open.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            failure_mode: FailureMode::Open,
        }
    }

    /// What to decide when the store cannot be reached.
    pub fn failure_mode(mut self, mode: FailureMode) -> Self {
        self.failure_mode = mode;
        self
    }

    /// Counts one call against `limit` for `key`: one round trip. The state lives at
    /// `ratelimit:{key}:{algorithm}:{window in ms}`, so several limits on one key (per
    /// second and per hour, say) do not share a counter.
    ///
    /// A store that cannot be reached (connection, timeout, or its breaker open) is decided by the
    /// [`FailureMode`], logged, and marked [`is_degraded`](RateLimitDecision::is_degraded);
    /// other errors (an invalid limit or key) are returned.
    pub async fn check(&self, limit: &RateLimit, key: &str) -> Result<RateLimitDecision, Error> {
        limit.validate()?;
        if key.is_empty() {
            return Err(Error::InvalidKey {
                key: String::new(),
                reason: "a rate-limit key cannot be empty",
            });
        }
        let store_key = format!(
            "ratelimit:{key}:{}:{}",
            limit.algorithm.tag(),
            limit.window.as_millis()
        );
        match self.run(limit, &store_key).await {
            Ok(verdict) => {
                let decision = RateLimitDecision::from_verdict(limit, verdict);
                if !decision.allowed {
                    metrics::counter!("txova_db_rate_limit_rejections_total", "algorithm" => limit.algorithm.tag())
                        .increment(1);
                }
                Ok(decision)
            }
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::Connection | ErrorKind::Timeout | ErrorKind::CircuitOpen
                ) =>
            {
                if err.kind() == ErrorKind::CircuitOpen {
                    tracing::debug!(%key, mode = ?self.failure_mode, "store's breaker is open; deciding by failure mode");
                } else {
                    tracing::warn!(%key, error = %err, mode = ?self.failure_mode, "rate-limit store unreachable; deciding by failure mode");
                }
                metrics::counter!("txova_db_rate_limit_degraded_total").increment(1);
                let allowed = self.failure_mode == FailureMode::Open;
                Ok(RateLimitDecision {
                    allowed,
                    limit: limit.capacity(),
                    remaining: if allowed { limit.capacity() } else { 0 },
                    reset: Duration::ZERO,
                    retry_after: (!allowed).then_some(Duration::from_secs(1)),
                    degraded: true,
                    window: limit.window,
                })
            }
            Err(err) => Err(err),
        }
    }

    /// Like [`check`](Self::check), but a refused call is [`Error::RateLimited`].
    pub async fn enforce(&self, limit: &RateLimit, key: &str) -> Result<RateLimitDecision, Error> {
        let decision = self.check(limit, key).await?;
        match decision.retry_after {
            None => Ok(decision),
            Some(retry_after) => Err(Error::RateLimited {
                key: key.to_owned(),
                retry_after,
            }),
        }
    }

    async fn run(&self, limit: &RateLimit, store_key: &str) -> Result<Verdict, Error> {
        let window = limit.window_micros();
        let (a, b) = match limit.algorithm {
            // GCRA's emission interval and tolerance, in whole µs so both backends
            // compute in exact integers.
            Algorithm::TokenBucket => {
                let emission = (window / u64::from(limit.limit)).max(1);
                (emission, emission * u64::from(limit.burst))
            }
            _ => (u64::from(limit.limit), window),
        };
        match self.store.backend() {
            Backend::Embedded(store) => {
                let now = u64::try_from(store.clock().as_micros()).unwrap_or(u64::MAX);
                store.update(store_key, |slot| {
                    let mut state = match slot.value.take() {
                        Some(Value::Hash(state)) => state,
                        _ => Default::default(),
                    };
                    let verdict = match limit.algorithm {
                        Algorithm::FixedWindow => algorithm::fixed_window(&mut state, now, a, b),
                        Algorithm::SlidingWindow => {
                            algorithm::sliding_window(&mut state, now, a, b)
                        }
                        Algorithm::TokenBucket => algorithm::token_bucket(&mut state, now, a, b),
                    };
                    let keep = match limit.algorithm {
                        Algorithm::FixedWindow => verdict.reset_us,
                        Algorithm::SlidingWindow => 2 * window,
                        Algorithm::TokenBucket => verdict.reset_us,
                    };
                    if verdict.allowed {
                        slot.expires_at = Some(
                            tokio::time::Instant::now()
                                + Duration::from_micros(keep)
                                + Duration::from_millis(1),
                        );
                    }
                    if !state.is_empty() {
                        slot.value = Some(Value::Hash(state));
                    }
                    verdict
                })
            }
            #[cfg(feature = "redis")]
            Backend::Redis(client) => {
                let script = scripts::for_algorithm(limit.algorithm);
                let (allowed, remaining, reset_us, retry_after_us): (u8, u64, u64, u64) = client
                    .invoke_script(script.key(store_key).arg(a).arg(b))
                    .await?;
                Ok(Verdict {
                    allowed: allowed == 1,
                    remaining,
                    reset_us,
                    retry_after_us,
                })
            }
        }
    }
}

#[cfg(feature = "redis")]
mod scripts {
    use std::sync::LazyLock;

    use redis::Script;

    use super::{Algorithm, algorithm};

    static FIXED: LazyLock<Script> = LazyLock::new(|| Script::new(algorithm::FIXED_WINDOW_LUA));
    static SLIDING: LazyLock<Script> = LazyLock::new(|| Script::new(algorithm::SLIDING_WINDOW_LUA));
    static BUCKET: LazyLock<Script> = LazyLock::new(|| Script::new(algorithm::TOKEN_BUCKET_LUA));

    pub(super) fn for_algorithm(algorithm: Algorithm) -> &'static Script {
        match algorithm {
            Algorithm::FixedWindow => &FIXED,
            Algorithm::SlidingWindow => &SLIDING,
            Algorithm::TokenBucket => &BUCKET,
        }
    }
}
