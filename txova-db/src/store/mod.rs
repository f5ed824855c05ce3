//! Where the Redis patterns keep their data: [`Store`], either a Redis deployment
//! ([`RedisClient`]) or the in-process [`EmbeddedStore`].
//!
//! `Store` is a cheap handle with one enum inside rather than a trait object: each
//! pattern (cache, locks, rate limits, sessions) is written once per
//! backend — a Lua script or a cluster-aware command on Redis, a few lines under a
//! mutex in-process — and picks its branch with one `match`, with no boxed future per
//! call.

#[cfg(feature = "persistent-store")]
mod disk;
mod embedded;
mod glob;
mod kv;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;
#[cfg(feature = "redis")]
use std::future::Future;
use std::time::Duration;

pub use embedded::{Durability, EmbeddedStore};
pub(crate) use embedded::{Slot, Value};
pub use kv::{Batch, Kv};

#[cfg(feature = "redis")]
pub use self::redis::{RedisClient, RedisConfig};

/// Without the `persistent-store` feature no store is kept on disk: `Disk` has no
/// values, so every `Option<Disk>` is `None`.
#[cfg(not(feature = "persistent-store"))]
mod disk {
    use super::embedded::{Durability, KeyState};
    use crate::error::Error;

    pub(super) enum Disk {}

    impl Disk {
        pub(super) fn durability(&self) -> Durability {
            match *self {}
        }

        pub(super) fn describe(&self) -> &str {
            match *self {}
        }

        pub(super) fn write(&self, _: &[KeyState<'_>]) -> Result<(), Error> {
            match *self {}
        }
    }
}

use crate::error::Error;
use crate::resilience::BreakerState;

/// Keys per `SCAN` page and per `UNLINK` batch in [`Store::delete_pattern`].
#[cfg(feature = "redis")]
const SCAN_BATCH: usize = 500;

/// A key-value store: Redis, or the embedded in-process store.
///
/// [`Store::from_env`] picks Redis when `REDIS_URL` is set and the embedded store
/// otherwise, so a service runs with no server and moves to Redis by configuration.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::store::Store;
///
/// let store = Store::embedded();
/// assert_eq!(store.describe(), "embedded");
/// store.ping().await?;
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

/// The store's backend, for the patterns (cache, locks, rate limits, sessions) that
/// write one branch per backend.
#[derive(Clone)]
pub(crate) enum Backend {
    Embedded(EmbeddedStore),
    #[cfg(feature = "redis")]
    Redis(RedisClient),
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Store").field(&self.describe()).finish()
    }
}

impl From<EmbeddedStore> for Store {
    fn from(store: EmbeddedStore) -> Self {
        Self {
            backend: Backend::Embedded(store),
        }
    }
}

#[cfg(feature = "redis")]
impl From<RedisClient> for Store {
    fn from(client: RedisClient) -> Self {
        Self {
            backend: Backend::Redis(client),
        }
    }
}

impl Store {
    /// A new, empty in-process store.
    pub fn embedded() -> Self {
        EmbeddedStore::new().into()
    }

    /// Redis at `url` (see [`RedisConfig`] for standalone, cluster and sentinel URLs).
    #[cfg(feature = "redis")]
    pub async fn redis(url: &str) -> Result<Self, Error> {
        Ok(RedisClient::connect(url).await?.into())
    }

    /// The embedded store kept in the directory `path`, with [`Durability::Buffered`]:
    /// see [`EmbeddedStore::open`].
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// use txova_db::store::Store;
    ///
    /// let dir = std::env::temp_dir().join(format!("txova-embedded-at-doc-{}", std::process::id()));
    /// let store = Store::embedded_at(&dir)?;
    /// assert_eq!(store.describe(), format!("embedded at {}", dir.display()));
    /// # drop(store);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    #[cfg(feature = "persistent-store")]
    pub fn embedded_at(path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        Ok(EmbeddedStore::open(path)?.into())
    }

