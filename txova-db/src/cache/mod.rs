//! The cache: JSON values in a [`Store`] (Redis or the embedded store) with TTLs,
//! single-flight loading, cached absences, and eviction that waits for the commit.
//!
//! [`Cache::get_or_set`] is what `#[cached]` runs: a hit is decoded and returned, a
//! miss computes once per key per process (concurrent callers wait for that one
//! compute) and stores an `Ok`/`Some` result, and a store outage degrades to calling
//! the source, logged, never to an error for the caller.
//!
//! Where methods find their cache: `#[cached]` and `#[cache_evict]` on methods take it
//! from `self` through [`UsesCache`] (a repository holds its `Cache` as it holds its
//! `Db`), and free functions name it with `cache = <expr>`. A trait keeps the call
//! sites free of plumbing, and the explicit argument covers code with no `self`.

mod envelope;
mod flight;
mod key;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use key::CacheKey;

pub use crate::error::CacheError;

use crate::error::{Error, ErrorKind};
use crate::store::Store;
use envelope::Stored;
use flight::{Flights, Landed, Role};

/// The three outcomes of a cache read.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::cache::{Cache, Lookup};
/// use txova_db::store::Store;
///
/// let cache = Cache::new(Store::embedded());
/// assert!(cache.get::<String>("user:42:name").await?.is_miss());
/// cache.set("user:42:name", "Ana").await?;
/// assert_eq!(cache.get::<String>("user:42:name").await?, Lookup::Hit("Ana".to_owned()));
/// // A remembered "no such row", so a missing user does not reach the database each time.
/// cache.set_none("user:43:name").await?;
/// assert_eq!(cache.get::<String>("user:43:name").await?, Lookup::CachedNone);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// The value was cached.
    Hit(T),
    /// An absence was cached: the source had nothing, and said so recently.
    CachedNone,
    /// Nothing is cached for the key.
    Miss,
}

impl<T> Lookup<T> {
    /// The value of a hit.
    pub fn hit(self) -> Option<T> {
        match self {
            Self::Hit(value) => Some(value),
            _ => None,
        }
    }

    /// Whether the read was a miss.
    pub fn is_miss(&self) -> bool {
        matches!(self, Self::Miss)
    }
}

/// Settings of a [`Cache`].
///
/// ```
/// use std::time::Duration;
/// use txova_db::cache::CacheConfig;
///
/// let config = CacheConfig {
///     default_ttl: Duration::from_secs(60),
///     ..CacheConfig::default()
/// };
/// assert_eq!(config.none_ttl, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// TTL of values set without one (default 15 min).
    #[serde(with = "humantime_serde")]
    pub default_ttl: Duration,
    /// TTL of cached absences (default 1 min): short, so a row created elsewhere shows
    /// up soon.
    #[serde(with = "humantime_serde")]
    pub none_ttl: Duration,
    /// Each TTL is lengthened by a random fraction up to this (default 0.1), so keys
    /// written together do not expire together.
    pub jitter: f64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            default_ttl: Duration::from_secs(15 * 60),
            none_ttl: Duration::from_secs(60),
            jitter: 0.1,
        }
    }
}

/// A JSON cache over a [`Store`]; cheap to clone, clones share their single-flight
/// state.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::cache::{Cache, CacheKey, Lookup};
/// use txova_db::store::Store;
///
/// let cache = Cache::new(Store::embedded());
/// let key = CacheKey::new("user:profile").part(7).finish();
///
/// let name: String = cache
///     .get_or_set(&key, None, || async { Ok::<_, txova_db::Error>("Ana".to_owned()) })
///     .await?;
/// assert_eq!(name, "Ana");
/// assert_eq!(cache.get::<String>(&key).await?, Lookup::Hit("Ana".to_owned()));
///
/// cache.delete(&key).await?;
/// assert_eq!(cache.get::<String>(&key).await?, Lookup::Miss);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: CacheConfig,
    flights: Flights,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("store", &self.inner.store)
            .field("config", &self.inner.config)
            .finish()
    }
}

