//! The in-process store: the default when no Redis is configured, so the cache (and
//! the other Redis patterns) run with no server.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// Shards, so concurrent tasks on different keys rarely share a lock.
const SHARDS: usize = 16;
/// Expired entries of a shard are swept after this many writes to it (reads drop the
/// ones they meet at once).
const SWEEP_EVERY: u32 = 1024;

/// A TTL-aware key-value map in this process, shared by its clones.
///
/// It keeps nothing across restarts and is not shared between processes: it is what
/// makes the cache work in tests, examples and single-instance services without Redis.
/// Expiry follows `tokio::time`, so tests with a paused clock can step over TTLs.
///
/// ```
/// use txova_db::store::EmbeddedStore;
///
/// let store = EmbeddedStore::new();
/// assert!(store.is_empty());
/// ```
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    /// The origin of [`EmbeddedStore::clock`].
    epoch: Instant,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<String, Entry>,
    writes: u32,
}

struct Entry {
    value: Value,
    expires_at: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// What a key holds: the Redis types the patterns use.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A string (cache entries, lock owners, counters).
    Bytes(Vec<u8>),
    /// A hash of fields (sessions, rate-limit state).
    Hash(HashMap<String, String>),
    /// A sorted set: member → score (session indexes).
    Sorted(HashMap<String, f64>),
}

/// One key's state lent to an atomic update ([`EmbeddedStore::update`]): set `value` to
/// `None` to delete the key; `expires_at` is kept unless changed.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) value: Option<Value>,
    pub(crate) expires_at: Option<Instant>,
}

impl Default for EmbeddedStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("len", &self.len())
            .finish()
    }
}

