//! Wiring: the database and its migrations, the store, the repositories, the health
//! monitor and the metrics recorder, from the environment.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use txova_db::cache::Cache;
use txova_db::health::{HealthConfig, HealthMonitor, HealthStatus};
use txova_db::lock::Locks;
use txova_db::rate_limit::{RateLimit, RateLimiter};
use txova_db::resilience::Backoff;
use txova_db::session::Sessions;
use txova_db::store::Store;
use txova_db::{Backend, Db, DbConfig};

use crate::model::{Driver, Ride, User};
use crate::repo::{Drivers, Rides, Users};

/// Latency buckets (seconds) for every `*_seconds` histogram: query, pool wait,
/// lock wait and HTTP request durations, from a cached read to a stuck request.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error(transparent)]
    Config(#[from] txova_db::ConfigError),
    #[error(transparent)]
    Db(#[from] txova_db::Error),
    #[error("RIDES_HEALTH_INTERVAL=`{text}`: {source} (write it as `500ms` or `10s`)")]
    HealthInterval {
        text: String,
        source: humantime::DurationError,
    },
    #[error("metrics recorder: {0}")]
    Metrics(#[from] BuildError),
    #[error("the admin account: {0}")]
    Admin(String),
    #[error("the database does not match the models: {0}")]
    Schema(txova_db::TablesReport),
    #[error("cannot create the data directory {}: {source}", dir.display())]
    DataDir {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Everything a request handler can reach; cheap to clone (handles all the way down).
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) db: Db,
    pub(crate) store: Store,
    pub(crate) users: Users,
    pub(crate) drivers: Drivers,
    pub(crate) rides: Rides,
    pub(crate) sessions: Sessions,
    pub(crate) limiter: RateLimiter,
    pub(crate) limits: Arc<Limits>,
    pub(crate) health: Arc<HealthMonitor>,
    pub(crate) metrics: PrometheusHandle,
}

/// The service's rate limits.
pub(crate) struct Limits {
    /// Ride requests per rider: a burst of 3, then one every 20 s.
    pub(crate) ride_requests: RateLimit,
    /// Sign-ins per client address: 10 a minute, against guessing.
    pub(crate) logins: RateLimit,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            ride_requests: RateLimit::token_bucket(3, Duration::from_secs(60)),
            logins: RateLimit::sliding_window(10, Duration::from_secs(60)),
        }
    }
}

/// Installs the process-wide Prometheus recorder that `/metrics` renders. Call it
/// before anything records: what is recorded before it is lost.
pub(crate) fn install_metrics() -> Result<PrometheusHandle, StartError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .install_recorder()?;
    // Help text and units for every series, so `promtool check metrics` passes.
    txova_db::observability::describe_metrics();
    crate::api::describe_metrics();
    // Histograms keep their samples until upkeep folds them into the buckets.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// How often the health monitor checks: `RIDES_HEALTH_INTERVAL` (`500ms`, `10s`), 5 s
/// without it.
fn health_interval() -> Result<Duration, StartError> {
    match std::env::var("RIDES_HEALTH_INTERVAL") {
        Ok(text) => humantime::parse_duration(&text)
            .map_err(|source| StartError::HealthInterval { text, source }),
        Err(_) => Ok(HealthConfig::default().interval),
    }
}

/// Connects to `DATABASE_URL` and `REDIS_URL`, migrates, and starts the health
/// monitor. Without them: a SQLite file and the store kept in `data_dir`, or with no
/// `data_dir` an in-memory SQLite database and the in-process store.
pub(crate) async fn start(
    metrics: PrometheusHandle,
    data_dir: Option<&Path>,
) -> Result<AppState, StartError> {
    if let Some(dir) = data_dir {
        std::fs::create_dir_all(dir).map_err(|source| StartError::DataDir {
            dir: dir.to_owned(),
            source,
        })?;
    }
    let config = match (DbConfig::from_env(), data_dir) {
        (Ok(config), _) => config,
        (Err(txova_db::ConfigError::Missing { .. }), None) => DbConfig::default(),
        (Err(txova_db::ConfigError::Missing { .. }), Some(dir)) => {
            let file = dir.join("rides.db");
            DbConfig::new(format!("sqlite://{}?mode=rwc", file.display()))
        }
        (Err(other), _) => return Err(other.into()),
    };
    let config = DbConfig {
        application_name: config.application_name.or(Some("rides".into())),
        ..config
    };
    let redis_configured = std::env::var_os("REDIS_URL").is_some_and(|url| !url.is_empty());
    let store = match data_dir {
        Some(dir) if !redis_configured => Store::embedded_at(dir.join("store"))?,
        _ => Store::from_env().await?,
    };
    start_with(config, store, metrics).await
}

