//! The key-value API of a [`Store`]: get, set with or without a TTL, delete, scan by
//! prefix and atomic batches, the same on every store. Keys live under a namespace
//! (`kv:<namespace>:<key>`), so they never meet the patterns' keys (cache, locks,
//! sessions, rate limits) or another namespace's.

use std::time::Duration;

use super::{Backend, Store};
use crate::error::Error;

/// How long a namespace may be; its characters are ASCII letters, digits, `_`, `-`
/// and `.` (no `{`, so a namespace never changes a key's cluster hash slot).
const NAMESPACE_MAX: usize = 64;

/// Keys and values in one namespace of a [`Store`]; from [`Store::kv`].
///
/// Values are bytes; a key is any text (hash tags `{…}` in it choose the cluster slot
/// as on Redis, see [`apply`](Self::apply)).
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::store::{Batch, Store};
///
/// let kv = Store::embedded().kv("profiles")?;
/// kv.set("user:7", b"Ana".to_vec(), None).await?;
/// kv.set("user:8", b"Bea".to_vec(), Some(Duration::from_secs(60))).await?;
/// assert_eq!(kv.get("user:7").await?.as_deref(), Some(&b"Ana"[..]));
///
/// kv.apply(Batch::new().set("user:9", b"Caio".to_vec(), None).delete("user:8")).await?;
/// let users = kv.scan_prefix("user:").await?;
/// assert_eq!(users, [("user:7".into(), b"Ana".to_vec()), ("user:9".into(), b"Caio".to_vec())]);
/// assert!(kv.delete("user:7").await?);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Kv {
    store: Store,
    /// `kv:<namespace>:`
    prefix: String,
}

/// Writes applied together by [`Kv::apply`]: all of them or none.
///
/// ```
/// use txova_db::store::Batch;
///
/// let batch = Batch::new().set("a", b"1".to_vec(), None).delete("b");
/// assert_eq!(batch.len(), 2);
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a batch does nothing until it is applied"]
pub struct Batch {
    writes: Vec<Write>,
}

#[derive(Clone, Debug)]
enum Write {
    Set {
        key: String,
        value: Vec<u8>,
        ttl: Option<Duration>,
    },
    Delete {
        key: String,
    },
}

impl Write {
    fn key(&self) -> &str {
        match self {
            Self::Set { key, .. } | Self::Delete { key } => key,
        }
    }
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, expiring after `ttl` (never, with `None`).
    pub fn set(mut self, key: impl Into<String>, value: Vec<u8>, ttl: Option<Duration>) -> Self {
        self.writes.push(Write::Set {
            key: key.into(),
            value,
            ttl,
        });
        self
    }

    /// Deletes `key`.
    pub fn delete(mut self, key: impl Into<String>) -> Self {
        self.writes.push(Write::Delete { key: key.into() });
        self
    }

    /// How many writes it holds.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

impl Store {
    /// The key-value API of this store under `namespace` (ASCII letters, digits, `_`,
    /// `-`, `.`; at most 64): its keys are `kv:<namespace>:<key>` in the store.
    /// Anything else is [`Error::InvalidKey`].
    ///
    /// ```
    /// use txova_db::store::Store;
    ///
    /// let store = Store::embedded();
    /// assert!(store.kv("sessions-v2").is_ok());
    /// assert!(store.kv("a{b}").is_err(), "a brace would move keys between cluster slots");
    /// ```
    pub fn kv(&self, namespace: &str) -> Result<Kv, Error> {
        let valid = !namespace.is_empty()
            && namespace.len() <= NAMESPACE_MAX
            && namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid {
            return Err(Error::InvalidKey {
                key: namespace.to_owned(),
                reason: "a namespace is 1 to 64 ASCII letters, digits, `_`, `-` or `.`",
            });
        }
        Ok(Kv {
            store: self.clone(),
            prefix: format!("kv:{namespace}:"),
        })
    }
}

impl Kv {
    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The value at `key`, if it is set and not expired.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.store.get(&self.full(key)).await
    }

