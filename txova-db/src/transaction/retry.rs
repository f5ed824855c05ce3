//! When to run a failed transaction again: exponential backoff with full jitter.

use std::time::Duration;

use crate::resilience::Backoff;

/// Retry of serialization failures, deadlocks and lock timeouts.
///
/// Attempt `n` (from 1) that fails waits `random(0, min(max_delay, base_delay · 2ⁿ⁻¹))`
/// before the next — "full jitter", which spreads contending retries out better than
/// a fixed or equal-jitter backoff.
///
/// ```
/// use std::time::Duration;
/// use txova_db::RetryPolicy;
///
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.max_attempts, 5);
/// assert!(policy.delay(3) <= Duration::from_millis(40));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never retry).
    pub max_attempts: u32,
    /// The backoff's scale.
    pub base_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The same policy as a [`Backoff`] (full jitter).
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.base_delay, self.max_delay).max_attempts(self.max_attempts)
    }

    /// The wait after failed attempt `attempt` (from 1).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.backoff().delay_after(attempt, self.base_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_the_exponential_ceiling() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
        };
        for attempt in 1..=10 {
            let ceiling = Duration::from_millis((10_u64 << (attempt - 1)).min(100));
            for _ in 0..200 {
                assert!(policy.delay(attempt) <= ceiling);
            }
        }
        // Full jitter: the waits spread over the whole range, not just near the top.
        let samples: Vec<Duration> = (0..500).map(|_| policy.delay(5)).collect();
        assert!(samples.iter().any(|d| *d < Duration::from_millis(20)));
        assert!(samples.iter().any(|d| *d > Duration::from_millis(80)));
    }
}
