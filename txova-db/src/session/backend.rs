//! The session store's operations, once per backend. A session's record, its user's
//! index and its user's revocation generation share a Redis Cluster hash tag (derived
//! from the user id, and carried in the session id), so every operation is one script
//! over one slot on Redis and one multi-key update on the embedded store: atomic, with
//! no window between a record and its index entry.

use std::collections::HashMap;
use std::time::Duration;

use crate::error::Error;
use crate::store::{Backend, Slot, Store, Value};

type Fields = HashMap<String, String>;

/// The keys of one user's sessions: all in the slot of the user's hash tag.
pub(crate) struct UserKeys {
    /// The sorted set of the user's session ids, scored by expiry.
    pub(crate) index: String,
    /// The user's revocation generation: a session is live only while the generation it
    /// was created under is current.
    pub(crate) generation: String,
}

/// The record field holding the generation a session was created under.
const GENERATION: &str = "generation";

#[cfg(feature = "redis")]
mod scripts {
    use std::sync::LazyLock;

    use redis::Script;

    /// Writes a new record stamped with the user's current generation, and indexes
    /// it, in one step. KEYS: record, index, generation. ARGV: now ms, expiry ms, id,
    /// ttl ms, then field/value pairs.
    pub(super) static CREATE: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
local generation = redis.call('GET', KEYS[3]) or '0'
redis.call('HSET', KEYS[1], 'generation', generation, unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
for i = 2, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 and redis.call('PTTL', KEYS[i]) < tonumber(ARGV[4]) then
    redis.call('PEXPIRE', KEYS[i], ARGV[4])
  end
end
return 1
",
        )
    });

    /// The record if it is live (its generation current), its `last_active` moved to
    /// now when the touch interval has passed; a revoked record is deleted and its
    /// index entry dropped. KEYS: record, index, generation. ARGV: id, now ms, interval
    /// ms (-1: do not touch).
    pub(super) static READ: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return fields end
local current = redis.call('GET', KEYS[3]) or '0'
local generation, at = nil, nil
for i = 1, #fields, 2 do
  if fields[i] == 'generation' then generation = fields[i + 1] end
  if fields[i] == 'last_active' then at = i end
end
if generation ~= current then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {}
end
local interval = tonumber(ARGV[3])
if at and interval >= 0 and tonumber(fields[at + 1]) + interval <= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'last_active', ARGV[2])
  fields[at + 1] = ARGV[2]
end
return fields
",
        )
    });

    /// Sets fields only if the record is live: a deleted or revoked session is never
    /// written back. KEYS: record, generation. ARGV: field/value pairs.
    pub(super) static UPDATE: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
local generation = redis.call('HGET', KEYS[1], 'generation')
if generation and generation == (redis.call('GET', KEYS[2]) or '0') then
  redis.call('HSET', KEYS[1], unpack(ARGV))
  return 1
end
return 0
",
        )
    });

    /// Deletes the record and its index entry; whether the session was live. KEYS:
    /// record, index, generation. ARGV: id.
    pub(super) static DELETE: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
local generation = redis.call('HGET', KEYS[1], 'generation')
local live = generation and generation == (redis.call('GET', KEYS[3]) or '0')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if live then return 1 end
return 0
",
        )
    });

    /// Drops expired entries and returns the rest, oldest first. KEYS: index. ARGV: now
    /// ms.
    pub(super) static LIST: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
",
        )
    });

    /// Revokes every session of the user: a new generation (so a session created
    /// under the old one, even one this call did not list, is dead), and the listed
    /// records and the index dropped; how many of those records were there. KEYS:
    /// index, generation, then records. ARGV: ttl ms.
    pub(super) static REVOKE_ALL: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
redis.call('INCR', KEYS[2])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
redis.call('DEL', KEYS[1])
local deleted = 0
for i = 3, #KEYS do
  deleted = deleted + redis.call('DEL', KEYS[i])
end
return deleted
",
        )
    });
}

/// The generation stored in a slot (0 when the key is missing).
fn generation_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::Bytes(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        _ => "0".to_owned(),
    }
}