    /// From the environment: Redis when `REDIS_URL` is set (the `redis` feature);
    /// else the embedded store kept in the directory `TXOVA_STORE_PATH` when that is
    /// set (the `persistent-store` feature), with the durability `TXOVA_STORE_DURABILITY`
    /// names (`buffered`, the default, or `synced`); else the embedded store in memory.
    /// A `TXOVA_STORE_PATH` this build cannot honour is an [`Error::Config`], not a
    /// store that silently forgets.
    pub async fn from_env() -> Result<Self, Error> {
        #[cfg(feature = "redis")]
        if let Some(config) = RedisConfig::from_env() {
            return Ok(RedisClient::connect_with(config).await?.into());
        }
        match std::env::var_os("TXOVA_STORE_PATH").filter(|path| !path.is_empty()) {
            #[cfg(feature = "persistent-store")]
            Some(path) => {
                let durability = match std::env::var("TXOVA_STORE_DURABILITY").as_deref() {
                    Err(_) | Ok("" | "buffered") => Durability::Buffered,
                    Ok("synced") => Durability::Synced,
                    Ok(other) => {
                        return Err(crate::error::ConfigError::InvalidValue {
                            key: "TXOVA_STORE_DURABILITY".into(),
                            reason: format!("`{other}` is neither `buffered` nor `synced`"),
                        }
                        .into());
                    }
                };
                Ok(EmbeddedStore::open_with(path, durability)?.into())
            }
            #[cfg(not(feature = "persistent-store"))]
            Some(_) => Err(crate::error::ConfigError::InvalidValue {
                key: "TXOVA_STORE_PATH".into(),
                reason: "this build has no persistent store: enable txova-db's \
                         `persistent-store` feature"
                    .into(),
            }
            .into()),
            None => Ok(Self::embedded()),
        }
    }

    /// `"embedded"`, `"embedded at <path>"`, or the Redis URL without its password.
    pub fn describe(&self) -> &str {
        match &self.backend {
            Backend::Embedded(store) => store.describe(),
            #[cfg(feature = "redis")]
            Backend::Redis(client) => client.target(),
        }
    }

    /// The Redis client, when this store is Redis.
    #[cfg(feature = "redis")]
    pub fn as_redis(&self) -> Option<&RedisClient> {
        match &self.backend {
            Backend::Redis(client) => Some(client),
            Backend::Embedded(_) => None,
        }
    }

    /// The embedded store, when this store is one.
    pub fn as_embedded(&self) -> Option<&EmbeddedStore> {
        match &self.backend {
            Backend::Embedded(store) => Some(store),
            #[cfg(feature = "redis")]
            Backend::Redis(_) => None,
        }
    }

    /// The state of the store's circuit breaker: `None` for the embedded store (which
    /// cannot be unreachable) and for Redis with [`RedisConfig::breaker`] disabled.
    ///
    /// ```
    /// use txova_db::store::Store;
    ///
    /// assert_eq!(Store::embedded().breaker_state(), None);
    /// ```
    pub fn breaker_state(&self) -> Option<BreakerState> {
        match &self.backend {
            Backend::Embedded(_) => None,
            #[cfg(feature = "redis")]
            Backend::Redis(client) => client.breaker_state(),
        }
    }

    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Checks the store answers; the round-trip time.
    pub async fn ping(&self) -> Result<Duration, Error> {
        match &self.backend {
            Backend::Embedded(_) => Ok(Duration::ZERO),
            #[cfg(feature = "redis")]
            Backend::Redis(client) => client.ping().await,
        }
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        match &self.backend {
            Backend::Embedded(store) => Ok(store.get(key)),
            #[cfg(feature = "redis")]
            Backend::Redis(client) => client.query(::redis::cmd("GET").arg(key)).await,
        }
    }

