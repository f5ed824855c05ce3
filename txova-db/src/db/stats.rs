//! Pool statistics on par with pgxpool's: what sqlx reports (size, idle) plus what we
//! count around acquire and in sqlx's connect hook.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::telemetry::{record_histogram, static_key, system_name};
use crate::error::Backend;

/// A snapshot of a [`Db`](crate::Db)'s pool, from [`Db::stats`](crate::Db::stats).
///
/// Counters are totals since the pool was created. `connections_created` and
/// `connections_closed` come from the connect hook of pools txova-db builds; a pool
/// wrapped with `Db::from(sqlx_pool)` reports 0 for both.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// let db = txova_db::Db::connect("sqlite::memory:").await?;
/// db.ping().await?;
/// let stats = db.stats();
/// assert_eq!((stats.acquires, stats.pending_acquires), (1, 0));
/// assert!(stats.connections_created >= 1);
/// println!("{}", serde_json::to_string(&stats).unwrap());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DbStats {
    /// Open connections, idle or in use.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Connections handed out and not yet returned.
    pub in_use: u32,
    /// Connections returned by a caller that dropped a statement midway or left a
    /// transaction open, being cleaned up (the statement cancelled, the transaction
    /// rolled back) before anyone else may use them. Counted in `size`, not `in_use`.
    pub settling: u32,
    /// The configured maximum.
    pub max_size: u32,
    /// Callers waiting in acquire right now.
    pub pending_acquires: u32,
    /// Connections handed out, in total.
    pub acquires: u64,
    /// Acquires that found no idle connection and had to wait for one (to be returned
    /// or opened).
    pub waits: u64,
    /// Time spent waiting in acquire, in total (`wait_time_seconds`, a number, in
    /// JSON).
    #[serde(
        rename = "wait_time_seconds",
        serialize_with = "crate::seconds::serialize"
    )]
    pub wait_time: Duration,
    /// How long acquires waited, bucketed.
    pub wait_histogram: WaitHistogram,
    /// Acquires that gave up after the acquire timeout.
    pub acquire_timeouts: u64,
    /// Acquires abandoned by their caller (the future dropped) before they got a
    /// connection.
    pub acquires_cancelled: u64,
    /// Statements the pool cancelled on the server because their caller dropped them
    /// while they ran, in total.
    pub statements_cancelled: u64,
    /// Connections opened by the pool, in total.
    pub connections_created: u64,
    /// Connections closed (broken, expired, idle too long, or the pool closed), in total:
    /// those created less those open.
    pub connections_closed: u64,
}

/// Upper bounds of the [`WaitHistogram`] buckets; a last bucket takes the rest.
pub const WAIT_BUCKETS: [Duration; 6] = [
    Duration::from_micros(100),
    Duration::from_millis(1),
    Duration::from_millis(10),
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(10),
];

/// Acquire waits counted in buckets of [`WAIT_BUCKETS`] (not cumulative), plus one
/// for longer waits. Serialises as `[{"le": "100us", "count": 3}, …, {"le": null, …}]`.
///
/// ```
/// use txova_db::db::WaitHistogram;
///
/// let empty = WaitHistogram::default();
/// assert_eq!(empty.buckets().count(), 7);
/// assert_eq!(empty.buckets().last(), Some((None, 0)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitHistogram {
    counts: [u64; WAIT_BUCKETS.len() + 1],
}

impl WaitHistogram {
    /// Each bucket's upper bound (`None` for the last, unbounded one) and its count.
    pub fn buckets(&self) -> impl Iterator<Item = (Option<Duration>, u64)> + '_ {
        WAIT_BUCKETS
            .iter()
            .copied()
            .map(Some)
            .chain([None])
            .zip(self.counts.iter().copied())
    }

    /// The number of waits counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

