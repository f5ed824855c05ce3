//! The in-process store: the default when no Redis is configured, so the cache (and
//! the other Redis patterns) run with no server; kept on disk when opened at a path.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
#[cfg(feature = "persistent-store")]
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::disk::Disk;
use crate::error::Error;

/// Shards, so concurrent tasks on different keys rarely share a lock.
const SHARDS: usize = 16;
/// Expired entries of a shard are swept after this many writes to it (reads drop the
/// ones they meet at once).
const SWEEP_EVERY: u32 = 1024;

/// A TTL-aware key-value map in this process, shared by its clones.
///
/// [`EmbeddedStore::new`] keeps nothing across restarts: it is what makes the cache
/// work in tests and examples without Redis. [`EmbeddedStore::open`] (the
/// `persistent-store` feature) keeps a copy on disk, so a single-instance service keeps
/// its sessions, locks' fencing tokens, rate-limit windows and cached values across
/// restarts. Either way it is not shared between processes. Expiry follows
/// `tokio::time`, so tests with a paused clock can step over TTLs.
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
    /// What [`EmbeddedStore::clock`] read at `epoch`: zero in memory, the wall-clock
    /// time since the Unix epoch on disk (so persisted times stay in order across
    /// restarts).
    clock_at_epoch: Duration,
    /// The copy on disk of a persistent store.
    disk: Option<Disk>,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<String, Entry>,
    writes: u32,
}

#[derive(PartialEq)]
struct Entry {
    value: Value,
    expires_at: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

impl Slot {
    /// The entry the key holds after an update: none once its value is taken away.
    fn into_entry(self) -> Option<Entry> {
        Some(Entry {
            value: self.value?,
            expires_at: self.expires_at,
        })
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

/// A key and the state to write for it to disk: its value and wall-clock expiry (on
/// [`EmbeddedStore::clock`]), or `None` once deleted.
pub(super) type KeyState<'a> = (&'a str, Option<(&'a Value, Option<Duration>)>);

/// One key's state lent to an atomic update ([`EmbeddedStore::update`]): set `value` to
/// `None` to delete the key; `expires_at` is kept unless changed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slot {
    pub(crate) value: Option<Value>,
    pub(crate) expires_at: Option<Instant>,
}

/// What a write to a persistent [`EmbeddedStore`] must survive before the store
/// acknowledges it.
///
/// ```
/// use txova_db::store::Durability;
///
/// assert_eq!(Durability::default(), Durability::Buffered);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// The write reaches the operating system before the call returns: it survives the
    /// process being killed (SIGKILL, a panic, an out-of-memory kill), not the machine
    /// losing power. A few microseconds per write. The default.
    #[default]
    Buffered,
    /// The write is on the disk (`fsync`) before the call returns: it survives a power
    /// loss too. Each write waits for the disk (0.1–0.3 ms on this project's machines,
    /// more on spinning disks), on the calling task's thread.
    Synced,
}

impl Default for EmbeddedStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("kept", &self.describe())
            .field("len", &self.len())
            .finish()
    }
}

impl EmbeddedStore {
    /// An empty store in memory.
    pub fn new() -> Self {
        Self::with_disk(None, Duration::ZERO)
    }

