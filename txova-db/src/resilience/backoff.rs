//! [`Backoff`]: how long to wait between attempts — exponential, capped, with jitter —
//! and when to give up. One policy for connecting, transaction retries and lock waits.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::Error;

/// How the exponential delay is randomised (AWS Architecture Blog, "Exponential
/// Backoff And Jitter").
///
/// ```
/// use std::time::Duration;
/// use txova_db::resilience::{Backoff, Jitter};
///
/// let exact = Backoff { jitter: Jitter::None, ..Backoff::new(Duration::from_millis(100), Duration::from_secs(1)) };
/// let delays: Vec<Duration> = exact.delays().take(5).collect();
/// assert_eq!(delays[..4], [100, 200, 400, 800].map(Duration::from_millis));
/// assert_eq!(delays[4], Duration::from_secs(1)); // capped at max_delay
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Exactly `min(max_delay, base · 2ⁿ)`: contending clients retry in lockstep.
    None,
    /// `random(0, min(max_delay, base · 2ⁿ))`: spreads contenders best; the default.
    #[default]
    Full,
    /// Half the exponential delay plus a random half: never retries at once.
    Equal,
    /// `min(max_delay, random(base, 3 · previous delay))`: grows from the last delay
    /// rather than the attempt number.
    Decorrelated,
}

/// Exponential backoff with jitter, a cap, and limits on attempts and elapsed time.
///
/// Waiting is `tokio::time::sleep`, so dropping the future that retries (a request
/// cancelled, a `select!` that took another branch) stops it at once.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::resilience::{Backoff, Jitter};
///
/// let backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2))
///     .max_attempts(5)
///     .max_elapsed(Duration::from_secs(10))
///     .jitter(Jitter::Equal);
/// let mut delays = backoff.delays();
/// let first = delays.next().expect("attempt 2 is allowed");
/// assert!(first >= Duration::from_millis(25) && first <= Duration::from_millis(50));
///
/// let value = backoff
///     .retry(|err| err.kind() == txova_db::ErrorKind::Connection, || async { Ok(7) })
///     .await?;
/// assert_eq!(value, 7);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// The first delay's scale.
    #[serde(with = "humantime_serde")]
    pub base: Duration,
    /// The longest delay.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Attempts in all, the first included (`None`: unlimited).
    pub max_attempts: Option<u32>,
    /// No attempt starts later than this after the first (`None`: unlimited).
    #[serde(default, with = "humantime_serde")]
    pub max_elapsed: Option<Duration>,
    /// How delays are randomised.
    #[serde(default)]
    pub jitter: Jitter,
}

impl Default for Backoff {
    /// 100 ms doubling up to 5 s, full jitter, 10 attempts, 30 s in all.
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            max_attempts: Some(10),
            max_elapsed: Some(Duration::from_secs(30)),
            jitter: Jitter::Full,
        }
    }
}

impl Backoff {
    /// Delays from `base` doubling up to `max_delay`, full jitter, no limits.
    pub const fn new(base: Duration, max_delay: Duration) -> Self {
        Self {
            base,
            max_delay,
            max_attempts: None,
            max_elapsed: None,
            jitter: Jitter::Full,
        }
    }

    /// Gives up after `attempts` attempts in all.
    pub const fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Starts no attempt later than `elapsed` after the first.
    pub const fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = Some(elapsed);
        self
    }

    /// How delays are randomised.
    pub const fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The delays before attempts 2, 3, …, ending when a limit says stop. The clock
    /// for `max_elapsed` starts now.
    pub fn delays(&self) -> Delays {
        Delays {
            policy: *self,
            attempt: 1,
            previous: self.base,
            started: Instant::now(),
        }
    }

    /// The wait after failed attempt `attempt` (from 1), given the previous wait (for
    /// decorrelated jitter), before the elapsed limit.
    pub(crate) fn delay_after(&self, attempt: u32, previous: Duration) -> Duration {
        let exponential = self
            .base
            .saturating_mul(1 << attempt.saturating_sub(1).min(30))
            .min(self.max_delay);
        match self.jitter {
            Jitter::None => exponential,
            Jitter::Full => random_up_to(exponential),
            Jitter::Equal => exponential / 2 + random_up_to(exponential / 2),
            Jitter::Decorrelated => {
                let upper = previous.saturating_mul(3).max(self.base);
                (self.base + random_up_to(upper - self.base)).min(self.max_delay)
            }
        }
    }

    /// Runs `op` until it succeeds, fails with an error `retryable` refuses, or the
    /// limits are reached (the last error is returned).
    pub async fn retry<T, R, F, Fut>(&self, retryable: R, mut op: F) -> Result<T, Error>
    where
        R: Fn(&Error) -> bool,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut delays = self.delays();
        loop {
            match op().await {
                Ok(value) => return Ok(value),
                Err(err) if retryable(&err) => match delays.next() {
                    Some(delay) => {
                        tracing::debug!(error = %err, ?delay, attempt = delays.attempt, "retrying after backoff");
                        tokio::time::sleep(delay).await;
                    }
                    None => return Err(err),
                },
                Err(err) => return Err(err),
            }
        }
    }
}

