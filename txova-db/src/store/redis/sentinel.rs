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