    /// Stores `value` under `key`, expiring after `ttl` (millisecond precision).
    pub(crate) async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), Error> {
        match &self.backend {
            Backend::Embedded(store) => store.set(key, value, Some(ttl)),
            #[cfg(feature = "redis")]
            Backend::Redis(client) => {
                client
                    .query(
                        ::redis::cmd("SET")
                            .arg(key)
                            .arg(value)
                            .arg("PX")
                            .arg(ttl_millis(ttl)),
                    )
                    .await
            }
        }
    }

    /// The values of `keys`, in order. On a cluster, one `MGET` per hash slot, sent
    /// concurrently: atomic within a slot, not across slots.
    pub(crate) async fn mget(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        match &self.backend {
            Backend::Embedded(store) => Ok(keys.iter().map(|key| store.get(key)).collect()),
            #[cfg(feature = "redis")]
            Backend::Redis(client) if !client.is_cluster() => {
                client.query(::redis::cmd("MGET").arg(keys)).await
            }
            #[cfg(feature = "redis")]
            Backend::Redis(client) => {
                let groups = by_slot(keys);
                let replies = futures_util::future::try_join_all(groups.iter().map(|group| {
                    let slot_keys: Vec<&str> = group.iter().map(|&i| keys[i]).collect();
                    let mut cmd = ::redis::cmd("MGET");
                    cmd.arg(&slot_keys);
                    client.query_slot_of::<Vec<Option<Vec<u8>>>>(cmd, slot_keys[0])
                }))
                .await?;
                let mut values = vec![None; keys.len()];
                for (group, reply) in groups.iter().zip(replies) {
                    for (&i, value) in group.iter().zip(reply) {
                        values[i] = value;
                    }
                }
                Ok(values)
            }
        }
    }

    /// Stores every `(key, value)` with one `ttl`: one pipeline of `SET .. PX` (per hash
    /// slot on a cluster, sent concurrently). Not atomic: after a failure some keys may
    /// be set.
    pub(crate) async fn mset(
        &self,
        entries: Vec<(&str, Vec<u8>)>,
        ttl: Duration,
    ) -> Result<(), Error> {
        if entries.is_empty() {
            return Ok(());
        }
        match &self.backend {
            Backend::Embedded(store) => entries
                .into_iter()
                .try_for_each(|(key, value)| store.set(key, value, Some(ttl))),
            #[cfg(feature = "redis")]
            Backend::Redis(client) => {
                let keys: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
                let groups = if client.is_cluster() {
                    by_slot(&keys)
                } else {
                    vec![(0..keys.len()).collect()]
                };
                let mut entries: Vec<Option<Vec<u8>>> =
                    entries.into_iter().map(|(_, v)| Some(v)).collect();
                let pipelines: Vec<(::redis::Pipeline, &str)> = groups
                    .iter()
                    .map(|group| {
                        let mut pipeline = ::redis::pipe();
                        for &i in group {
                            pipeline
                                .cmd("SET")
                                .arg(keys[i])
                                .arg(entries[i].take().unwrap_or_default())
                                .arg("PX")
                                .arg(ttl_millis(ttl))
                                .ignore();
                        }
                        (pipeline, keys[group[0]])
                    })
                    .collect();
                futures_util::future::try_join_all(
                    pipelines
                        .into_iter()
                        .map(|(pipeline, key)| client.pipeline_slot_of::<()>(pipeline, key)),
                )
                .await?;
                Ok(())
            }
        }
    }

    /// Deletes `keys` (`UNLINK` on Redis: the memory is freed off the main thread); how
    /// many existed.
    pub(crate) async fn delete(&self, keys: &[&str]) -> Result<u64, Error> {
        if keys.is_empty() {
            return Ok(0);
        }
        match &self.backend {
            Backend::Embedded(store) => {
                keys.iter().try_fold(
                    0,
                    |deleted, key| Ok(deleted + u64::from(store.delete(key)?)),
                )
            }
            #[cfg(feature = "redis")]
            Backend::Redis(client) if !client.is_cluster() || keys.len() == 1 => {
                client.query(::redis::cmd("UNLINK").arg(keys)).await
            }
            #[cfg(feature = "redis")]
            Backend::Redis(client) => {
                let counts =
                    futures_util::future::try_join_all(by_slot(keys).iter().map(|group| {
                        let slot_keys: Vec<&str> = group.iter().map(|&i| keys[i]).collect();
                        let mut cmd = ::redis::cmd("UNLINK");
                        cmd.arg(&slot_keys);
                        client.query_slot_of::<u64>(cmd, slot_keys[0])
                    }))
                    .await?;
                Ok(counts.into_iter().sum())
            }
        }
    }

    /// Deletes every key matching the glob `pattern`: `SCAN` (never `KEYS`, which
    /// blocks the server) on every primary, `UNLINK` per page. Keys written while it runs
    /// may survive. How many keys were deleted.
    pub(crate) async fn delete_pattern(&self, pattern: &str) -> Result<u64, Error> {
        match &self.backend {
            Backend::Embedded(store) => store.delete_pattern(pattern),
            #[cfg(feature = "redis")]
            Backend::Redis(client) => {
                let mut deleted = 0;
                if client.is_cluster() {
                    for (host, port) in client.cluster_primaries().await? {
                        deleted += scan_pages(
                            pattern,
                            |cmd| client.query_node(cmd, &host, port),
                            |keys| {
                                let store = self.clone();
                                async move {
                                    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                                    store.delete(&keys).await
                                }
                            },
                        )
                        .await?;
                    }
                } else {
                    deleted += scan_pages(
                        pattern,
                        |cmd| async move { client.query(&cmd).await },
                        |keys| async move { client.query(::redis::cmd("UNLINK").arg(&keys)).await },
                    )
                    .await?;
                }
                Ok(deleted)
            }
        }
    }
}