    fn with_disk(disk: Option<Disk>, clock_at_epoch: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
                hasher: RandomState::new(),
                epoch: Instant::now(),
                clock_at_epoch,
                disk,
            }),
        }
    }

    /// The store kept in the directory `path` (created if missing), with
    /// [`Durability::Buffered`]: what it held when last closed, less what expired since.
    ///
    /// Everything is read into memory when it opens (0.5 s for 200,000 entries here) and
    /// every write goes to disk before it is visible, as one atomic batch per
    /// operation: a process killed at any point reopens with each session, lock or
    /// batch whole or absent. One store at a time may have a directory open: a second,
    /// in this process or another, is an [`Error::Store`] until the first is dropped
    /// (with all its clones).
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// use txova_db::store::{EmbeddedStore, Store};
    ///
    /// let dir = std::env::temp_dir().join(format!("txova-open-doc-{}", std::process::id()));
    /// let kv = Store::from(EmbeddedStore::open(&dir)?).kv("settings")?;
    /// kv.set("theme", b"dark".to_vec(), None).await?;
    /// drop(kv);
    ///
    /// let kv = Store::from(EmbeddedStore::open(&dir)?).kv("settings")?;
    /// assert_eq!(kv.get("theme").await?.as_deref(), Some(&b"dark"[..]));
    /// # drop(kv);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    #[cfg(feature = "persistent-store")]
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(path, Durability::default())
    }

    /// [`open`](Self::open) with the [`Durability`] its writes must reach.
    #[cfg(feature = "persistent-store")]
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, Error> {
        let disk = Disk::open(path.as_ref(), durability)?;
        let wall_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let loaded = disk.load(wall_now)?;
        let store = Self::with_disk(Some(disk), wall_now);
        for entry in loaded {
            let expires_at = entry
                .expires_at
                .map(|at| store.inner.epoch + at.saturating_sub(wall_now));
            let mut shard = store.lock(store.shard_of(&entry.key));
            shard.entries.insert(
                entry.key,
                Entry {
                    value: entry.value,
                    expires_at,
                },
            );
        }
        Ok(store)
    }

    /// The directory of a store kept on disk; `None` in memory.
    #[cfg(feature = "persistent-store")]
    pub fn path(&self) -> Option<&Path> {
        self.inner.disk.as_ref().map(Disk::path)
    }

    /// What a write survives before it is acknowledged; `None` in memory.
    pub fn durability(&self) -> Option<Durability> {
        self.inner.disk.as_ref().map(Disk::durability)
    }

    /// `embedded`, or `embedded at <path>`.
    pub(crate) fn describe(&self) -> &str {
        self.inner.disk.as_ref().map_or("embedded", Disk::describe)
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

    /// The store's clock, on `tokio::time` (so a paused test clock steps it): time since
    /// it was created in memory, wall-clock time since the Unix epoch on disk (so the
    /// times it stored keep their meaning after a restart). It plays the part of the
    /// Redis server's `TIME` for rate limits.
    pub(crate) fn clock(&self) -> Duration {
        self.inner.clock_at_epoch + (Instant::now() - self.inner.epoch)
    }

    /// `at` on [`clock`](Self::clock): what a persistent store writes for an expiry.
    fn clock_at(&self, at: Instant) -> Duration {
        self.inner.clock_at_epoch + at.saturating_duration_since(self.inner.epoch)
    }

    /// Writes the new state of each key in `states` to the disk, if the store has one.
    fn persist(&self, states: &[(&str, Option<&Entry>)]) -> Result<(), Error> {
        let (Some(disk), false) = (&self.inner.disk, states.is_empty()) else {
            return Ok(());
        };
        let states: Vec<_> = states
            .iter()
            .map(|(key, entry)| {
                let state = entry.map(|e| (&e.value, e.expires_at.map(|at| self.clock_at(at))));
                (*key, state)
            })
            .collect();
        disk.write(&states)
    }

    /// Removes expired `keys` from the disk. They are gone from memory already and are
    /// skipped when the store is opened again, so a failure only leaves them there
    /// until then: it is logged, not returned.
    fn forget_expired(&self, keys: &[&str]) {
        let removals: Vec<(&str, Option<&Entry>)> = keys.iter().map(|k| (*k, None)).collect();
        if let Err(error) = self.persist(&removals) {
            tracing::warn!(%error, keys = keys.len(), "could not remove expired entries from disk");
        }
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
                self.forget_expired(&[key]);
                None
            }
            None => None,
        }
    }

    pub(crate) fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), Error> {
        let now = Instant::now();
        self.update(key, |slot| {
            slot.value = Some(Value::Bytes(value));
            slot.expires_at = ttl.map(|ttl| now + ttl);
        })
    }

    /// Runs `update` on `key`'s live state under the key's shard lock: the in-process
    /// counterpart of a Lua script on one key.
    pub(crate) fn update<R>(
        &self,
        key: &str,
        update: impl FnOnce(&mut Slot) -> R,
    ) -> Result<R, Error> {
        self.update_many(&[key], |slots| update(&mut slots[0]))
    }

    /// Runs `update` on the live state of every key in `keys` at once, holding their
    /// shards' locks (taken in shard order, so concurrent updates cannot deadlock).
    /// `keys` must be distinct.
    ///
    /// On a persistent store the keys `update` changed are written to disk in one batch
    /// before anyone sees them; if the disk refuses, the keys keep their old states and
    /// the error is returned (with `update`'s result dropped).
    pub(crate) fn update_many<R>(
        &self,
        keys: &[&str],
        update: impl FnOnce(&mut [Slot]) -> R,
    ) -> Result<R, Error> {
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
        // Keys whose expired entry this update found (and dropped from memory): on disk
        // they are deleted with the update's batch, whatever it does.
        let mut expired = vec![false; keys.len()];
        let mut slots: Vec<Slot> = keys
            .iter()
            .zip(&positions)
            .zip(&mut expired)
            .map(
                |((key, &g), expired)| match guards[g].1.entries.remove(*key) {
                    Some(entry) if entry.live(now) => Slot {
                        value: Some(entry.value),
                        expires_at: entry.expires_at,
                    },
                    found => {
                        *expired = found.is_some();
                        Slot {
                            value: None,
                            expires_at: None,
                        }
                    }
                },
            )
            .collect();
        let before: Option<Vec<Option<Entry>>> = self
            .inner
            .disk
            .is_some()
            .then(|| slots.iter().cloned().map(Slot::into_entry).collect());
        let result = update(&mut slots);
        let entries: Vec<Option<Entry>> = slots.into_iter().map(Slot::into_entry).collect();
        if let Some(before) = before {
            let changed: Vec<(&str, Option<&Entry>)> = keys
                .iter()
                .zip(&before)
                .zip(&entries)
                .zip(&expired)
                .filter(|(((_, old), new), expired)| old != new || **expired)
                .map(|(((key, _), new), _)| (*key, new.as_ref()))
                .collect();
            if let Err(error) = self.persist(&changed) {
                for ((key, &g), old) in keys.iter().zip(&positions).zip(before) {
                    if let Some(entry) = old {
                        guards[g].1.entries.insert((*key).to_owned(), entry);
                    }
                }
                return Err(error);
            }
        }
        for ((key, &g), entry) in keys.iter().zip(&positions).zip(entries) {
            let Some(entry) = entry else { continue };
            let shard = &mut guards[g].1;
            shard.entries.insert((*key).to_owned(), entry);
            shard.writes += 1;
            if shard.writes >= SWEEP_EVERY {
                shard.writes = 0;
                let expired: Vec<String> = shard
                    .entries
                    .iter()
                    .filter(|(_, entry)| !entry.live(now))
                    .map(|(key, _)| key.clone())
                    .collect();
                for key in &expired {
                    shard.entries.remove(key);
                }
                self.forget_expired(&expired.iter().map(String::as_str).collect::<Vec<_>>());
            }
        }
        Ok(result)
    }

    /// Removes `key`; whether a live entry was there.
    pub(crate) fn delete(&self, key: &str) -> Result<bool, Error> {
        let now = Instant::now();
        let mut shard = self.lock(self.shard_of(key));
        let Some(entry) = shard.entries.remove(key) else {
            return Ok(false);
        };
        if let Err(error) = self.persist(&[(key, None)]) {
            shard.entries.insert(key.to_owned(), entry);
            return Err(error);
        }
        Ok(entry.live(now))
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
    /// One shard at a time: after a disk failure, the shards before it stay deleted.
    pub(crate) fn delete_pattern(&self, pattern: &str) -> Result<u64, Error> {
        let now = Instant::now();
        let mut removed = 0;
        for i in 0..SHARDS {
            let mut shard = self.lock(i);
            let matched: Vec<String> = shard
                .entries
                .keys()
                .filter(|key| super::glob::matches(pattern.as_bytes(), key.as_bytes()))
                .cloned()
                .collect();
            let removals: Vec<(&str, Option<&Entry>)> =
                matched.iter().map(|key| (key.as_str(), None)).collect();
            self.persist(&removals)?;
            for key in &matched {
                removed += shard
                    .entries
                    .remove(key)
                    .map_or(0, |entry| u64::from(entry.live(now)));
            }
        }
        Ok(removed)
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
        store
            .set("a", b"1".to_vec(), Some(Duration::from_secs(10)))
            .unwrap();
        store.set("b", b"2".to_vec(), None).unwrap();
        assert_eq!(store.get("a").as_deref(), Some(&b"1"[..]));
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(store.get("a"), None);
        assert_eq!(store.get("b").as_deref(), Some(&b"2"[..]));
        assert_eq!(store.len(), 1);
        assert_eq!(store.ttl("b"), Some(None));
    }

    /// An update that finds an expired entry deletes it on disk too: the reads of
    /// expired sessions and locks would otherwise leave them there until a restart.
    #[cfg(feature = "persistent-store")]
    #[tokio::test(start_paused = true)]
    async fn an_update_meeting_an_expired_entry_deletes_it_on_disk() {
        let dir = std::env::temp_dir().join(format!("txova-embedded-unit-{}", std::process::id()));
        let store = EmbeddedStore::open(&dir).unwrap();
        store
            .set("a", b"1".to_vec(), Some(Duration::from_secs(10)))
            .unwrap();
        store
            .set("b", b"2".to_vec(), Some(Duration::from_secs(10)))
            .unwrap();
        tokio::time::advance(Duration::from_secs(11)).await;
        store
            .update("a", |slot| assert!(slot.value.is_none()))
            .unwrap();
        drop(store);
        // The paused clock moved, the wall clock hardly: on disk `b` is still live, so
        // only the update's delete can have removed `a`.
        let store = EmbeddedStore::open(&dir).unwrap();
        assert_eq!(store.get("a"), None);
        assert_eq!(store.get("b").as_deref(), Some(&b"2"[..]));
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Entries held in memory, expired or not.
    fn held(store: &EmbeddedStore) -> usize {
        (0..super::SHARDS)
            .map(|shard| store.lock(shard).entries.len())
            .sum()
    }

    /// Writes enough to make every shard sweep at least once (each takes ~2,048 of
    /// them, and sweeps every 1,024).
    fn write_past_every_sweep(store: &EmbeddedStore) {
        let writes = 2 * super::SHARDS * super::SWEEP_EVERY as usize;
        for i in 0..writes {
            store.set(&format!("new:{i}"), vec![], None).unwrap();
        }
    }

    /// Expired entries no one reads again do not stay in memory: a shard's writes
    /// sweep them out.
    #[tokio::test(start_paused = true)]
    async fn expired_entries_no_one_reads_are_swept_out_by_writes() {
        let store = EmbeddedStore::new();
        for i in 0..1_000 {
            store
                .set(&format!("old:{i}"), vec![1], Some(Duration::from_secs(10)))
                .unwrap();
        }
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(held(&store), 1_000, "not yet swept");
        write_past_every_sweep(&store);
        let written = 2 * super::SHARDS * super::SWEEP_EVERY as usize;
        assert_eq!(held(&store), written, "only the new entries are held");
        assert_eq!(store.len(), written);
    }

    /// The sweep deletes what it drops on disk too, or a restart would bring back
    /// what the wall clock has not yet expired.
    #[cfg(feature = "persistent-store")]
    #[tokio::test(start_paused = true)]
    async fn the_sweep_deletes_expired_entries_on_disk() {
        let dir = std::env::temp_dir().join(format!("txova-embedded-sweep-{}", std::process::id()));
        let store = EmbeddedStore::open(&dir).unwrap();
        store
            .set("old", b"1".to_vec(), Some(Duration::from_secs(10)))
            .unwrap();
        tokio::time::advance(Duration::from_secs(11)).await;
        write_past_every_sweep(&store);
        drop(store);
        // The paused clock moved, the wall clock hardly: only the sweep's delete can
        // have removed `old` from the disk.
        let store = EmbeddedStore::open(&dir).unwrap();
        assert_eq!(store.get("old"), None);
        assert_eq!(store.get("new:0").as_deref(), Some(&b""[..]));
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A write the disk refuses changes nothing, in memory or on disk: deleting one
    /// key, every key of a pattern, or updating one. Each succeeds once the disk
    /// takes writes again.
    #[cfg(feature = "persistent-store")]
    #[tokio::test]
    async fn a_write_the_disk_refuses_changes_nothing() {
        use crate::error::ErrorKind;

        let dir = std::env::temp_dir().join(format!("txova-embedded-full-{}", std::process::id()));
        let store = EmbeddedStore::open(&dir).unwrap();
        for i in 0..50 {
            store.set(&format!("user:{i}"), vec![1], None).unwrap();
        }
        let full = |full| super::super::disk::FULL.set(full);
        full(true);
        let refused = store.delete("user:7").unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Cache, "{refused:?}");
        assert!(refused.to_string().contains("embedded at"), "{refused}");
        assert_eq!(store.get("user:7").as_deref(), Some(&[1][..]));
        store.delete_pattern("user:*").unwrap_err();
        assert_eq!(store.len(), 50);
        store.set("user:8", vec![2], None).unwrap_err();
        assert_eq!(store.get("user:8").as_deref(), Some(&[1][..]));
        full(false);
        drop(store);

        let store = EmbeddedStore::open(&dir).unwrap();
        assert_eq!(store.len(), 50, "the disk kept what memory kept");
        assert_eq!(store.get("user:8").as_deref(), Some(&[1][..]));
        assert!(store.delete("user:7").unwrap());
        assert_eq!(store.delete_pattern("user:*").unwrap(), 49);
        drop(store);
        let store = EmbeddedStore::open(&dir).unwrap();
        assert_eq!(store.len(), 0);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn delete_pattern_removes_only_matches() {
        let store = EmbeddedStore::new();
        for i in 0..100 {
            store.set(&format!("user:{i}"), vec![], None).unwrap();
            store.set(&format!("ride:{i}"), vec![], None).unwrap();
        }
        assert_eq!(store.delete_pattern("user:*").unwrap(), 100);
        assert_eq!(store.len(), 100);
        assert!(store.delete("ride:7").unwrap());
        assert!(!store.delete("ride:7").unwrap());
    }
}
