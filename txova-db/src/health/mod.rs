//! [`HealthMonitor`]: periodic pings and pool statistics against thresholds, an alert
//! callback on every status change, and a serialisable [`HealthReport`] for readiness
//! probes.
//!
//! ```
//! # async fn demo() -> txova_db::Result<()> {
//! use std::time::Duration;
//! use txova_db::health::{HealthConfig, HealthMonitor, HealthStatus};
//! use txova_db::store::Store;
//!
//! let db = txova_db::Db::connect("sqlite::memory:").await?;
//! let monitor = HealthMonitor::builder()
//!     .database("primary", db)
//!     .store("cache", Store::embedded())
//!     .config(HealthConfig { interval: Duration::from_secs(5), ..HealthConfig::default() })
//!     .on_alert(|alert| eprintln!("{} is {:?}: {:?}", alert.component, alert.to, alert.problems))
//!     .start();
//!
//! // A readiness handler answers 200 or 503 from the latest report.
//! let report = monitor.check_now().await;
//! assert_eq!(report.status, HealthStatus::Up);
//! assert!(report.is_ready());
//! let body = serde_json::to_string(&report).unwrap();
//! assert!(body.contains(r#""name":"primary""#));
//! monitor.stop().await;
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

mod report;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex as AsyncMutex;
use tokio::task::JoinHandle;

pub use report::{
    ComponentHealth, ComponentKind, HealthAlert, HealthReport, HealthStatus, Outage, Problem,
};

use crate::Db;
use crate::store::Store;

/// How often and how strictly the monitor checks.
///
/// ```
/// let config: txova_db::health::HealthConfig =
///     serde_json::from_str(r#"{ "interval": "10s", "thresholds": { "slow_ping": "1s" } }"#).unwrap();
/// assert_eq!(config.interval, std::time::Duration::from_secs(10));
/// assert_eq!(config.thresholds.failures_before_down, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Time between checks (default 5 s).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long one ping may take before it counts as failed (default 2 s).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// What counts as degraded or down.
    pub thresholds: HealthThresholds,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            thresholds: HealthThresholds::default(),
        }
    }
}

/// What makes a component [`Degraded`](HealthStatus::Degraded) or
/// [`Down`](HealthStatus::Down).
///
/// ```
/// use std::time::Duration;
/// use txova_db::health::{HealthConfig, HealthThresholds};
///
/// // A latency-sensitive service: slow at 100 ms, down after 3 failed pings in a row.
/// let config = HealthConfig {
///     interval: Duration::from_secs(2),
///     thresholds: HealthThresholds {
///         slow_ping: Duration::from_millis(100),
///         failures_before_down: 3,
///         ..HealthThresholds::default()
///     },
///     ..HealthConfig::default()
/// };
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthThresholds {
    /// A ping slower than this is degraded (default 500 ms).
    #[serde(with = "humantime_serde")]
    pub slow_ping: Duration,
    /// A pool with at least this share of its maximum in use is degraded (default 0.9).
    pub pool_usage: f64,
    /// A pool with at least this many callers waiting for a connection is degraded
    /// (default 1).
    pub pending_acquires: u32,
    /// Failed pings in a row before a component is down; fewer are degraded
    /// (default 2, so one lost packet does not fail a readiness probe).
    pub failures_before_down: u32,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        Self {
            slow_ping: Duration::from_millis(500),
            pool_usage: 0.9,
            pending_acquires: 1,
            failures_before_down: 2,
        }
    }
}

type AlertCallback = Arc<dyn Fn(&HealthAlert) + Send + Sync>;

enum Target {
    Database(Db),
    Store(Store),
}

/// One watched component and what the monitor remembers of it.
struct Component {
    name: String,
    target: Target,
    last_timeouts: u64,
    /// When the current run of failed pings began.
    failing_since: Option<SystemTime>,
    health: ComponentHealth,
}

