//! The primary behind Redis Sentinel, followed across failovers.

use std::sync::{Arc, RwLock};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{RedisConnectionInfo, RedisError, RedisResult};
use tokio::sync::Mutex as AsyncMutex;

/// The current primary's connection, and the sentinels to ask when it stops being one.
pub(super) struct SentinelPrimary {
    sentinels: AsyncMutex<SentinelClient>,
    current: RwLock<Arc<Generation>>,
    config: ConnectionManagerConfig,
}

struct Generation {
    connection: ConnectionManager,
    number: u64,
}

impl SentinelPrimary {
    pub(super) async fn connect(
        sentinels: Vec<String>,
        service: String,
        db: i64,
        username: Option<String>,
        password: Option<String>,
        config: ConnectionManagerConfig,
    ) -> RedisResult<Self> {
        let mut info = RedisConnectionInfo::default().set_db(db);
        if let Some(username) = username {
            info = info.set_username(username);
        }
        if let Some(password) = password {
            info = info.set_password(password);
        }
        let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(info);
        let mut client =
            SentinelClient::build(sentinels, service, Some(node), SentinelServerType::Master)?;
        let connection =
            ConnectionManager::new_with_config(client.async_get_client().await?, config.clone())
                .await?;
        Ok(Self {
            sentinels: AsyncMutex::new(client),
            current: RwLock::new(Arc::new(Generation {
                connection,
                number: 0,
            })),
            config,
        })
    }

    fn generation(&self) -> Arc<Generation> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(super) fn current(&self) -> ConnectionManager {
        self.generation().connection.clone()
    }

    /// Asks the sentinels for the primary and connects to it, unless another task did
    /// so while this one waited: one failover, one re-resolution.
    pub(super) async fn refresh(&self) -> RedisResult<ConnectionManager> {
        let seen = self.generation().number;
        let mut sentinels = self.sentinels.lock().await;
        let latest = self.generation();
        if latest.number != seen {
            return Ok(latest.connection.clone());
        }
        let client = sentinels.async_get_client().await?;
        let connection = ConnectionManager::new_with_config(client, self.config.clone()).await?;
        tracing::warn!(
            target: "txova_db::redis",
            generation = seen + 1,
            "Redis primary changed (Sentinel failover); reconnected to the new primary"
        );
        let next = Arc::new(Generation {
            connection: connection.clone(),
            number: seen + 1,
        });
        match self.current.write() {
            Ok(mut current) => *current = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(connection)
    }
}

/// Whether `err` says the connection no longer reaches a writable primary: the link
/// broke, or the server was demoted to a replica (`READONLY`) or lost its primary.
pub(super) fn means_failover(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.is_unrecoverable_error()
        || matches!(err.code(), Some("READONLY" | "MASTERDOWN" | "LOADING"))
}

#[cfg(test)]
mod tests {
    use redis::aio::ConnectionManagerConfig;

    use super::SentinelPrimary;

    /// Connections the Redis server at `port` has accepted, the asking one included.
    fn accepted(port: u16) -> u64 {
        let info = txova_db_test_support::redis_cli(port, &["INFO", "stats"]).expect("INFO");
        info.lines()
            .find_map(|line| line.strip_prefix("total_connections_received:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("total_connections_received")
    }

    /// Tasks that meet one failover together re-resolve it once, connecting to the
    /// primary as one refresh does: those that waited for the first take its
    /// connection.
    #[tokio::test]
    async fn concurrent_refreshes_resolve_one_failover_once() {
        let Some(sentinel) =
            txova_db_test_support::redis_sentinel("concurrent_refreshes_resolve_once")
        else {
            return;
        };
        let primary = SentinelPrimary::connect(
            vec![format!("redis://127.0.0.1:{}", sentinel.sentinel_port)],
            sentinel.service.clone(),
            0,
            None,
            None,
            ConnectionManagerConfig::new(),
        )
        .await
        .expect("connect through the sentinel");
        let port = sentinel.primary_port().expect("the primary's port");
        // What one re-resolution costs the primary in connections (the asking
        // `redis-cli` is one of each difference).
        let before = accepted(port);
        primary.refresh().await.expect("one refresh");
        let one = accepted(port) - before - 1;
        assert!(one >= 1, "a refresh connects to the primary");
        assert_eq!(primary.generation().number, 1);

        let before = accepted(port);
        let refreshed = tokio::join!(primary.refresh(), primary.refresh(), primary.refresh());
        for connection in [refreshed.0, refreshed.1, refreshed.2] {
            let mut connection = connection.expect("refresh");
            let pong: String = redis::cmd("PING")
                .query_async(&mut connection)
                .await
                .expect("ping the primary");
            assert_eq!(pong, "PONG");
        }
        assert_eq!(
            accepted(port) - before - 1,
            one,
            "three refreshes, one resolution"
        );
        assert_eq!(primary.generation().number, 2);
    }
}