impl Serialize for WaitHistogram {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Bucket(Option<Duration>, u64);
        impl Serialize for Bucket {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut bucket = serializer.serialize_struct("Bucket", 2)?;
                // Seconds, as Prometheus writes a bucket's bound; `null` for the last.
                bucket.serialize_field("le", &self.0.map(|d| d.as_secs_f64()))?;
                bucket.serialize_field("count", &self.1)?;
                bucket.end()
            }
        }
        let mut seq = serializer.serialize_seq(Some(self.counts.len()))?;
        for (le, count) in self.buckets() {
            seq.serialize_element(&Bucket(le, count))?;
        }
        seq.end()
    }
}

/// The counters behind [`DbStats`], shared with the pool's connect hook.
#[derive(Debug, Default)]
pub(crate) struct PoolCounters {
    acquires: AtomicU64,
    waits: AtomicU64,
    wait_nanos: AtomicU64,
    wait_buckets: [AtomicU64; WAIT_BUCKETS.len() + 1],
    timeouts: AtomicU64,
    cancelled: AtomicU64,
    pending: AtomicU32,
    created: AtomicU64,
    statements_cancelled: AtomicU64,
}

impl PoolCounters {
    /// Called from the pool's `after_connect` hook.
    pub(crate) fn connection_created(&self) {
        self.created.fetch_add(1, Ordering::Relaxed);
    }

    /// A statement abandoned by its caller was cancelled on the server.
    pub(crate) fn statement_cancelled(&self) {
        self.statements_cancelled.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks one caller waiting in acquire until the returned guard is finished or
    /// dropped (a drop counts as cancelled).
    pub(crate) fn start_acquire(&self) -> PendingAcquire<'_> {
        self.pending.fetch_add(1, Ordering::Relaxed);
        PendingAcquire {
            counters: self,
            finished: false,
        }
    }

    pub(crate) fn snapshot(&self, sizes: super::pool::Sizes) -> DbStats {
        let super::pool::Sizes {
            size,
            idle,
            settling,
            max: max_size,
        } = sizes;
        let created = self.created.load(Ordering::Relaxed);
        let mut wait_histogram = WaitHistogram::default();
        for (count, bucket) in wait_histogram.counts.iter_mut().zip(&self.wait_buckets) {
            *count = bucket.load(Ordering::Relaxed);
        }
        DbStats {
            size,
            idle,
            in_use: size.saturating_sub(idle).saturating_sub(settling),
            settling,
            max_size,
            pending_acquires: self.pending.load(Ordering::Relaxed),
            acquires: self.acquires.load(Ordering::Relaxed),
            waits: self.waits.load(Ordering::Relaxed),
            wait_time: Duration::from_nanos(self.wait_nanos.load(Ordering::Relaxed)),
            wait_histogram,
            acquire_timeouts: self.timeouts.load(Ordering::Relaxed),
            acquires_cancelled: self.cancelled.load(Ordering::Relaxed),
            statements_cancelled: self.statements_cancelled.load(Ordering::Relaxed),
            connections_created: created,
            connections_closed: created.saturating_sub(u64::from(size)),
        }
    }
}

/// One caller in acquire; see [`PoolCounters::start_acquire`].
pub(crate) struct PendingAcquire<'a> {
    counters: &'a PoolCounters,
    finished: bool,
}

impl PendingAcquire<'_> {
    /// Records the acquire's outcome: handed a connection, or timed out (other errors
    /// count only their wait).
    pub(crate) fn finish(
        mut self,
        found_idle: bool,
        waited: Duration,
        timed_out: bool,
        backend: Backend,
    ) {
        self.finished = true;
        let c = self.counters;
        if timed_out {
            c.timeouts.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("txova_db_pool_acquire_timeouts_total", "backend" => system_name(backend))
                .increment(1);
        } else {
            c.acquires.fetch_add(1, Ordering::Relaxed);
        }
        if !found_idle {
            c.waits.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        c.wait_nanos.fetch_add(nanos, Ordering::Relaxed);
        let bucket = WAIT_BUCKETS
            .iter()
            .position(|&bound| waited <= bound)
            .unwrap_or(WAIT_BUCKETS.len());
        c.wait_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        record_histogram!(acquire_wait_key(backend), waited.as_secs_f64());
    }
}