/// Builds a [`HealthMonitor`]: register components, then [`start`](Self::start).
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
/// assert_eq!(report.components.len(), 2);
/// # let _ = (Duration::ZERO, HealthConfig::default(), HealthStatus::Up);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[must_use = "a builder does nothing until `start` is called"]
pub struct HealthMonitorBuilder {
    components: Vec<Component>,
    config: HealthConfig,
    on_alert: Option<AlertCallback>,
}

impl HealthMonitorBuilder {
    /// Watches a database pool: `ping` plus its [`stats`](Db::stats).
    pub fn database(mut self, name: impl Into<String>, db: Db) -> Self {
        self.components
            .push(Component::new(name.into(), Target::Database(db)));
        self
    }

    /// Watches a store (Redis or embedded) with `PING`.
    pub fn store(mut self, name: impl Into<String>, store: Store) -> Self {
        self.components
            .push(Component::new(name.into(), Target::Store(store)));
        self
    }

    /// Interval, timeout and thresholds.
    pub fn config(mut self, config: HealthConfig) -> Self {
        self.config = config;
        self
    }

    /// Called (on the monitor's task) whenever a component changes status.
    pub fn on_alert(mut self, alert: impl Fn(&HealthAlert) + Send + Sync + 'static) -> Self {
        self.on_alert = Some(Arc::new(alert));
        self
    }

    /// Starts checking on a background task (the first check runs at once). Must be
    /// called inside a tokio runtime.
    pub fn start(self) -> HealthMonitor {
        let shared = Arc::new(Shared {
            components: AsyncMutex::new(self.components),
            report: Mutex::new(HealthReport::default()),
            config: self.config,
            on_alert: self.on_alert,
        });
        let task = tokio::spawn(Arc::clone(&shared).run());
        HealthMonitor {
            shared,
            task: Mutex::new(Some(task)),
        }
    }
}

struct Shared {
    /// Locked for the length of one check, so checks never overlap.
    components: AsyncMutex<Vec<Component>>,
    report: Mutex<HealthReport>,
    config: HealthConfig,
    on_alert: Option<AlertCallback>,
}

/// Checks databases and stores periodically; see the [module docs](self).
///
/// Dropping the monitor stops it.
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
/// // What a `/health` route serves: the last report, no I/O of its own.
/// assert!(report.is_ready());
/// assert_eq!(monitor.report().status, HealthStatus::Up);
/// monitor.stop().await;
/// # let _ = (Duration::ZERO, HealthConfig::default());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
pub struct HealthMonitor {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl HealthMonitor {
    /// A builder with [`HealthConfig::default`] and no components.
    pub fn builder() -> HealthMonitorBuilder {
        HealthMonitorBuilder {
            components: Vec::new(),
            config: HealthConfig::default(),
            on_alert: None,
        }
    }