    /// Sets `key` to `value`, expiring after `ttl` (millisecond precision; never, with
    /// `None`). A set replaces the value and the TTL both.
    pub async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), Error> {
        let key = self.full(key);
        match (self.store.backend(), ttl) {
            (_, Some(ttl)) => self.store.set(&key, value, ttl).await,
            (Backend::Embedded(store), None) => store.set(&key, value, None),
            #[cfg(feature = "redis")]
            (Backend::Redis(client), None) => {
                client.query(::redis::cmd("SET").arg(&key).arg(value)).await
            }
        }
    }

    /// Deletes `key`; whether it was set.
    pub async fn delete(&self, key: &str) -> Result<bool, Error> {
        Ok(self.store.delete(&[&self.full(key)]).await? > 0)
    }

    /// Every key starting with `prefix` (the empty prefix: the whole namespace) with
    /// its value, sorted by key. On Redis, `SCAN` on every primary (never `KEYS`, which
    /// blocks the server), then the values: a key written while it runs may be missed,
    /// one deleted is left out. All of it is read into memory: for prefixes of a
    /// bounded number of keys.
    pub async fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let full = self.full(prefix);
        let mut found = match self.store.backend() {
            Backend::Embedded(store) => store.scan_prefix(&full),
            #[cfg(feature = "redis")]
            Backend::Redis(_) => {
                let keys = self
                    .store
                    .scan_keys(&super::glob::prefix_pattern(&full))
                    .await?;
                let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                let values = self.store.mget(&refs).await?;
                keys.into_iter()
                    .zip(values)
                    .filter_map(|(key, value)| Some((key, value?)))
                    .collect()
            }
        };
        for (key, _) in &mut found {
            key.drain(..self.prefix.len());
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.dedup_by(|a, b| a.0 == b.0);
        Ok(found)
    }

    /// Applies every write of `batch`, in order, as one: no reader sees some of them
    /// without the others, and a failure or a drop leaves all or none applied. On
    /// Redis, one Lua script; on a Redis Cluster the keys must share a hash slot (give
    /// them a common hash tag: `{user:7}:profile`, `{user:7}:settings`), else
    /// [`Error::InvalidKey`] before anything is sent.
    pub async fn apply(&self, batch: Batch) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        let writes: Vec<(String, Write)> = batch
            .writes
            .into_iter()
            .map(|write| (self.full(write.key()), write))
            .collect();
        match self.store.backend() {
            Backend::Embedded(store) => {
                // The last write of each key decides it; the keys go to one atomic
                // update, distinct.
                let mut keys: Vec<&str> = Vec::new();
                let mut last: Vec<&Write> = Vec::new();
                for (key, write) in &writes {
                    match keys.iter().position(|k| k == key) {
                        Some(at) => last[at] = write,
                        None => {
                            keys.push(key);
                            last.push(write);
                        }
                    }
                }
                let now = tokio::time::Instant::now();
                store.update_many(&keys, |slots| {
                    for (slot, write) in slots.iter_mut().zip(&last) {
                        match write {
                            Write::Set { value, ttl, .. } => {
                                slot.value = Some(super::Value::Bytes(value.clone()));
                                slot.expires_at = ttl.map(|ttl| now + ttl);
                            }
                            Write::Delete { .. } => slot.value = None,
                        }
                    }
                })
            }
            #[cfg(feature = "redis")]
            Backend::Redis(client) => {
                let keys: Vec<&str> = writes.iter().map(|(key, _)| key.as_str()).collect();
                if client.is_cluster() && super::by_slot(&keys).len() > 1 {
                    return Err(Error::InvalidKey {
                        key: writes[0].1.key().to_owned(),
                        reason: "a batch on a Redis Cluster keeps its keys in one hash slot: \
                                 give them a common hash tag, `{user:7}:a` and `{user:7}:b`",
                    });
                }
                let mut invocation = APPLY.prepare_invoke();
                for (key, write) in &writes {
                    invocation.key(key);
                    match write {
                        Write::Set { value, ttl, .. } => {
                            invocation
                                .arg("s")
                                .arg(value.as_slice())
                                .arg(ttl.map_or(0, super::ttl_millis));
                        }
                        Write::Delete { .. } => {
                            invocation.arg("d").arg("").arg(0);
                        }
                    }
                }
                client.invoke_script::<i64>(&invocation).await.map(drop)
            }
        }
    }
}

/// A batch's writes in one script: for key `i`, `ARGV` holds its operation (`s`et or
/// `d`elete), value and TTL in milliseconds (0: none).
#[cfg(feature = "redis")]
static APPLY: std::sync::LazyLock<::redis::Script> = std::sync::LazyLock::new(|| {
    ::redis::Script::new(
        r"
for i, key in ipairs(KEYS) do
  local at = (i - 1) * 3
  if ARGV[at + 1] == 's' then
    local ttl = tonumber(ARGV[at + 3])
    if ttl > 0 then
      redis.call('SET', key, ARGV[at + 2], 'PX', ttl)
    else
      redis.call('SET', key, ARGV[at + 2])
    end
  else
    redis.call('DEL', key)
  end
end
return #KEYS
",
    )
});