impl Drop for PendingAcquire<'_> {
    fn drop(&mut self) {
        self.counters.pending.fetch_sub(1, Ordering::Relaxed);
        if !self.finished {
            self.counters.cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `txova_db_pool_acquire_wait_seconds`'s key for a backend ([`system_name`]), recorded
/// for every statement.
fn acquire_wait_key(backend: Backend) -> &'static metrics::Key {
    match backend {
        Backend::Postgres => {
            static_key!("txova_db_pool_acquire_wait_seconds", "backend" => "postgresql")
        }
        Backend::Sqlite => static_key!("txova_db_pool_acquire_wait_seconds", "backend" => "sqlite"),
        Backend::MySql => static_key!("txova_db_pool_acquire_wait_seconds", "backend" => "mysql"),
    }
}

/// Publishes a snapshot as the pool gauges (refreshed by every [`Db::stats`](crate::Db::stats)
/// call, which the health monitor makes at each check).
pub(crate) fn publish(stats: &DbStats, backend: &'static str) {
    let gauge = |state: &'static str, value: u32| {
        metrics::gauge!("txova_db_pool_connections", "backend" => backend, "state" => state)
            .set(f64::from(value));
    };
    gauge("idle", stats.idle);
    gauge("in_use", stats.in_use);
    gauge("settling", stats.settling);
    metrics::gauge!("txova_db_pool_max_connections", "backend" => backend)
        .set(f64::from(stats.max_size));
    metrics::gauge!("txova_db_pool_pending_acquires", "backend" => backend)
        .set(f64::from(stats.pending_acquires));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_waits_are_recorded_under_the_backends_name() {
        for backend in [Backend::Postgres, Backend::Sqlite, Backend::MySql] {
            let key = acquire_wait_key(backend);
            assert_eq!(key.name(), "txova_db_pool_acquire_wait_seconds");
            let labels: Vec<_> = key.labels().map(|l| (l.key(), l.value())).collect();
            assert_eq!(labels, [("backend", system_name(backend))]);
        }
    }

    #[test]
    fn buckets_waits_and_counts_cancelled_acquires() {
        let counters = PoolCounters::default();
        counters
            .start_acquire()
            .finish(true, Duration::from_micros(50), false, Backend::Sqlite);
        counters
            .start_acquire()
            .finish(false, Duration::from_millis(5), false, Backend::Sqlite);
        counters
            .start_acquire()
            .finish(false, Duration::from_secs(30), true, Backend::Sqlite);
        let pending = counters.start_acquire();
        let sizes = super::super::pool::Sizes {
            size: 3,
            idle: 1,
            settling: 1,
            max: 4,
        };
        assert_eq!(counters.snapshot(sizes).pending_acquires, 1);
        drop(pending);
        counters.connection_created();
        counters.connection_created();
        counters.connection_created();

        let stats = counters.snapshot(sizes);
        assert_eq!((stats.in_use, stats.settling), (1, 1));
        assert_eq!(
            (stats.acquires, stats.waits, stats.acquire_timeouts),
            (2, 2, 1)
        );
        assert_eq!((stats.pending_acquires, stats.acquires_cancelled), (0, 1));
        assert_eq!(
            (stats.connections_created, stats.connections_closed),
            (3, 0)
        );
        let counts: Vec<u64> = stats.wait_histogram.buckets().map(|(_, n)| n).collect();
        assert_eq!(counts, [1, 0, 1, 0, 0, 0, 1]);
        let json = serde_json::to_value(stats.wait_histogram).unwrap();
        assert_eq!(json[0]["le"], 0.0001);
        assert_eq!(json[6]["le"], serde_json::Value::Null);
    }
}