impl EmbeddedStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
                hasher: RandomState::new(),
                epoch: Instant::now(),
            }),
        }
    }

    /// Live entries (expired ones not yet swept are not counted).
    pub fn len(&self) -> usize {
        let now = Instant::now();
        (0..SHARDS)
            .map(|i| {
                let shard = self.lock(i);
                shard.entries.values().filter(|e| e.live(now)).count()
            })
            .sum()
    }

    /// Whether no live entry is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard_of(&self, key: &str) -> usize {
        (self.inner.hasher.hash_one(key) as usize) % SHARDS
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, Shard> {
        // A panic while holding a shard cannot leave an entry half-written (every
        // update is one `insert` or `remove`), so a poisoned lock is still consistent.
        self.inner.shards[shard]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The store's clock: time since it was created, on `tokio::time` (so a paused test
    /// clock steps it). It plays the part of the Redis server's `TIME` for rate limits.
    pub(crate) fn clock(&self) -> Duration {
        Instant::now() - self.inner.epoch
    }

    /// The string at `key` (`None` for a missing key or one of another type).
    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        let now = Instant::now();
        let mut shard = self.lock(self.shard_of(key));
        match shard.entries.get(key) {
            Some(entry) if entry.live(now) => match &entry.value {
                Value::Bytes(bytes) => Some(bytes.clone()),
                _ => None,
            },
            Some(_) => {
                shard.entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) {
        let now = Instant::now();
        self.update(key, |slot| {
            slot.value = Some(Value::Bytes(value));
            slot.expires_at = ttl.map(|ttl| now + ttl);
        });
    }

    /// Runs `update` on `key`'s live state under the key's shard lock: the in-process
    /// counterpart of a Lua script on one key.
    pub(crate) fn update<R>(&self, key: &str, update: impl FnOnce(&mut Slot) -> R) -> R {
        self.update_many(&[key], |slots| update(&mut slots[0]))
    }

    /// Runs `update` on the live state of every key in `keys` at once, holding their
    /// shards' locks (taken in shard order, so concurrent updates cannot deadlock).
    /// `keys` must be distinct.
    pub(crate) fn update_many<R>(&self, keys: &[&str], update: impl FnOnce(&mut [Slot]) -> R) -> R {
        let now = Instant::now();
        let shard_of: Vec<usize> = keys.iter().map(|key| self.shard_of(key)).collect();
        let mut order = shard_of.clone();
        order.sort_unstable();
        order.dedup();
        let mut guards: Vec<(usize, MutexGuard<'_, Shard>)> =
            order.into_iter().map(|i| (i, self.lock(i))).collect();
        let positions: Vec<usize> = shard_of
            .iter()
            .map(|&s| guards.iter().position(|(i, _)| *i == s).unwrap_or_default())
            .collect();
        let mut slots: Vec<Slot> = keys
            .iter()
            .zip(&positions)
            .map(|(key, &g)| match guards[g].1.entries.remove(*key) {
                Some(entry) if entry.live(now) => Slot {
                    value: Some(entry.value),
                    expires_at: entry.expires_at,
                },
                _ => Slot {
                    value: None,
                    expires_at: None,
                },
            })
            .collect();
        let result = update(&mut slots);
        for ((key, &g), slot) in keys.iter().zip(&positions).zip(slots) {
            let shard = &mut guards[g].1;
            if let Some(value) = slot.value {
                shard.entries.insert(
                    (*key).to_owned(),
                    Entry {
                        value,
                        expires_at: slot.expires_at,
                    },
                );
                shard.writes += 1;
                if shard.writes >= SWEEP_EVERY {
                    shard.writes = 0;
                    shard.entries.retain(|_, entry| entry.live(now));
                }
            }
        }
        result
    }

    /// Removes `key`; whether a live entry was there.
    pub(crate) fn delete(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut shard = self.lock(self.shard_of(key));
        shard.entries.remove(key).is_some_and(|e| e.live(now))
    }

    /// Every live string whose key starts with `prefix`, in no particular order.
    pub(crate) fn scan_prefix(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        let now = Instant::now();
        let mut found = Vec::new();
        for i in 0..SHARDS {
            let shard = self.lock(i);
            for (key, entry) in &shard.entries {
                if let (true, true, Value::Bytes(bytes)) =
                    (key.starts_with(prefix), entry.live(now), &entry.value)
                {
                    found.push((key.clone(), bytes.clone()));
                }
            }
        }
        found
    }

    /// Removes every key matching the Redis glob `pattern`; how many live ones went.
    pub(crate) fn delete_pattern(&self, pattern: &str) -> u64 {
        let now = Instant::now();
        let mut removed = 0;
        for i in 0..SHARDS {
            let mut shard = self.lock(i);
            shard.entries.retain(|key, entry| {
                if super::glob::matches(pattern.as_bytes(), key.as_bytes()) {
                    removed += u64::from(entry.live(now));
                    false
                } else {
                    true
                }
            });
        }
        removed
    }

    /// The remaining time to live of `key`: `None` if absent, `Some(None)` if it never
    /// expires.
    pub fn ttl(&self, key: &str) -> Option<Option<Duration>> {
        let now = Instant::now();
        let shard = self.lock(self.shard_of(key));
        let entry = shard.entries.get(key).filter(|e| e.live(now))?;
        Some(entry.expires_at.map(|at| at - now))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::EmbeddedStore;

    #[tokio::test(start_paused = true)]
    async fn entries_expire_with_their_ttl() {
        let store = EmbeddedStore::new();
        store.set("a", b"1".to_vec(), Some(Duration::from_secs(10)));
        store.set("b", b"2".to_vec(), None);
        assert_eq!(store.get("a").as_deref(), Some(&b"1"[..]));
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(store.get("a"), None);
        assert_eq!(store.get("b").as_deref(), Some(&b"2"[..]));
        assert_eq!(store.len(), 1);
        assert_eq!(store.ttl("b"), Some(None));
    }

    #[tokio::test]
    async fn delete_pattern_removes_only_matches() {
        let store = EmbeddedStore::new();
        for i in 0..100 {
            store.set(&format!("user:{i}"), vec![], None);
            store.set(&format!("ride:{i}"), vec![], None);
        }
        assert_eq!(store.delete_pattern("user:*"), 100);
        assert_eq!(store.len(), 100);
        assert!(store.delete("ride:7"));
        assert!(!store.delete("ride:7"));
    }
}
