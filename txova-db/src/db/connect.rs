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
use std::sync::Arc;

use sqlx::ConnectOptions as _;

use super::driver::{Driver, Endpoint, SessionLimits};
use super::pool::{ConnPool, Live, Settings};
use super::stats::PoolCounters;
use super::{Db, Inner, Peer, Pool};
use crate::backend::{Wrap, for_backend};
use crate::config::DbConfig;
use crate::error::{ConfigError, Error};
use crate::executor::ServerTraits;

pub(super) async fn connect(config: DbConfig) -> Result<Db, Error> {
    validate(&config)?;
    let backend = config.url.backend()?;
    for_backend!(backend, |E| open::<E>(config).await, else Err(ConfigError::UnsupportedScheme {
        scheme: backend.to_string(),
        expected: "a backend enabled by a cargo feature of txova-db",
    }
    .into()))
}

/// Opens the pool of engine `D`: its first connection under the connect timeout, so
/// that connecting fails here with the reason, then the pool around it.
async fn open<D>(mut config: DbConfig) -> Result<Db, Error>
where
    D: Driver + Wrap<Pool, ConnPool<D>>,
{
    let Endpoint {
        options,
        target,
        peer,
    } = D::endpoint(&mut config)?;
    let (first, server) = probe::<D>(&config, &target, options.connect()).await?;
    Ok(finish(config, target, peer, options, first, server))
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
fn finish<D>(
    config: DbConfig,
    target: String,
    peer: Peer,
    options: super::pool::Options<D>,
    first: Live<D>,
    server: ServerTraits,
) -> Db
where
    D: Driver + Wrap<Pool, ConnPool<D>>,
{
    let counters = Arc::new(PoolCounters::default());
    let settings = Settings {
        max_connections: config.max_connections,
        min_connections: config.min_connections,
        max_lifetime: config.max_lifetime,
        idle_timeout: config.idle_timeout,
        acquire_timeout: config.acquire_timeout,
        connect_timeout: config.connect_timeout,
        test_after_idle: config.test_before_acquire.then_some(config.test_after_idle),
        session: SessionLimits::of(&config),
    };
    let pool = ConnPool::new(options, settings, Arc::clone(&counters), Some(first));
    let mut inner = Inner::new(D::wrap(pool), config, target, peer, counters);
    inner.server = server;
    Db::from_parts(inner)
}

/// A driver's rejection of the URL text, with any password scrubbed from its message.
pub(super) fn malformed(config: &DbConfig, err: &sqlx::Error) -> Error {
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
/// fails, and asks it what the server can do; it becomes the pool's first idle
/// connection.
async fn probe<D: Driver>(
    config: &DbConfig,
    target: &str,
    connecting: impl Future<Output = Result<D::Connection, sqlx::Error>>,
) -> Result<(Live<D>, ServerTraits), Error> {
    let limits = SessionLimits::of(config);
    let opening = async {
        let mut live = Live::identify(connecting.await?, &limits).await?;
        let server = D::server_traits(live.connection()).await?;
        Ok((live, server))
    };
    match tokio::time::timeout(config.connect_timeout, opening).await {
        Err(_) => Err(Error::ConnectTimeout {
            target: target.to_owned(),
            after: config.connect_timeout,
        }),
        Ok(Err(err)) => Err(Error::from_sqlx(err, target, config.acquire_timeout)),
        Ok(Ok(conn)) => Ok(conn),
    }
}
