//! What the [`HealthMonitor`](super::HealthMonitor) reports: per component and overall,
//! serialisable for a readiness probe.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::db::DbStats;
use crate::resilience::BreakerState;

/// How a component (or the whole service) is doing.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::health::{HealthConfig, HealthMonitor, HealthStatus};
/// use txova_db::store::Store;
/// use txova_db::Db;
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let monitor = HealthMonitor::builder()
///     .database("database", db)
///     .store("cache", Store::embedded())
///     .start();
/// let report = monitor.check_now().await;
///
/// let http_status = match report.status {
///     HealthStatus::Up | HealthStatus::Degraded => 200, // degraded still serves
///     HealthStatus::Down => 503,
/// };
/// assert_eq!(http_status, 200);
/// assert!(HealthStatus::Down.level() > HealthStatus::Degraded.level());
/// # let _ = (Duration::ZERO, HealthConfig::default());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Answering, within every threshold.
    Up,
    /// Answering, but a threshold is crossed (slow ping, pool nearly full, waiters,
    /// acquire timeouts) or a single ping failed.
    Degraded,
    /// Not answering: the last pings failed.
    Down,
}

impl HealthStatus {
    /// The value of the `txova_db_health_status` gauge: 0 up, 1 degraded, 2 down.
    pub fn level(self) -> u8 {
        match self {
            Self::Up => 0,
            Self::Degraded => 1,
            Self::Down => 2,
        }
    }
}

/// What kind of component a report is about.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::health::{HealthConfig, HealthMonitor, HealthStatus};
/// use txova_db::store::Store;
/// use txova_db::Db;
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let monitor = HealthMonitor::builder()
///     .database("database", db)
///     .store("cache", Store::embedded())
///     .start();
/// let report = monitor.check_now().await;
///
/// use txova_db::health::ComponentKind;
///
/// let kinds: Vec<ComponentKind> = report.components.iter().map(|c| c.kind).collect();
/// assert_eq!(kinds, [ComponentKind::Database, ComponentKind::Store]);
/// # let _ = (Duration::ZERO, HealthConfig::default(), HealthStatus::Up);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ComponentKind {
    /// A [`Db`](crate::Db) pool.
    Database,
    /// A [`Store`](crate::store::Store) (Redis or embedded).
    Store,
}

/// One reason a component is not [`Up`](HealthStatus::Up).
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::health::{HealthConfig, HealthMonitor, HealthStatus};
/// use txova_db::store::Store;
/// use txova_db::Db;
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let monitor = HealthMonitor::builder()
///     .database("database", db)
///     .store("cache", Store::embedded())
///     .start();
/// let report = monitor.check_now().await;
///
/// use txova_db::health::Problem;
///
/// for component in &report.components {
///     for problem in &component.problems {
///         match problem {
///             Problem::PingFailed { error } => eprintln!("{}: {error}", component.name),
///             other => eprintln!("{}: {other:?}", component.name),
///         }
///     }
/// }
/// # let _ = (Duration::ZERO, HealthConfig::default(), HealthStatus::Up);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Problem {
    /// The ping failed or did not answer within the check timeout.
    PingFailed {
        /// The error, as text.
        error: String,
    },
    /// The ping answered, slower than the threshold.
    SlowPing {
        /// How long it took (`latency_seconds`, a number, in JSON).
        #[serde(
            rename = "latency_seconds",
            serialize_with = "crate::seconds::serialize"
        )]
        latency: Duration,
        /// [`HealthThresholds::slow_ping`](super::HealthThresholds::slow_ping)
        /// (`threshold_seconds` in JSON).
        #[serde(
            rename = "threshold_seconds",
            serialize_with = "crate::seconds::serialize"
        )]
        threshold: Duration,
    },
    /// Nearly every pooled connection is in use.
    PoolSaturated {
        /// Connections in use.
        in_use: u32,
        /// The pool's maximum.
        max: u32,
    },
    /// Callers are queued for a connection.
    AcquireWaiters {
        /// How many.
        pending: u32,
    },
    /// Acquires gave up since the previous check.
    AcquireTimeouts {
        /// How many since the previous check.
        since_last_check: u64,
    },
}

/// A stretch of time a component was [`Down`](HealthStatus::Down).
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::health::{HealthConfig, HealthMonitor, HealthStatus};
/// use txova_db::store::Store;
/// use txova_db::Db;
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let monitor = HealthMonitor::builder()
///     .database("database", db)
///     .store("cache", Store::embedded())
///     .start();
/// let report = monitor.check_now().await;
///
/// let database = report.component("database").expect("monitored");
/// match &database.last_outage {
///     Some(outage) => println!("down {:?}, {} failed checks", outage.duration(), outage.failed_checks),
///     None => println!("never down since start"),
/// }
/// # let _ = (Duration::ZERO, HealthConfig::default(), HealthStatus::Up);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outage {
    /// The first of the failed checks that made it down.
    #[serde(with = "humantime_serde")]
    pub started: SystemTime,
    /// The first check that found it answering again; `None` while it lasts.
    #[serde(with = "humantime_serde")]
    pub ended: Option<SystemTime>,
    /// Failed checks during the outage.
    pub failed_checks: u32,
}