/// Where `#[cached]` and `#[cache_evict]` methods find their cache: implement it for
/// the type the methods are on.
///
/// ```
/// use txova_db::cache::{Cache, UsesCache};
///
/// struct Profiles {
///     cache: Cache,
/// }
///
/// impl UsesCache for Profiles {
///     fn cache(&self) -> &Cache {
///         &self.cache
///     }
/// }
/// ```
///
/// ```
/// use txova_db::cache::{Cache, UsesCache};
/// use txova_db::{Error, cached};
///
/// struct Fares {
///     cache: Cache,
/// }
///
/// // Where `#[cached]` and `#[cache_evict]` methods of `Fares` find their cache.
/// impl UsesCache for Fares {
///     fn cache(&self) -> &Cache {
///         &self.cache
///     }
/// }
///
/// impl Fares {
///     #[cached(key = "fare:<from>:<to>", ttl = "5m")]
///     async fn estimate(&self, from: &str, to: &str) -> Result<i64, Error> {
///         Ok((from.len() + to.len()) as i64 * 100)
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not say which cache its #[cached]/#[cache_evict] methods use",
    label = "the cache is taken from `self`",
    note = "implement `txova_db::cache::UsesCache` for `{Self}`, or name the cache: `#[cached(key = .., cache = self.cache)]`"
)]
pub trait UsesCache {
    /// The cache.
    fn cache(&self) -> &Cache;
}

impl UsesCache for Cache {
    fn cache(&self) -> &Cache {
        self
    }
}

impl<T: UsesCache + ?Sized> UsesCache for &T {
    fn cache(&self) -> &Cache {
        (**self).cache()
    }
}

impl<T: UsesCache + ?Sized> UsesCache for Arc<T> {
    fn cache(&self) -> &Cache {
        (**self).cache()
    }
}

/// A return type `#[cached]` (and [`Cache::get_or_set`]) can cache: `Result<T, E>`
/// caches `Ok` values, `Option<T>` caches `Some` values and `None` as a cached absence.
/// Recognised by this trait, not by name, so type aliases work.
///
/// ```
/// use txova_db::cache::{Cache, UsesCache};
/// use txova_db::cached;
///
/// struct Fares { cache: Cache }
/// impl UsesCache for Fares {
///     fn cache(&self) -> &Cache { &self.cache }
/// }
///
/// impl Fares {
///     // `Option` results cache `None` too (a remembered miss); `Result` caches `Ok` only.
///     #[cached(key = "fare:<id>")]
///     async fn by_id(&self, id: i64) -> Option<i64> {
///         (id > 0).then_some(id * 100)
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be cached",
    label = "a cached function returns `Result<T, E>` or `Option<T>`",
    note = "#[cached] stores the `Ok` or `Some` value as JSON: return `Result<T, E>` or `Option<T>` with `T: Serialize + DeserializeOwned`"
)]
pub trait CachedOutput: Sized {
    /// The cached value.
    type Value: Serialize + DeserializeOwned;

    /// What to store: `Some(value)`, or `None` when this result must not be cached.
    fn to_cache(&self) -> Option<Option<&Self::Value>>;

    /// The result for a hit.
    fn from_hit(value: Self::Value) -> Self;

    /// The result for a cached absence, if this type has one.
    fn from_cached_none() -> Option<Self>;
}

impl<T: Serialize + DeserializeOwned, E> CachedOutput for Result<T, E> {
    type Value = T;

    fn to_cache(&self) -> Option<Option<&T>> {
        self.as_ref().ok().map(Some)
    }

    fn from_hit(value: T) -> Self {
        Ok(value)
    }

    fn from_cached_none() -> Option<Self> {
        // `Result<Option<U>, E>`: an absence is `Ok(None)`.
        serde_json::from_value(serde_json::Value::Null).ok().map(Ok)
    }
}