/// One node's `SCAN` loop, handing each page's keys to `page` as it goes (which
/// deletes them, say, and says how many it did).
#[cfg(feature = "redis")]
async fn scan_pages<Scan, ScanFut, Page, PageFut>(
    pattern: &str,
    scan: Scan,
    mut delete: Page,
) -> Result<u64, Error>
where
    Scan: Fn(::redis::Cmd) -> ScanFut,
    ScanFut: Future<Output = Result<(u64, Vec<String>), Error>>,
    Page: FnMut(Vec<String>) -> PageFut,
    PageFut: Future<Output = Result<u64, Error>>,
{
    let mut cursor = 0u64;
    let mut deleted = 0;
    loop {
        let mut cmd = ::redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(SCAN_BATCH);
        let (next, keys) = scan(cmd).await?;
        if !keys.is_empty() {
            deleted += delete(keys).await?;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

impl Store {
    /// Every key matching the glob `pattern`: `SCAN` on every primary. Keys written
    /// while it runs may be missed; a key may come twice (SCAN's guarantee).
    #[cfg(feature = "redis")]
    pub(crate) async fn scan_keys(&self, pattern: &str) -> Result<Vec<String>, Error> {
        let Backend::Redis(client) = &self.backend else {
            return Ok(Vec::new());
        };
        let mut keys = Vec::new();
        let mut collect = |page: Vec<String>| {
            keys.extend(page);
            async { Ok(0) }
        };
        if client.is_cluster() {
            for (host, port) in client.cluster_primaries().await? {
                scan_pages(
                    pattern,
                    |cmd| client.query_node(cmd, &host, port),
                    &mut collect,
                )
                .await?;
            }
        } else {
            scan_pages(
                pattern,
                |cmd| async move { client.query(&cmd).await },
                &mut collect,
            )
            .await?;
        }
        Ok(keys)
    }
}

/// Indices of `keys` grouped by cluster hash slot, in first-seen order.
#[cfg(feature = "redis")]
fn by_slot(keys: &[&str]) -> Vec<Vec<usize>> {
    use std::collections::HashMap;

    use ::redis::cluster_routing::Slot;

    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<Slot, usize> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        let group = *index.entry(Slot::for_key(key)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push(i);
    }
    groups
}

/// `ttl` in whole milliseconds, at least 1 (`PX 0` is an error).
#[cfg(feature = "redis")]
pub(crate) fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}
