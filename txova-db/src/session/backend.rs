//! The session store's operations, once per backend. Each touches one key, so each is
//! atomic on Redis (a script or one command) and on a cluster, where a session and its
//! user's index live in different slots; the order of the steps in `Sessions` makes
//! the index safe to be briefly ahead of the records (it is pruned on reading).

use std::collections::HashMap;
use std::time::Duration;

use crate::error::Error;
use crate::store::{Backend, Store, Value};

type Fields = HashMap<String, String>;

#[cfg(feature = "redis")]
mod scripts {
    use std::sync::LazyLock;

    use redis::Script;

    /// Writes a new record and its expiry. ARGV: ttl ms, then field/value pairs.
    pub(super) static CREATE: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return redis.call('PEXPIRE', KEYS[1], ARGV[1])
",
        )
    });

    /// Sets fields only if the record still exists: a deleted session is never written
    /// back. ARGV: field/value pairs.
    pub(super) static UPDATE: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], unpack(ARGV))
  return 1
end
return 0
",
        )
    });

    /// Reads the record and, when its `last_active` is older than the touch interval,
    /// sets it to now — one round trip either way. ARGV: now ms, interval ms.
    pub(super) static READ_AND_TOUCH: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return fields end
for i = 1, #fields, 2 do
  if fields[i] == 'last_active' then
    if tonumber(fields[i + 1]) + tonumber(ARGV[2]) <= tonumber(ARGV[1]) then
      redis.call('HSET', KEYS[1], 'last_active', ARGV[1])
      fields[i + 1] = ARGV[1]
    end
    break
  end
end
return fields
",
        )
    });

    /// Deletes the record, returning its user id (nil if it was gone).
    pub(super) static TAKE: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
local user = redis.call('HGET', KEYS[1], 'user_id')
redis.call('DEL', KEYS[1])
return user
",
        )
    });

    /// Drops expired entries, adds one, and keeps the index alive as long as its
    /// longest-lived entry. ARGV: now ms, expiry ms (the score), member, ttl ms.
    pub(super) static INDEX_ADD: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return 1
",
        )
    });

    /// Drops expired entries and returns the rest, oldest first. ARGV: now ms.
    pub(super) static INDEX_LIST: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
",
        )
    });
}

pub(crate) async fn create(
    store: &Store,
    key: &str,
    fields: &[(&str, String)],
    ttl: Duration,
) -> Result<(), Error> {
    match store.backend() {
        Backend::Embedded(store) => {
            store.update(key, |slot| {
                slot.value = Some(Value::Hash(
                    fields
                        .iter()
                        .map(|(f, v)| ((*f).to_owned(), v.clone()))
                        .collect(),
                ));
                slot.expires_at = Some(tokio::time::Instant::now() + ttl);
            });
            Ok(())
        }
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            let mut invocation = scripts::CREATE.key(key);
            invocation.arg(crate::store::ttl_millis(ttl));
            for (field, value) in fields {
                invocation.arg(*field).arg(value);
            }
            client.invoke_script::<u8>(&invocation).await?;
            Ok(())
        }
    }
}

pub(crate) async fn get(store: &Store, key: &str) -> Result<Option<Fields>, Error> {
    match store.backend() {
        Backend::Embedded(store) => Ok(store.update(key, |slot| match &slot.value {
            Some(Value::Hash(fields)) => Some(fields.clone()),
            _ => None,
        })),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            let fields: Fields = client.query(::redis::cmd("HGETALL").arg(key)).await?;
            Ok((!fields.is_empty()).then_some(fields))
        }
    }
}

/// The record, with `last_active` moved to `now_ms` if it was `interval_ms` or more
/// behind (only if the record exists).
pub(crate) async fn read_and_touch(
    store: &Store,
    key: &str,
    now_ms: u64,
    interval_ms: u64,
) -> Result<Option<Fields>, Error> {
    match store.backend() {
        Backend::Embedded(store) => Ok(store.update(key, |slot| match &mut slot.value {
            Some(Value::Hash(fields)) => {
                let stale = fields
                    .get("last_active")
                    .and_then(|ms| ms.parse::<u64>().ok())
                    .is_some_and(|ms| ms.saturating_add(interval_ms) <= now_ms);
                if stale {
                    fields.insert("last_active".into(), now_ms.to_string());
                }
                Some(fields.clone())
            }
            _ => None,
        })),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            let fields: Fields = client
                .invoke_script(
                    scripts::READ_AND_TOUCH
                        .key(key)
                        .arg(now_ms)
                        .arg(interval_ms),
                )
                .await?;
            Ok((!fields.is_empty()).then_some(fields))
        }
    }
}