/// Runs `update` on a session's record and its user's index and generation at once: the
/// embedded store's counterpart of a script over their slot.
fn in_user_slot<R>(
    store: &crate::store::EmbeddedStore,
    record: &str,
    user: &UserKeys,
    update: impl FnOnce(&mut Slot, &mut Slot, &mut Slot) -> R,
) -> Result<R, Error> {
    store.update_many(&[record, &user.index, &user.generation], |slots| {
        let [record, index, generation] = slots else {
            unreachable!("three keys, three slots")
        };
        update(record, index, generation)
    })
}

/// Whether the record in `record` is live: stamped with the generation in `generation`.
fn is_live(record: &Slot, generation: &Slot) -> bool {
    let current = generation_of(generation.value.as_ref());
    matches!(&record.value, Some(Value::Hash(fields)) if fields.get(GENERATION) == Some(&current))
}

/// Drops the record in `record` and its entry `id` from the index in `index`.
fn unlist(record: &mut Slot, index: &mut Slot, id: &str) {
    record.value = None;
    if let Some(Value::Sorted(entries)) = &mut index.value {
        entries.remove(id);
        if entries.is_empty() {
            index.value = None;
        }
    }
}

/// Keeps a key alive at least `ttl` from now.
fn extend(slot: &mut Slot, ttl: Duration) {
    let until = tokio::time::Instant::now() + ttl;
    slot.expires_at = Some(slot.expires_at.map_or(until, |at| at.max(until)));
}

/// A session record to create.
pub(crate) struct NewRecord<'a> {
    pub(crate) record: &'a str,
    pub(crate) id: &'a str,
    pub(crate) fields: &'a [(&'a str, String)],
    pub(crate) expires_ms: u64,
    pub(crate) now_ms: u64,
    pub(crate) ttl: Duration,
}

/// Creates the session record and its index entry, in one step.
pub(crate) async fn create(
    store: &Store,
    user: &UserKeys,
    new: &NewRecord<'_>,
) -> Result<(), Error> {
    let NewRecord {
        record,
        id,
        fields,
        expires_ms,
        now_ms,
        ttl,
    } = *new;
    match store.backend() {
        Backend::Embedded(store) => in_user_slot(
            store,
            record,
            user,
            |record_slot, index_slot, generation_slot| {
                let mut values: HashMap<String, String> = fields
                    .iter()
                    .map(|(f, v)| ((*f).to_owned(), v.clone()))
                    .collect();
                values.insert(
                    GENERATION.to_owned(),
                    generation_of(generation_slot.value.as_ref()),
                );
                record_slot.value = Some(Value::Hash(values));
                record_slot.expires_at = Some(tokio::time::Instant::now() + ttl);
                let mut index = match index_slot.value.take() {
                    Some(Value::Sorted(index)) => index,
                    _ => HashMap::new(),
                };
                index.retain(|_, &mut score| score > now_ms as f64);
                index.insert(id.to_owned(), expires_ms as f64);
                index_slot.value = Some(Value::Sorted(index));
                extend(index_slot, ttl);
                if generation_slot.value.is_some() {
                    extend(generation_slot, ttl);
                }
            },
        ),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            let mut invocation = scripts::CREATE.key(record);
            invocation
                .key(&user.index)
                .key(&user.generation)
                .arg(now_ms)
                .arg(expires_ms)
                .arg(id)
                .arg(crate::store::ttl_millis(ttl));
            for (field, value) in fields {
                invocation.arg(*field).arg(value);
            }
            client.invoke_script::<u8>(&invocation).await?;
            Ok(())
        }
    }
}

/// The record of session `id` if it is live; with `touch` (now ms, interval ms),
/// `last_active` is moved to now when the interval has passed. A revoked record is
/// deleted on the way.
pub(crate) async fn read(
    store: &Store,
    record: &str,
    user: &UserKeys,
    id: &str,
    touch: Option<(u64, u64)>,
) -> Result<Option<Fields>, Error> {
    match store.backend() {
        Backend::Embedded(store) => in_user_slot(
            store,
            record,
            user,
            |record_slot, index_slot, generation_slot| {
                if record_slot.value.is_some() && !is_live(record_slot, generation_slot) {
                    unlist(record_slot, index_slot, id);
                }
                let Some(Value::Hash(fields)) = &mut record_slot.value else {
                    return None;
                };
                if let Some((now_ms, interval_ms)) = touch {
                    let stale = fields
                        .get("last_active")
                        .and_then(|ms| ms.parse::<u64>().ok())
                        .is_some_and(|ms| ms.saturating_add(interval_ms) <= now_ms);
                    if stale {
                        fields.insert("last_active".into(), now_ms.to_string());
                    }
                }
                Some(fields.clone())
            },
        ),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            let (now_ms, interval) = match touch {
                Some((now_ms, interval_ms)) => {
                    (now_ms, i64::try_from(interval_ms).unwrap_or(i64::MAX))
                }
                None => (0, -1),
            };
            let fields: Fields = client
                .invoke_script(
                    scripts::READ
                        .key(record)
                        .key(&user.index)
                        .key(&user.generation)
                        .arg(id)
                        .arg(now_ms)
                        .arg(interval),
                )
                .await?;
            Ok((!fields.is_empty()).then_some(fields))
        }
    }
}

