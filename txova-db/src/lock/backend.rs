//! The three lock operations, once per backend: a Lua script run by hash on Redis (one
//! round trip each), an update under the shard locks in process.

use std::time::Duration;

use crate::error::Error;
use crate::store::{Backend, Store, Value};

/// What one acquire attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The lock is ours; the fencing counter's new value.
    Acquired { fencing_token: u64 },
    /// Someone else holds it, for about `remaining` more (unknown: no expiry seen).
    Held { remaining: Option<Duration> },
}

/// `SET key token NX PX ttl`, and on success `INCR` of the fencing counter, atomically.
/// Replies `{fencing_token, 0}` or `{0, remaining_ttl_ms}`.
#[cfg(feature = "redis")]
static ACQUIRE: std::sync::LazyLock<::redis::Script> = std::sync::LazyLock::new(|| {
    ::redis::Script::new(
        r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {redis.call('INCR', KEYS[2]), 0}
end
return {0, redis.call('PTTL', KEYS[1])}
",
    )
});

/// Deletes the lock only if `token` still owns it.
#[cfg(feature = "redis")]
static RELEASE: std::sync::LazyLock<::redis::Script> = std::sync::LazyLock::new(|| {
    ::redis::Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// Resets the lock's expiry only if `token` still owns it.
#[cfg(feature = "redis")]
static EXTEND: std::sync::LazyLock<::redis::Script> = std::sync::LazyLock::new(|| {
    ::redis::Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
",
    )
});

pub(crate) async fn acquire(
    store: &Store,
    key: &str,
    fence_key: &str,
    token: &str,
    ttl: Duration,
) -> Result<Attempt, Error> {
    match store.backend() {
        Backend::Embedded(store) => Ok(store.update_many(&[key, fence_key], |slots| {
            let now = tokio::time::Instant::now();
            if slots[0].value.is_some() {
                return Attempt::Held {
                    remaining: slots[0].expires_at.map(|at| at - now),
                };
            }
            slots[0].value = Some(Value::Bytes(token.as_bytes().to_vec()));
            slots[0].expires_at = Some(now + ttl);
            let fencing_token = match &slots[1].value {
                Some(Value::Bytes(counter)) => std::str::from_utf8(counter)
                    .ok()
                    .and_then(|text| text.parse::<u64>().ok())
                    .unwrap_or(0),
                _ => 0,
            } + 1;
            slots[1].value = Some(Value::Bytes(fencing_token.to_string().into_bytes()));
            Attempt::Acquired { fencing_token }
        })),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            let (fencing_token, remaining): (u64, i64) = client
                .invoke_script(
                    ACQUIRE
                        .key(key)
                        .key(fence_key)
                        .arg(token)
                        .arg(crate::store::ttl_millis(ttl)),
                )
                .await?;
            Ok(if fencing_token > 0 {
                Attempt::Acquired { fencing_token }
            } else {
                Attempt::Held {
                    // PTTL: -1 no expiry, -2 gone since the SET.
                    remaining: u64::try_from(remaining).ok().map(Duration::from_millis),
                }
            })
        }
    }
}

/// Whether `token` owned the lock (and so released it).
pub(crate) async fn release(store: &Store, key: &str, token: &str) -> Result<bool, Error> {
    match store.backend() {
        Backend::Embedded(store) => Ok(store.update(key, |slot| {
            let owned =
                matches!(&slot.value, Some(Value::Bytes(owner)) if owner == token.as_bytes());
            if owned {
                slot.value = None;
            }
            owned
        })),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            let deleted: u64 = client.invoke_script(RELEASE.key(key).arg(token)).await?;
            Ok(deleted == 1)
        }
    }
}

/// Whether `token` owned the lock (and so its expiry is now `ttl` from now).
pub(crate) async fn extend(
    store: &Store,
    key: &str,
    token: &str,
    ttl: Duration,
) -> Result<bool, Error> {
    match store.backend() {
        Backend::Embedded(store) => Ok(store.update(key, |slot| {
            let owned =
                matches!(&slot.value, Some(Value::Bytes(owner)) if owner == token.as_bytes());
            if owned {
                slot.expires_at = Some(tokio::time::Instant::now() + ttl);
            }
            owned
        })),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            let extended: u64 = client
                .invoke_script(
                    EXTEND
                        .key(key)
                        .arg(token)
                        .arg(crate::store::ttl_millis(ttl)),
                )
                .await?;
            Ok(extended == 1)
        }
    }
}