/// Sets `fields` if the record exists; whether it did.
pub(crate) async fn update(
    store: &Store,
    key: &str,
    fields: &[(String, String)],
) -> Result<bool, Error> {
    match store.backend() {
        Backend::Embedded(store) => Ok(store.update(key, |slot| match &mut slot.value {
            Some(Value::Hash(record)) => {
                record.extend(fields.iter().cloned());
                true
            }
            _ => false,
        })),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            let mut invocation = scripts::UPDATE.key(key);
            for (field, value) in fields {
                invocation.arg(field).arg(value);
            }
            Ok(client.invoke_script::<u8>(&invocation).await? == 1)
        }
    }
}

/// Deletes the record; the user id it had, if it existed.
pub(crate) async fn take(store: &Store, key: &str) -> Result<Option<String>, Error> {
    match store.backend() {
        Backend::Embedded(store) => Ok(store.update(key, |slot| match slot.value.take() {
            Some(Value::Hash(mut record)) => record.remove("user_id"),
            _ => None,
        })),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => client.invoke_script(&scripts::TAKE.key(key)).await,
    }
}

pub(crate) async fn index_add(
    store: &Store,
    key: &str,
    member: &str,
    expires_ms: u64,
    now_ms: u64,
    ttl: Duration,
) -> Result<(), Error> {
    match store.backend() {
        Backend::Embedded(store) => {
            store.update(key, |slot| {
                let mut index = match slot.value.take() {
                    Some(Value::Sorted(index)) => index,
                    _ => HashMap::new(),
                };
                index.retain(|_, &mut score| score > now_ms as f64);
                index.insert(member.to_owned(), expires_ms as f64);
                slot.value = Some(Value::Sorted(index));
                let until = tokio::time::Instant::now() + ttl;
                slot.expires_at = Some(slot.expires_at.map_or(until, |at| at.max(until)));
            });
            Ok(())
        }
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            client
                .invoke_script::<u8>(
                    scripts::INDEX_ADD
                        .key(key)
                        .arg(now_ms)
                        .arg(expires_ms)
                        .arg(member)
                        .arg(crate::store::ttl_millis(ttl)),
                )
                .await?;
            Ok(())
        }
    }
}

/// The index's unexpired members, oldest first, after dropping the expired ones.
pub(crate) async fn index_list(
    store: &Store,
    key: &str,
    now_ms: u64,
) -> Result<Vec<String>, Error> {
    match store.backend() {
        Backend::Embedded(store) => Ok(store.update(key, |slot| match &mut slot.value {
            Some(Value::Sorted(index)) => {
                index.retain(|_, &mut score| score > now_ms as f64);
                let mut members: Vec<(&String, &f64)> = index.iter().collect();
                members.sort_by(|a, b| a.1.total_cmp(b.1).then_with(|| a.0.cmp(b.0)));
                let members = members.into_iter().map(|(m, _)| m.clone()).collect();
                if index.is_empty() {
                    slot.value = None;
                }
                members
            }
            _ => Vec::new(),
        })),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            client
                .invoke_script(scripts::INDEX_LIST.key(key).arg(now_ms))
                .await
        }
    }
}

pub(crate) async fn index_remove(store: &Store, key: &str, members: &[&str]) -> Result<(), Error> {
    if members.is_empty() {
        return Ok(());
    }
    match store.backend() {
        Backend::Embedded(store) => {
            store.update(key, |slot| {
                if let Some(Value::Sorted(index)) = &mut slot.value {
                    for member in members {
                        index.remove(*member);
                    }
                    if index.is_empty() {
                        slot.value = None;
                    }
                }
            });
            Ok(())
        }
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            client
                .query::<u64>(::redis::cmd("ZREM").arg(key).arg(members))
                .await?;
            Ok(())
        }
    }
}