/// [`start`] with the database settings and the store given.
pub(crate) async fn start_with(
    config: DbConfig,
    store: Store,
    metrics: PrometheusHandle,
) -> Result<AppState, StartError> {
    // A database still starting (a fresh container, a failover) is retried with backoff.
    let db = Db::connect_with_retry(config, &Backoff::default()).await?;

    // The migrations are compiled into the binary: one directory per dialect.
    let migrator = match db.backend() {
        Backend::Postgres => txova_db::embed_migrations!("../../migrations/postgres")?,
        Backend::MySql => txova_db::embed_migrations!("../../migrations/mysql")?,
        _ => txova_db::embed_migrations!("../../migrations/sqlite")?,
    };
    for step in migrator.up(&db).await? {
        tracing::info!(version = step.version, description = %step.description, "migrated");
    }
    // The models were checked against the migrations when this binary was built; this
    // checks the database they ran on (a hand edit, a change applied out of band).
    let report = db.verify_tables::<(User, Driver, Ride)>().await?;
    if !report.is_ok() {
        return Err(StartError::Schema(report));
    }

    let cache = Cache::new(store.clone());
    let health = HealthMonitor::builder()
        .database("database", db.clone())
        .store("store", store.clone())
        .config(HealthConfig {
            interval: health_interval()?,
            ..HealthConfig::default()
        })
        .on_alert(|alert| {
            if alert.to == HealthStatus::Up {
                tracing::info!(component = %alert.component, "healthy again");
            } else {
                tracing::warn!(component = %alert.component, status = ?alert.to, "unhealthy");
            }
        })
        .start();
    health.check_now().await;

    let users = Users::new(db.clone(), cache.clone());
    match (
        std::env::var("RIDES_ADMIN_EMAIL"),
        std::env::var("RIDES_ADMIN_PASSWORD"),
    ) {
        (Ok(email), Ok(password)) => seed_admin(&users, &email, &password).await?,
        (Err(_), Err(_)) => {}
        _ => {
            return Err(StartError::Admin(
                "set both RIDES_ADMIN_EMAIL and RIDES_ADMIN_PASSWORD, or neither".into(),
            ));
        }
    }

    Ok(AppState {
        users,
        drivers: Drivers::new(db.clone()),
        rides: Rides::new(db.clone(), cache, Locks::new(store.clone())),
        sessions: Sessions::new(store.clone()),
        limiter: RateLimiter::new(store.clone()),
        limits: Arc::new(Limits::default()),
        health: Arc::new(health),
        metrics,
        db,
        store,
    })
}

/// Makes `email` an admin account with `password` (created if need be): who may
/// manage drivers and read `/health/details`.
pub(crate) async fn seed_admin(
    users: &Users,
    email: &str,
    password: &str,
) -> Result<(), StartError> {
    if password.chars().count() < crate::model::limits::PASSWORD_MIN {
        return Err(StartError::Admin(format!(
            "RIDES_ADMIN_PASSWORD needs at least {} characters",
            crate::model::limits::PASSWORD_MIN
        )));
    }
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || crate::password::hash(&password))
        .await
        .map_err(|err| StartError::Admin(err.to_string()))?
        .map_err(|err| StartError::Admin(err.to_string()))?;
    users.ensure_admin(email, &hash).await?;
    Ok(())
}