impl<T: Serialize + DeserializeOwned> CachedOutput for Option<T> {
    type Value = T;

    fn to_cache(&self) -> Option<Option<&T>> {
        Some(self.as_ref())
    }

    fn from_hit(value: T) -> Self {
        Some(value)
    }

    fn from_cached_none() -> Option<Self> {
        Some(None)
    }
}

impl Cache {
    /// A cache over `store` with the default settings.
    pub fn new(store: impl Into<Store>) -> Self {
        Self::with_config(store, CacheConfig::default())
    }

    /// A cache over `store` with `config`.
    pub fn with_config(store: impl Into<Store>, config: CacheConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: store.into(),
                config,
                flights: Flights::default(),
            }),
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The settings.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// Reads `key`. Store failures and undecodable entries are errors here; use
    /// [`get_or_set`](Self::get_or_set) for reads that degrade to the source.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Lookup<T>, Error> {
        check_key(key)?;
        let bytes = self.inner.store.get(key).await?;
        let lookup = decode_lookup(key, bytes.as_deref())?;
        count_lookup(&lookup);
        Ok(lookup)
    }

    /// Stores `value` for the default TTL (plus jitter). A value whose JSON is `null`
    /// is stored as a cached absence, for the absence TTL.
    pub async fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), Error> {
        self.set_with_ttl(key, value, self.inner.config.default_ttl)
            .await
    }

    /// Stores `value` for `ttl` (plus jitter).
    pub async fn set_with_ttl<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), Error> {
        check_key(key)?;
        let bytes = envelope::encode(value).map_err(|source| cache_error(key, source))?;
        let ttl = self.ttl_for(&bytes, ttl);
        self.inner.store.set(key, bytes, ttl).await
    }

    /// Caches an absence for `key` (the absence TTL): reads see
    /// [`Lookup::CachedNone`].
    pub async fn set_none(&self, key: &str) -> Result<(), Error> {
        check_key(key)?;
        let ttl = self.jittered(self.inner.config.none_ttl);
        self.inner
            .store
            .set(key, envelope::encode_none(), ttl)
            .await
    }

    /// Deletes `key`; whether it existed. Inside a transaction, prefer
    /// [`evict`](Self::evict).
    pub async fn delete(&self, key: &str) -> Result<bool, Error> {
        check_key(key)?;
        Ok(self.inner.store.delete(&[key]).await? > 0)
    }

    /// Deletes `key` now, or — when this task is inside a transaction — after that
    /// transaction commits (and not at all if it rolls back), so no reader can cache
    /// the old row again between the eviction and the commit.
    ///
    /// A failure to delete is logged and counted, not returned: the write it follows
    /// has already succeeded.
    pub async fn evict(&self, keys: Vec<String>) {
        if let Some(tx) = crate::db::ambient::current() {
            let cache = self.clone();
            tx.after_commit(Box::pin(async move { cache.evict_now(&keys).await }));
        } else {
            self.evict_now(&keys).await;
        }
    }

    async fn evict_now(&self, keys: &[String]) {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        if let Err(err) = self.inner.store.delete(&keys).await {
            metrics::counter!("txova_db_cache_errors_total", "op" => "evict").increment(1);
            tracing::warn!(
                target: "txova_db::cache",
                keys = ?keys,
                error = %err,
                "cache eviction failed; the entries expire with their TTL"
            );
        }
    }

    /// Reads many keys at once, in order: one `MGET`, or on a cluster one per hash slot
    /// (sent concurrently; atomic within a slot, not across slots).
    pub async fn mget<T: DeserializeOwned>(
        &self,
        keys: &[impl AsRef<str>],
    ) -> Result<Vec<Lookup<T>>, Error> {
        let keys: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
        for key in &keys {
            check_key(key)?;
        }
        let values = self.inner.store.mget(&keys).await?;
        keys.iter()
            .zip(values)
            .map(|(key, bytes)| {
                let lookup = decode_lookup(key, bytes.as_deref())?;
                count_lookup(&lookup);
                Ok(lookup)
            })
            .collect()
    }

    /// Stores many values with one TTL (`None`: the default), in one pipeline (per hash
    /// slot on a cluster). Not atomic.
    pub async fn mset<K: AsRef<str>, T: Serialize>(
        &self,
        entries: &[(K, T)],
        ttl: Option<Duration>,
    ) -> Result<(), Error> {
        let ttl = ttl.unwrap_or(self.inner.config.default_ttl);
        let mut encoded = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let key = key.as_ref();
            check_key(key)?;
            let bytes = envelope::encode(value).map_err(|source| cache_error(key, source))?;
            encoded.push((key, bytes));
        }
        self.inner.store.mset(encoded, self.jittered(ttl)).await
    }

    /// Deletes every key matching the Redis glob `pattern` (`SCAN` on every primary,
    /// `UNLINK` in batches; never `KEYS`); how many were deleted. Parts added with
    /// [`CacheKey::part`] are escaped, so they never act as wildcards.
    pub async fn delete_pattern(&self, pattern: &str) -> Result<u64, Error> {
        check_key(pattern)?;
        self.inner.store.delete_pattern(pattern).await
    }

    /// The cached value for `key`, or `compute`'s result, stored when it is `Ok` (or
    /// `Some`) for `ttl` (`None`: the default TTL).
    ///
    /// Concurrent misses of one key in this process run `compute` once; the others
    /// wait for its result. When that result is not stored (an `Err`), each waiting
    /// caller runs its own `compute`, all at once, and stores nothing: an error cannot
    /// be shared, and queueing the callers behind one new leader after another would
    /// make each wait out every failure before its own (the next miss leads a new
    /// flight). If the leader's future is dropped, one waiting caller takes its place.
    /// A store that fails or times out is logged and counted and
    /// the call goes to `compute`: a cache outage never becomes an error here. An entry
    /// that no longer decodes (the type changed) is a miss and is overwritten. Inside a
    /// transaction the cache is bypassed: the transaction may see rows no one else can
    /// yet, which must not be cached.
    pub async fn get_or_set<R, F, Fut>(&self, key: &str, ttl: Option<Duration>, compute: F) -> R
    where
        R: CachedOutput,
        F: FnOnce() -> Fut,
        Fut: Future<Output = R>,
    {
        if key.is_empty() || crate::db::ambient::in_transaction() {
            return compute().await;
        }
        let mut store_ok = true;
        match self.inner.store.get(key).await {
            Ok(Some(bytes)) => match envelope::decode::<R::Value>(&bytes) {
                Ok(Stored::Value(value)) => {
                    metrics::counter!("txova_db_cache_hits_total").increment(1);
                    return R::from_hit(value);
                }
                Ok(Stored::None) => {
                    if let Some(result) = R::from_cached_none() {
                        metrics::counter!("txova_db_cache_hits_total").increment(1);
                        return result;
                    }
                }
                Err(err) => {
                    metrics::counter!("txova_db_cache_errors_total", "op" => "decode").increment(1);
                    tracing::warn!(target: "txova_db::cache", key, error = %err, "cached entry does not decode; treating it as a miss");
                }
            },
            Ok(None) => {}
            Err(err) => {
                store_ok = false;
                metrics::counter!("txova_db_cache_errors_total", "op" => "get").increment(1);
                if err.kind() == ErrorKind::CircuitOpen {
                    // The breaker said so once when it opened; not once per call.
                    tracing::debug!(target: "txova_db::cache", key, "store's breaker is open; calling the source");
                } else {
                    tracing::warn!(target: "txova_db::cache", key, error = %err, "cache unavailable; calling the source");
                }
            }
        }
        metrics::counter!("txova_db_cache_misses_total").increment(1);
        if !store_ok {
            return compute().await;
        }
        self.load(key, ttl, compute).await
    }

    /// The miss path: lead the flight for `key`, or wait for its leader.
    async fn load<R, F, Fut>(&self, key: &str, ttl: Option<Duration>, compute: F) -> R
    where
        R: CachedOutput,
        F: FnOnce() -> Fut,
        Fut: Future<Output = R>,
    {
        loop {
            match self.inner.flights.join(key) {
                Role::Leader(leader) => {
                    let result = compute().await;
                    let landed = self.store_result(key, ttl, &result).await;
                    leader.land(landed);
                    return result;
                }
                Role::Follower(flight) => match flight::wait(flight).await {
                    Some(Landed::Entry(bytes)) => match envelope::decode::<R::Value>(&bytes) {
                        Ok(Stored::Value(value)) => return R::from_hit(value),
                        Ok(Stored::None) => {
                            if let Some(result) = R::from_cached_none() {
                                return result;
                            }
                            return compute().await;
                        }
                        Err(_) => return compute().await,
                    },
                    Some(Landed::Uncacheable) => return compute().await,
                    // The leader was cancelled: take over.
                    None => continue,
                },
            }
        }
    }

    /// Stores a computed result if it is cacheable; what the flight's waiters get.
    async fn store_result<R: CachedOutput>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        result: &R,
    ) -> Landed {
        let Some(value) = result.to_cache() else {
            return Landed::Uncacheable;
        };
        let encoded = match value {
            Some(value) => envelope::encode(value),
            None => Ok(envelope::encode_none()),
        };
        let bytes = match encoded {
            Ok(bytes) => bytes,
            Err(err) => {
                metrics::counter!("txova_db_cache_errors_total", "op" => "encode").increment(1);
                tracing::warn!(target: "txova_db::cache", key, error = %err, "value cannot be cached");
                return Landed::Uncacheable;
            }
        };
        let ttl = self.ttl_for(&bytes, ttl.unwrap_or(self.inner.config.default_ttl));
        let shared: Arc<[u8]> = Arc::from(bytes.as_slice());
        if let Err(err) = self.inner.store.set(key, bytes, ttl).await {
            metrics::counter!("txova_db_cache_errors_total", "op" => "set").increment(1);
            tracing::warn!(target: "txova_db::cache", key, error = %err, "could not store the computed value");
        }
        Landed::Entry(shared)
    }

    /// The TTL for an encoded entry: the absence TTL for absences, else `ttl`; with
    /// jitter.
    fn ttl_for(&self, bytes: &[u8], ttl: Duration) -> Duration {
        let ttl = if bytes == envelope::encode_none().as_slice() {
            self.inner.config.none_ttl.min(ttl)
        } else {
            ttl
        };
        self.jittered(ttl)
    }

    fn jittered(&self, ttl: Duration) -> Duration {
        let jitter = self.inner.config.jitter;
        if jitter <= 0.0 || !jitter.is_finite() {
            return ttl;
        }
        ttl.mul_f64(1.0 + rand::random::<f64>() * jitter)
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(cache_error(key, CacheError::EmptyKey));
    }
    Ok(())
}

fn cache_error(key: &str, source: CacheError) -> Error {
    Error::Cache {
        key: key.to_owned(),
        source,
    }
}

fn decode_lookup<T: DeserializeOwned>(key: &str, bytes: Option<&[u8]>) -> Result<Lookup<T>, Error> {
    match bytes {
        None => Ok(Lookup::Miss),
        Some(bytes) => match envelope::decode(bytes).map_err(|source| cache_error(key, source))? {
            Stored::Value(value) => Ok(Lookup::Hit(value)),
            Stored::None => Ok(Lookup::CachedNone),
        },
    }
}

fn count_lookup<T>(lookup: &Lookup<T>) {
    match lookup {
        Lookup::Miss => metrics::counter!("txova_db_cache_misses_total").increment(1),
        _ => metrics::counter!("txova_db_cache_hits_total").increment(1),
    }
}