/// The delays of one run of a [`Backoff`] (see [`Backoff::delays`]).
///
/// ```
/// use std::time::Duration;
/// use txova_db::resilience::Backoff;
///
/// let backoff = Backoff { max_attempts: Some(4), ..Backoff::default() };
/// // Attempts after the first: three delays, each at most the capped exponential.
/// let delays: Vec<Duration> = backoff.delays().collect();
/// assert_eq!(delays.len(), 3);
/// assert!(delays.iter().all(|d| *d <= Duration::from_millis(400)));
/// ```
#[derive(Debug, Clone)]
pub struct Delays {
    policy: Backoff,
    /// Attempts made so far.
    attempt: u32,
    previous: Duration,
    started: Instant,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let policy = &self.policy;
        if policy.max_attempts.is_some_and(|max| self.attempt >= max) {
            return None;
        }
        let mut delay = policy.delay_after(self.attempt, self.previous);
        if let Some(max_elapsed) = policy.max_elapsed {
            let left = max_elapsed.saturating_sub(self.started.elapsed());
            if left.is_zero() {
                return None;
            }
            delay = delay.min(left);
        }
        self.previous = delay;
        self.attempt += 1;
        Some(delay)
    }
}

fn random_up_to(ceiling: Duration) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(if nanos == 0 {
        0
    } else {
        rand::random_range(0..=nanos)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn each_jitter_stays_within_its_bounds() {
        for _ in 0..200 {
            let none: Vec<Duration> = Backoff::new(10 * MS, 100 * MS)
                .jitter(Jitter::None)
                .max_attempts(7)
                .delays()
                .collect();
            assert_eq!(none, [10, 20, 40, 80, 100, 100].map(|ms| ms * MS));
            for (n, delay) in Backoff::new(10 * MS, 100 * MS).delays().take(6).enumerate() {
                assert!(delay <= none[n]);
            }
            for (n, delay) in Backoff::new(10 * MS, 100 * MS)
                .jitter(Jitter::Equal)
                .delays()
                .take(6)
                .enumerate()
            {
                assert!(delay >= none[n] / 2 && delay <= none[n]);
            }
            let mut previous = 10 * MS;
            for delay in Backoff::new(10 * MS, 100 * MS)
                .jitter(Jitter::Decorrelated)
                .delays()
                .take(20)
            {
                assert!(delay >= 10 * MS && delay <= (previous * 3).min(100 * MS));
                previous = delay;
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_stops_at_the_elapsed_limit_and_on_errors_it_may_not_retry() {
        let backoff = Backoff::new(100 * MS, Duration::from_secs(1))
            .jitter(Jitter::None)
            .max_elapsed(Duration::from_secs(2));
        let started = Instant::now();
        let mut calls = 0;
        let err = backoff
            .retry(
                |err| err.kind() == ErrorKind::Timeout,
                || {
                    calls += 1;
                    async {
                        Err::<(), _>(Error::PoolTimeout {
                            after: Duration::ZERO,
                        })
                    }
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        // 100 + 200 + 400 + 800 ms, then the 500 ms left.
        assert_eq!(calls, 6);
        assert_eq!(started.elapsed(), Duration::from_secs(2));

        let mut calls = 0;
        backoff
            .retry(
                |err| err.kind() == ErrorKind::Timeout,
                || {
                    calls += 1;
                    async { Err::<(), _>(Error::NotFound) }
                },
            )
            .await
            .unwrap_err();
        assert_eq!(calls, 1);
    }
}
