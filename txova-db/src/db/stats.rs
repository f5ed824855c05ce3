//! Pool statistics: what sqlx reports (size, idle) plus what we measure around acquire.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// A snapshot of a [`Db`](crate::Db)'s pool, from [`Db::stats`](crate::Db::stats).
///
/// Counters are totals since the pool was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DbStats {
    /// Open connections, idle or in use.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Connections handed out and not yet returned.
    pub in_use: u32,
    /// The configured maximum.
    pub max_size: u32,
    /// Connections handed out, in total.
    pub acquires: u64,
    /// Acquires that found no idle connection and had to wait for one (to be returned
    /// or opened).
    pub waits: u64,
    /// Time spent waiting in acquire, in total.
    #[serde(with = "humantime_serde")]
    pub wait_time: Duration,
    /// Acquires that gave up after the acquire timeout.
    pub acquire_timeouts: u64,
}

#[derive(Debug, Default)]
pub(crate) struct AcquireCounters {
    acquires: AtomicU64,
    waits: AtomicU64,
    wait_nanos: AtomicU64,
    timeouts: AtomicU64,
}

impl AcquireCounters {
    pub(crate) fn record(&self, found_idle: bool, waited: Duration, timed_out: bool) {
        if timed_out {
            self.timeouts.fetch_add(1, Ordering::Relaxed);
        } else {
            self.acquires.fetch_add(1, Ordering::Relaxed);
        }
        if !found_idle {
            self.waits.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.wait_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, size: u32, idle: u32, max_size: u32) -> DbStats {
        DbStats {
            size,
            idle,
            in_use: size.saturating_sub(idle),
            max_size,
            acquires: self.acquires.load(Ordering::Relaxed),
            waits: self.waits.load(Ordering::Relaxed),
            wait_time: Duration::from_nanos(self.wait_nanos.load(Ordering::Relaxed)),
            acquire_timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }
}