/// Sets `fields` if the session is live; whether it was.
pub(crate) async fn update(
    store: &Store,
    record: &str,
    user: &UserKeys,
    fields: &[(String, String)],
) -> Result<bool, Error> {
    match store.backend() {
        Backend::Embedded(store) => store.update_many(&[record, &user.generation], |slots| {
            let [record_slot, generation_slot] = slots else {
                unreachable!("two keys, two slots")
            };
            if !is_live(record_slot, generation_slot) {
                return false;
            }
            if let Some(Value::Hash(values)) = &mut record_slot.value {
                values.extend(fields.iter().cloned());
            }
            true
        }),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            let mut invocation = scripts::UPDATE.key(record);
            invocation.key(&user.generation);
            for (field, value) in fields {
                invocation.arg(field).arg(value);
            }
            Ok(client.invoke_script::<u8>(&invocation).await? == 1)
        }
    }
}

/// Deletes session `id`'s record and index entry; whether it was live.
pub(crate) async fn delete(
    store: &Store,
    record: &str,
    user: &UserKeys,
    id: &str,
) -> Result<bool, Error> {
    match store.backend() {
        Backend::Embedded(store) => in_user_slot(
            store,
            record,
            user,
            |record_slot, index_slot, generation_slot| {
                let live = is_live(record_slot, generation_slot);
                unlist(record_slot, index_slot, id);
                live
            },
        ),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => Ok(client
            .invoke_script::<u8>(
                scripts::DELETE
                    .key(record)
                    .key(&user.index)
                    .key(&user.generation)
                    .arg(id),
            )
            .await?
            == 1),
    }
}

/// The index's unexpired members, oldest first, after dropping the expired ones.
pub(crate) async fn list(
    store: &Store,
    user: &UserKeys,
    now_ms: u64,
) -> Result<Vec<String>, Error> {
    match store.backend() {
        Backend::Embedded(store) => store.update(&user.index, |slot| match &mut slot.value {
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
        }),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            client
                .invoke_script(scripts::LIST.key(&user.index).arg(now_ms))
                .await
        }
    }
}

/// Revokes every session of the user (a new generation), deleting `records` (those it
/// listed) and the index; how many of those records were there.
pub(crate) async fn revoke_all(
    store: &Store,
    user: &UserKeys,
    records: &[String],
    ttl: Duration,
) -> Result<u64, Error> {
    match store.backend() {
        Backend::Embedded(store) => {
            let mut keys: Vec<&str> = vec![&user.index, &user.generation];
            keys.extend(records.iter().map(String::as_str));
            store.update_many(&keys, |slots| {
                let (head, records) = slots.split_at_mut(2);
                let [index_slot, generation_slot] = head else {
                    unreachable!("two keys first")
                };
                let next = generation_of(generation_slot.value.as_ref())
                    .parse::<u64>()
                    .unwrap_or(0)
                    + 1;
                generation_slot.value = Some(Value::Bytes(next.to_string().into_bytes()));
                extend(generation_slot, ttl);
                index_slot.value = None;
                let mut deleted = 0;
                for record in records {
                    if record.value.take().is_some() {
                        deleted += 1;
                    }
                }
                deleted
            })
        }
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            let mut invocation = scripts::REVOKE_ALL.key(&user.index);
            invocation.key(&user.generation);
            for record in records {
                invocation.key(record);
            }
            invocation.arg(crate::store::ttl_millis(ttl));
            client.invoke_script(&invocation).await
        }
    }
}