    /// The report of the latest check (cheap: no I/O), for a readiness handler.
    pub fn report(&self) -> HealthReport {
        match self.shared.report.lock() {
            Ok(report) => report.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Runs a check now (waiting for one in progress first) and returns its report.
    pub async fn check_now(&self) -> HealthReport {
        self.shared.check().await
    }

    /// Whether the background task is still checking.
    pub fn is_running(&self) -> bool {
        self.task
            .lock()
            .ok()
            .and_then(|task| task.as_ref().map(|t| !t.is_finished()))
            .unwrap_or(false)
    }

    /// Stops checking; a check in progress is abandoned. The last report stays readable.
    pub async fn stop(&self) {
        let task = self.task.lock().ok().and_then(|mut task| task.take());
        if let Some(task) = task {
            task.abort();
            // A cancelled task reports a JoinError: that is the point here.
            let _ = task.await;
        }
    }
}

impl Drop for HealthMonitor {
    fn drop(&mut self) {
        if let Ok(mut task) = self.task.lock()
            && let Some(task) = task.take()
        {
            task.abort();
        }
    }
}

impl Shared {
    async fn run(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(self.config.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.check().await;
        }
    }

    async fn check(&self) -> HealthReport {
        let mut components = self.components.lock().await;
        let mut alerts = Vec::new();
        for component in components.iter_mut() {
            if let Some(alert) = component.check(&self.config).await {
                alerts.push(alert);
            }
        }
        let report = HealthReport {
            status: components
                .iter()
                .map(|c| c.health.status)
                .max()
                .unwrap_or(HealthStatus::Up),
            checked_at: Some(SystemTime::now()),
            components: components.iter().map(|c| c.health.clone()).collect(),
        };
        drop(components);
        if let Ok(mut latest) = self.report.lock() {
            *latest = report.clone();
        }
        for alert in &alerts {
            log_alert(alert);
            if let Some(on_alert) = &self.on_alert {
                on_alert(alert);
            }
        }
        report
    }
}

fn log_alert(alert: &HealthAlert) {
    if alert.to > alert.from {
        tracing::warn!(
            target: "txova_db::health",
            component = %alert.component,
            from = ?alert.from,
            to = ?alert.to,
            problems = ?alert.problems,
            "{} is {:?}",
            alert.component,
            alert.to,
        );
    } else {
        tracing::info!(
            target: "txova_db::health",
            component = %alert.component,
            from = ?alert.from,
            to = ?alert.to,
            "{} recovered to {:?}",
            alert.component,
            alert.to,
        );
    }
}

impl Component {
    fn new(name: String, target: Target) -> Self {
        let kind = match target {
            Target::Database(_) => ComponentKind::Database,
            Target::Store(_) => ComponentKind::Store,
        };
        Self {
            health: ComponentHealth {
                name: name.clone(),
                kind,
                status: HealthStatus::Up,
                status_since: SystemTime::now(),
                problems: Vec::new(),
                latency: None,
                consecutive_failures: 0,
                outages: 0,
                last_outage: None,
                pool: None,
                breaker: None,
            },
            name,
            target,
            last_timeouts: 0,
            failing_since: None,
        }
    }

    /// Pings and reads the pool, updates the component's health, and returns an alert
    /// if its status changed.
    async fn check(&mut self, config: &HealthConfig) -> Option<HealthAlert> {
        let thresholds = &config.thresholds;
        let started = Instant::now();
        let pinged = match &self.target {
            Target::Database(db) => tokio::time::timeout(config.timeout, db.ping()).await,
            Target::Store(store) => {
                tokio::time::timeout(config.timeout, async { store.ping().await.map(|_| ()) }).await
            }
        };
        let latency = started.elapsed();
        let now = SystemTime::now();
        let mut problems = Vec::new();
        match pinged {
            Ok(Ok(())) => {
                self.health.consecutive_failures = 0;
                self.failing_since = None;
                self.health.latency = Some(latency);
                if latency > thresholds.slow_ping {
                    problems.push(Problem::SlowPing {
                        latency,
                        threshold: thresholds.slow_ping,
                    });
                }
            }
            failed => {
                let error = match failed {
                    Ok(Err(err)) => err.to_string(),
                    _ => format!(
                        "no answer within {}",
                        humantime::format_duration(config.timeout)
                    ),
                };
                self.health.consecutive_failures =
                    self.health.consecutive_failures.saturating_add(1);
                self.failing_since.get_or_insert(now);
                self.health.latency = None;
                problems.push(Problem::PingFailed { error });
            }
        }
        self.health.breaker = match &self.target {
            Target::Database(db) => db.breaker_state(),
            Target::Store(store) => store.breaker_state(),
        };
        if let Target::Database(db) = &self.target {
            let stats = db.stats();
            let usage = f64::from(stats.in_use) / f64::from(stats.max_size.max(1));
            if usage >= thresholds.pool_usage {
                problems.push(Problem::PoolSaturated {
                    in_use: stats.in_use,
                    max: stats.max_size,
                });
            }
            if thresholds.pending_acquires > 0
                && stats.pending_acquires >= thresholds.pending_acquires
            {
                problems.push(Problem::AcquireWaiters {
                    pending: stats.pending_acquires,
                });
            }
            let new_timeouts = stats.acquire_timeouts.saturating_sub(self.last_timeouts);
            self.last_timeouts = stats.acquire_timeouts;
            if new_timeouts > 0 {
                problems.push(Problem::AcquireTimeouts {
                    since_last_check: new_timeouts,
                });
            }
            self.health.pool = Some(stats);
        }

        let status = if self.health.consecutive_failures >= thresholds.failures_before_down.max(1) {
            HealthStatus::Down
        } else if problems.is_empty() {
            HealthStatus::Up
        } else {
            HealthStatus::Degraded
        };
        self.track_outage(status, now);
        metrics::gauge!("txova_db_health_status", "component" => self.name.clone())
            .set(f64::from(status.level()));
        if let Some(latency) = self.health.latency {
            metrics::histogram!("txova_db_health_ping_seconds", "component" => self.name.clone())
                .record(latency.as_secs_f64());
        }

        let from = self.health.status;
        self.health.problems = problems;
        if status == from {
            return None;
        }
        self.health.status = status;
        self.health.status_since = now;
        Some(HealthAlert {
            component: self.name.clone(),
            from,
            to: status,
            problems: self.health.problems.clone(),
            at: now,
        })
    }

    fn track_outage(&mut self, status: HealthStatus, now: SystemTime) {
        let down = status == HealthStatus::Down;
        let ongoing = self
            .health
            .last_outage
            .as_mut()
            .filter(|outage| outage.ended.is_none());
        match (down, ongoing) {
            (true, Some(outage)) => outage.failed_checks = outage.failed_checks.saturating_add(1),
            (true, None) => {
                self.health.outages = self.health.outages.saturating_add(1);
                self.health.last_outage = Some(Outage {
                    started: self.failing_since.unwrap_or(now),
                    ended: None,
                    failed_checks: self.health.consecutive_failures,
                });
            }
            (false, Some(outage)) => outage.ended = Some(now),
            (false, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_component_goes_down_after_repeated_failures_and_the_outage_is_kept() {
        let db = Db::connect("sqlite::memory:").await.expect("connect");
        let mut component = Component::new("db".into(), Target::Database(db.clone()));
        let config = HealthConfig::default();
        assert_eq!(component.check(&config).await, None, "up stays up");

        db.close().await;
        let first = component.check(&config).await.expect("degraded");
        assert_eq!(
            (first.from, first.to),
            (HealthStatus::Up, HealthStatus::Degraded)
        );
        assert!(
            matches!(first.problems[0], Problem::PingFailed { .. }),
            "{first:?}"
        );
        let second = component.check(&config).await.expect("down");
        assert_eq!(second.to, HealthStatus::Down);
        assert_eq!(component.check(&config).await, None, "still down");
        let outage = component.health.last_outage.clone().expect("outage");
        assert_eq!((outage.failed_checks, outage.ended), (3, None));
        assert_eq!(component.health.outages, 1);
    }

    #[test]
    fn outages_end_when_the_component_answers() {
        let mut component = Component::new("cache".into(), Target::Store(Store::embedded()));
        let t0 = SystemTime::now();
        component.health.consecutive_failures = 2;
        component.failing_since = Some(t0 - Duration::from_secs(1));
        component.track_outage(HealthStatus::Down, t0);
        component.track_outage(HealthStatus::Down, t0 + Duration::from_secs(1));
        component.track_outage(HealthStatus::Up, t0 + Duration::from_secs(2));
        let outage = component.health.last_outage.clone().expect("outage");
        assert_eq!(outage.failed_checks, 3);
        assert_eq!(outage.ended, Some(t0 + Duration::from_secs(2)));
        assert_eq!(
            outage.duration(),
            Duration::from_secs(3),
            "from the first failure"
        );
        component.track_outage(HealthStatus::Down, t0 + Duration::from_secs(3));
        assert_eq!(component.health.outages, 2);
    }
}
