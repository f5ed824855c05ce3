//! [`RedisClient`]: one type over a standalone server, a Redis Cluster and a
//! Sentinel-managed primary, with reconnection, command timeouts and scripts run by
//! hash.

mod cluster;
mod config;
mod sentinel;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisError, RedisFuture, ScriptInvocation, Value};

pub use config::RedisConfig;
pub(crate) use config::{Topology, redact};

use crate::error::{Error, ErrorKind};
use crate::resilience::{BreakerState, ProbedBreaker};
use sentinel::SentinelPrimary;

/// A connection to Redis, cheap to clone and shared by its clones.
///
/// Commands are multiplexed over one connection per server; a broken connection is
/// re-established (with backoff up to [`RedisConfig::max_reconnect_delay`]). Every
/// command is bounded by [`RedisConfig::command_timeout`]. After a few commands in a row
/// found no server, a circuit breaker ([`RedisConfig::breaker`], on by default) fails
/// every command at once with [`ErrorKind::CircuitOpen`] while a background `PING`
/// watches for the server's return, so an outage costs callers microseconds, not a
/// timeout each. On a cluster, commands go to the node owning their
/// key's slot, following `MOVED`/`ASK`; behind Sentinel, a failover is noticed on the
/// next failing command and the new primary asked for.
///
/// ```no_run
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::store::RedisClient;
///
/// use txova_db::redis;
///
/// let client = RedisClient::connect("redis://127.0.0.1:6379").await?;
/// client.query::<()>(redis::cmd("SET").arg("greeting").arg("hello")).await?;
/// let value: Option<String> = client.query(redis::cmd("GET").arg("greeting")).await?;
/// assert_eq!(value.as_deref(), Some("hello"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisClient {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Connection,
    /// The URL without its password, for errors and logs.
    target: String,
    command_timeout: Duration,
    /// Fails commands at once while Redis is known to be down.
    breaker: Option<ProbedBreaker>,
}

enum Connection {
    Standalone(ConnectionManager),
    Cluster(ClusterConnection),
    /// Boxed: the sentinel client is large, and one `Connection` lives per client.
    Sentinel(Box<SentinelPrimary>),
}

/// One connection handle for one command: what `redis` crate APIs (scripts, pipelines,
/// typed commands) are run against.
#[derive(Clone)]
enum Handle {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Handle {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

impl fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClient")
            .field("target", &self.inner.target)
            .field("command_timeout", &self.inner.command_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisClient {
    /// Connects with the default settings; see [`RedisConfig`] for the URL forms.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(RedisConfig::new(url)).await
    }

    /// Connects with `config`, retrying failed or timed-out connects as `backoff` says
    /// (an invalid URL is not retried). Dropping the future stops the retries.
    pub async fn connect_with_retry(
        config: RedisConfig,
        backoff: &crate::resilience::Backoff,
    ) -> Result<Self, Error> {
        backoff
            .retry(
                |err| matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout),
                || Self::connect_with(config.clone()),
            )
            .await
    }