impl Outage {
    /// How long it lasted (so far, while it lasts).
    pub fn duration(&self) -> Duration {
        let end = self.ended.unwrap_or_else(SystemTime::now);
        end.duration_since(self.started).unwrap_or_default()
    }
}

/// The last check of one component.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::health::{HealthConfig, HealthMonitor, HealthStatus};
/// use txova_db::store::Store;
/// use txova_db::Db;
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let monitor = HealthMonitor::builder()
///     .database("database", db)
///     .store("cache", Store::embedded())
///     .start();
/// let report = monitor.check_now().await;
///
/// let database = report.component("database").expect("monitored");
/// assert_eq!(database.status, HealthStatus::Up);
/// assert_eq!(database.consecutive_failures, 0);
/// let pool = database.pool.as_ref().expect("databases report their pool");
/// assert!(pool.size >= 1);
/// # let _ = (Duration::ZERO, HealthConfig::default());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ComponentHealth {
    /// The name it was registered under.
    pub name: String,
    /// Database or store.
    pub kind: ComponentKind,
    /// Its status.
    pub status: HealthStatus,
    /// Since when it has had this status.
    #[serde(with = "humantime_serde")]
    pub status_since: SystemTime,
    /// Why it is not up; empty when it is.
    pub problems: Vec<Problem>,
    /// The ping's round trip, when it answered (`latency_seconds`, a number, in JSON).
    #[serde(
        rename = "latency_seconds",
        serialize_with = "crate::seconds::serialize_option"
    )]
    pub latency: Option<Duration>,
    /// Failed pings in a row.
    pub consecutive_failures: u32,
    /// Outages since the monitor started.
    pub outages: u32,
    /// The latest outage, ongoing or over.
    pub last_outage: Option<Outage>,
    /// The pool's statistics, for a database.
    pub pool: Option<DbStats>,
    /// The state of the component's circuit breaker, when it has one (a Redis store,
    /// a database with [`DbConfig::breaker`](crate::DbConfig::breaker) on). While it
    /// is open, pings fail at once too, so the component reports down.
    pub breaker: Option<BreakerState>,
}

/// The monitor's latest view of every component.
///
/// ```
/// use txova_db::health::{HealthReport, HealthStatus};
///
/// let report = HealthReport::default();
/// assert_eq!(report.status, HealthStatus::Up);
/// assert!(report.is_ready());
/// assert!(serde_json::to_string(&report).unwrap().contains(r#""status":"up""#));
/// ```
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::health::{HealthConfig, HealthMonitor, HealthStatus};
/// use txova_db::store::Store;
/// use txova_db::Db;
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let monitor = HealthMonitor::builder()
///     .database("database", db)
///     .store("cache", Store::embedded())
///     .start();
/// let report = monitor.check_now().await;
///
/// // Serializes for a /health endpoint.
/// let json = serde_json::to_value(&report).expect("serializable");
/// assert_eq!(json["status"], "up");
/// assert_eq!(json["components"][0]["name"], "database");
/// // Durations are numbers of seconds, for probes and dashboards to compare.
/// let latency = json["components"][0]["latency_seconds"].as_f64().expect("seconds");
/// assert!(latency > 0.0 && latency < 2.0);
/// assert!(json["components"][0]["pool"]["wait_time_seconds"].is_number());
/// # let _ = (Duration::ZERO, HealthConfig::default(), HealthStatus::Up);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HealthReport {
    /// The worst status of any component.
    pub status: HealthStatus,
    /// When the last check finished; `None` before the first.
    #[serde(with = "humantime_serde")]
    pub checked_at: Option<SystemTime>,
    /// Every component, in registration order.
    pub components: Vec<ComponentHealth>,
}

impl Default for HealthReport {
    fn default() -> Self {
        Self {
            status: HealthStatus::Up,
            checked_at: None,
            components: Vec::new(),
        }
    }
}

impl HealthReport {
    /// Whether the service should take traffic: no component is down. A degraded
    /// component still serves, so a readiness probe answers 200 for it.
    pub fn is_ready(&self) -> bool {
        self.status != HealthStatus::Down
    }

    /// The component registered as `name`.
    pub fn component(&self, name: &str) -> Option<&ComponentHealth> {
        self.components.iter().find(|c| c.name == name)
    }
}

/// A component changed status; handed to the monitor's
/// [`on_alert`](super::HealthMonitorBuilder::on_alert) callback.
///
/// ```
/// use txova_db::health::{HealthMonitor, HealthStatus};
/// use txova_db::store::Store;
///
/// let monitor = HealthMonitor::builder()
///     .store("cache", Store::embedded())
///     .on_alert(|alert| {
///         if alert.to == HealthStatus::Down {
///             eprintln!("{} is down: {:?}", alert.component, alert.problems);
///         }
///     });
/// # let _ = monitor;
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HealthAlert {
    /// The component.
    pub component: String,
    /// Its status before this check.
    pub from: HealthStatus,
    /// Its status now.
    pub to: HealthStatus,
    /// Why, when it is not up.
    pub problems: Vec<Problem>,
    /// When the check ran.
    #[serde(with = "humantime_serde")]
    pub at: SystemTime,
}
