//! Turning a [`DbConfig`] into a connected sqlx pool, per backend.
//!
//! The first connection is opened directly, under `connect_timeout`, so that its error
//! (refused, bad password, unknown database, …) reaches the caller as it is; it then
//! becomes the pool's first idle connection, and the pool opens the others as needed.
//!
//! sqlx's own statement logging (every statement at DEBUG, slow ones at WARN, target
//! `sqlx::query`, literals and all) is switched off on every connection: txova-db's
//! span and slow-query warning replace it, with literals redacted.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
#[cfg(feature = "postgres")]
use std::time::Duration;

use sqlx::{ConnectOptions, Connection};

use super::pool::{ConnPool, Live, Settings};
use super::stats::PoolCounters;
use super::{Db, Inner, Peer, Pool};
use crate::config::DbConfig;
use crate::error::{Backend, ConfigError, Error};

pub(super) async fn connect(config: DbConfig) -> Result<Db, Error> {
    validate(&config)?;
    let backend = config.url.backend()?;
    match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => postgres(config).await,
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => sqlite(config).await,
        #[cfg(feature = "mysql")]
        Backend::MySql => mysql(config).await,
        #[allow(unreachable_patterns)]
        other => Err(ConfigError::UnsupportedScheme {
            scheme: other.to_string(),
            expected: "a backend enabled by a cargo feature of txova-db",
        }
        .into()),
    }
}

fn validate(config: &DbConfig) -> Result<(), ConfigError> {
    if config.max_connections == 0 {
        return Err(ConfigError::InvalidValue {
            key: "max_connections".into(),
            reason: "must be at least 1".into(),
        });
    }
    if config.min_connections > config.max_connections {
        return Err(ConfigError::InvalidValue {
            key: "min_connections".into(),
            reason: format!(
                "{} is more than max_connections ({})",
                config.min_connections, config.max_connections
            ),
        });
    }
    Ok(())
}

/// Builds the pool, starting with the connection `probe` opened, and the `Db` around it.
fn finish<D: super::driver::Driver>(
    config: DbConfig,
    target: String,
    peer: Peer,
    options: <D::Connection as Connection>::Options,
    first: Live<D>,
    wrap: fn(ConnPool<D>) -> Pool,
) -> Db {
    let counters = Arc::new(PoolCounters::default());
    let settings = Settings {
        max_connections: config.max_connections,
        min_connections: config.min_connections,
        max_lifetime: config.max_lifetime,
        idle_timeout: config.idle_timeout,
        acquire_timeout: config.acquire_timeout,
        connect_timeout: config.connect_timeout,
        test_after_idle: config.test_before_acquire.then_some(config.test_after_idle),
    };
    let pool = ConnPool::new(options, settings, Arc::clone(&counters), Some(first));
    Db::from_parts(Inner::new(wrap(pool), config, target, peer, counters))
}

/// A driver's rejection of the URL text, with any password scrubbed from its message.
fn malformed(config: &DbConfig, err: &sqlx::Error) -> Error {
    let reason = match err {
        sqlx::Error::Configuration(cause) => cause.to_string(),
        other => other.to_string(),
    };
    ConfigError::MalformedUrl {
        reason: config.url.scrub(&reason),
    }
    .into()
}

/// Opens the first connection under the connect timeout, to report exactly why it
/// fails; it becomes the pool's first idle connection.
async fn probe<D: super::driver::Driver>(
    config: &DbConfig,
    target: &str,
    connecting: impl Future<Output = Result<D::Connection, sqlx::Error>>,
) -> Result<Live<D>, Error> {
    let opening = async { Live::identify(connecting.await?).await };
    match tokio::time::timeout(config.connect_timeout, opening).await {
        Err(_) => Err(Error::ConnectTimeout {
            target: target.to_owned(),
            after: config.connect_timeout,
        }),
        Ok(Err(err)) => Err(Error::from_sqlx(err, target, config.acquire_timeout)),
        Ok(Ok(conn)) => Ok(conn),
    }
}

#[cfg(feature = "postgres")]
fn millis(duration: Duration) -> String {
    duration.as_millis().max(1).to_string()
}

#[cfg(feature = "postgres")]
async fn postgres(config: DbConfig) -> Result<Db, Error> {
    let mut options = sqlx::postgres::PgConnectOptions::from_str(config.url.expose())
        .map_err(|e| malformed(&config, &e))?
        .disable_statement_logging();
    if let Some(name) = &config.application_name {
        options = options.application_name(name);
    }
    if let Some(timeout) = config.statement_timeout {
        options = options.options([("statement_timeout", millis(timeout))]);
    }
    if let Some(timeout) = config.lock_timeout {
        options = options.options([("lock_timeout", millis(timeout))]);
    }
    let target = format!("{}:{}", options.get_host(), options.get_port());
    let peer = Peer {
        address: Some(options.get_host().to_owned()),
        port: Some(options.get_port()),
        namespace: options.get_database().map(str::to_owned),
    };
    let first = probe::<sqlx::Postgres>(&config, &target, options.connect()).await?;
    Ok(finish(config, target, peer, options, first, Pool::Postgres))
}

#[cfg(feature = "sqlite")]
async fn sqlite(mut config: DbConfig) -> Result<Db, Error> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};

    let url = config.url.expose();
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    if path.is_empty() || path.starts_with('?') {
        return Err(ConfigError::MalformedUrl {
            reason:
                "the sqlite URL names no file (write sqlite::memory: for an in-memory database)"
                    .into(),
        }
        .into());
    }
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let mut options = SqliteConnectOptions::from_str(url)
        .map_err(|e| malformed(&config, &e))?
        .create_if_missing(true)
        .disable_statement_logging();
    if in_memory {
        // An in-memory database lives only while one of its connections is open.
        config.min_connections = config.min_connections.max(1);
        config.idle_timeout = None;
        config.max_lifetime = None;
    } else {
        options = options.journal_mode(SqliteJournalMode::Wal);
    }
    if let Some(timeout) = config.lock_timeout {
        options = options.busy_timeout(timeout);
    }
    if config.statement_timeout.is_some() {
        tracing::warn!("statement_timeout is not supported by SQLite and is ignored");
    }
    let target = options.get_filename().display().to_string();
    let peer = Peer {
        namespace: Some(target.clone()),
        ..Peer::default()
    };
    let first = probe::<sqlx::Sqlite>(&config, &target, options.connect()).await?;
    Ok(finish(config, target, peer, options, first, Pool::Sqlite))
}

#[cfg(feature = "mysql")]
async fn mysql(config: DbConfig) -> Result<Db, Error> {
    let url = config.url.expose();
    // sqlx knows only the mysql:// scheme; MariaDB speaks the same protocol.
    let url = match url.strip_prefix("mariadb:") {
        Some(rest) => format!("mysql:{rest}"),
        None => url.to_owned(),
    };
    let options = sqlx::mysql::MySqlConnectOptions::from_str(&url)
        .map_err(|e| malformed(&config, &e))?
        .disable_statement_logging();
    if config.statement_timeout.is_some() || config.lock_timeout.is_some() {
        tracing::warn!("statement_timeout and lock_timeout are not applied on MySQL yet");
    }
    let target = format!("{}:{}", options.get_host(), options.get_port());
    let peer = Peer {
        address: Some(options.get_host().to_owned()),
        port: Some(options.get_port()),
        namespace: options.get_database().map(str::to_owned),
    };
    let first = probe::<sqlx::MySql>(&config, &target, options.connect()).await?;
    Ok(finish(config, target, peer, options, first, Pool::MySql))
}