    /// Connects with `config`: the first connection must succeed within
    /// `connect_timeout`; later outages are survived by reconnecting.
    pub async fn connect_with(config: RedisConfig) -> Result<Self, Error> {
        let target = redact(&config.url);
        let topology = config.topology()?;
        let connect = async {
            match topology {
                Topology::Standalone { url } => {
                    let client = redis::Client::open(url.as_str())?;
                    let manager =
                        ConnectionManager::new_with_config(client, manager_config(&config)).await?;
                    Ok(Connection::Standalone(manager))
                }
                Topology::Cluster { nodes } => {
                    let client = redis::cluster::ClusterClientBuilder::new(nodes)
                        .connection_timeout(config.connect_timeout)
                        .response_timeout(config.command_timeout)
                        .build()?;
                    Ok(Connection::Cluster(client.get_async_connection().await?))
                }
                Topology::Sentinel {
                    sentinels,
                    service,
                    db,
                    username,
                    password,
                } => {
                    let primary = SentinelPrimary::connect(
                        sentinels,
                        service,
                        db,
                        username,
                        password,
                        manager_config(&config),
                    )
                    .await?;
                    Ok(Connection::Sentinel(Box::new(primary)))
                }
            }
        };
        let connection = match tokio::time::timeout(config.connect_timeout, connect).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(err)) => return Err(store_error(&target, err)),
            Err(_) => {
                return Err(Error::Store {
                    kind: ErrorKind::Connection,
                    source: Box::new(Elapsed {
                        what: "connection",
                        after: config.connect_timeout,
                    }),
                    target,
                });
            }
        };
        tracing::debug!(target: "txova_db::redis", %target, "connected to Redis");
        Ok(Self {
            inner: Arc::new(Inner {
                connection,
                breaker: ProbedBreaker::new(format!("redis {target}"), &config.breaker),
                target,
                command_timeout: config.command_timeout,
            }),
        })
    }

    /// Runs one command and converts its reply.
    ///
    /// ```no_run
    /// # async fn demo(client: txova_db::store::RedisClient) -> txova_db::Result<()> {
    /// use txova_db::redis;
    ///
    /// let hits: i64 = client.query(redis::cmd("INCR").arg("page:hits")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, Error> {
        self.run(|mut handle| async move { cmd.query_async(&mut handle).await })
            .await
    }

    /// Runs a pipeline (every command of it on one node: on a cluster, their keys must
    /// share a slot, e.g. through a `{hash tag}`).
    pub async fn query_pipeline<T: FromRedisValue>(&self, pipeline: &Pipeline) -> Result<T, Error> {
        self.run(|mut handle| async move { pipeline.query_async(&mut handle).await })
            .await
    }

    /// Runs a Lua script by its SHA1 (`EVALSHA`), loading it on `NOSCRIPT` and running
    /// it again: the script travels once per server, not with every call.
    pub async fn invoke_script<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, Error> {
        self.run(|mut handle| async move { invocation.invoke_async(&mut handle).await })
            .await
    }

    /// Round-trip time of a `PING` (on a cluster: to every primary).
    pub async fn ping(&self) -> Result<Duration, Error> {
        let started = Instant::now();
        match &self.inner.connection {
            Connection::Cluster(_) => {
                for (host, port) in self.cluster_primaries().await? {
                    self.query_node::<String>(redis::cmd("PING"), &host, port)
                        .await?;
                }
            }
            _ => {
                self.query::<String>(&redis::cmd("PING")).await?;
            }
        }
        Ok(started.elapsed())
    }

    /// Whether this client talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.inner.connection, Connection::Cluster(_))
    }

    /// The server or topology, without credentials.
    pub fn target(&self) -> &str {
        &self.inner.target
    }

    /// The state of the client's circuit breaker; `None` when
    /// [`RedisConfig::breaker`] disabled it.
    pub fn breaker_state(&self) -> Option<BreakerState> {
        self.inner.breaker.as_ref().map(ProbedBreaker::state)
    }

    /// Runs `call` (one command, already bounded by the command timeout) through the
    /// circuit breaker, which starts a background `PING` when it opens.
    pub(crate) async fn guarded<T>(
        &self,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        match &self.inner.breaker {
            None => call.await,
            Some(breaker) => breaker.call(call, || self.prober()).await,
        }
    }

    /// The breaker's probe: a `PING` past the breaker, for as long as the client lives.
    fn prober(&self) -> impl FnMut() -> Option<BoxedCheck> + Send + 'static {
        let inner = Arc::downgrade(&self.inner);
        move || {
            let client = RedisClient {
                inner: inner.upgrade()?,
            };
            Some(Box::pin(async move {
                client
                    .run_unguarded(|mut handle| async move {
                        redis::cmd("PING").query_async::<String>(&mut handle).await
                    })
                    .await
                    .map(drop)
            }))
        }
    }

    /// Runs `op` on the current connection within the command timeout, through the
    /// circuit breaker; behind Sentinel, a failure that means "this is no longer the
    /// primary" re-resolves the primary and runs `op` once more.
    pub(crate) async fn run<'a, T, F, Fut>(&'a self, op: F) -> Result<T, Error>
    where
        F: Fn(HandleRef) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>> + 'a,
    {
        self.guarded(self.run_unguarded(op)).await
    }

    /// [`run`](Self::run) past the circuit breaker.
    async fn run_unguarded<'a, T, F, Fut>(&'a self, op: F) -> Result<T, Error>
    where
        F: Fn(HandleRef) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>> + 'a,
    {
        let first = match &self.inner.connection {
            Connection::Standalone(conn) => Handle::Single(conn.clone()),
            Connection::Cluster(conn) => Handle::Cluster(conn.clone()),
            Connection::Sentinel(primary) => Handle::Single(primary.current()),
        };
        match self.timed(op(HandleRef(first))).await {
            Err(Failure::Redis(err)) => {
                if let Connection::Sentinel(primary) = &self.inner.connection
                    && sentinel::means_failover(&err)
                {
                    let refreshed = primary
                        .refresh()
                        .await
                        .map_err(|e| store_error(&self.inner.target, e))?;
                    return self
                        .timed(op(HandleRef(Handle::Single(refreshed))))
                        .await
                        .map_err(|f| self.failure(f));
                }
                Err(self.failure(Failure::Redis(err)))
            }
            other => other.map_err(|f| self.failure(f)),
        }
    }

    async fn timed<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.inner.command_timeout, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(Failure::Redis(err)),
            Err(_) => Err(Failure::Timeout),
        }
    }

    /// [`timed`](Self::timed), with the failure as an [`Error`].
    async fn bounded<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Error> {
        self.timed(fut).await.map_err(|f| self.failure(f))
    }

    fn failure(&self, failure: Failure) -> Error {
        match failure {
            Failure::Redis(err) => store_error(&self.inner.target, err),
            Failure::Timeout => Error::Store {
                kind: ErrorKind::Timeout,
                target: self.inner.target.clone(),
                source: Box::new(Elapsed {
                    what: "reply",
                    after: self.inner.command_timeout,
                }),
            },
        }
    }
}

/// A connection handle lent to one command (see [`RedisClient::run`]).
pub(crate) struct HandleRef(Handle);

impl ConnectionLike for HandleRef {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.0.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.0.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}

/// One probe of the breaker: boxed, since the probe task outlives every borrow.
type BoxedCheck = std::pin::Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// A wait that ran out.
#[derive(Debug, thiserror::Error)]
#[error("no {what} within {after:?}")]
struct Elapsed {
    what: &'static str,
    after: Duration,
}

enum Failure {
    Redis(RedisError),
    Timeout,
}

fn manager_config(config: &RedisConfig) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(Some(config.command_timeout))
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(config.max_reconnect_delay)
        .set_number_of_retries(3)
}

/// Classifies a redis-rs error: no reply or a broken link is `Connection`, a late
/// reply `Timeout`, an error reply from the server `Cache`.
pub(crate) fn store_error(target: &str, err: RedisError) -> Error {
    let kind = if err.is_timeout() {
        ErrorKind::Timeout
    } else if err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.is_unrecoverable_error()
    {
        ErrorKind::Connection
    } else {
        ErrorKind::Cache
    };
    Error::Store {
        kind,
        target: target.to_owned(),
        source: Box::new(err),
    }
}
