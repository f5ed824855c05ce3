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

/// `SET key token NX PX ttl`, and on success the next fencing token: the larger of the
/// counter plus one and the server's clock in microseconds, stored back in the counter
/// for `fence_ttl`. Replies `{fencing_token, 0}` or `{0, remaining_ttl_ms}`. (A Lua
/// number holds microseconds since 1970 exactly: they stay under 2^53 until 2255.)
#[cfg(feature = "redis")]
static ACQUIRE: std::sync::LazyLock<::redis::Script> = std::sync::LazyLock::new(|| {
    ::redis::Script::new(
        r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local now = redis.call('TIME')
  local clock = tonumber(now[1]) * 1000000 + tonumber(now[2])
  local token = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, clock)
  redis.call('SET', KEYS[2], string.format('%.0f', token), 'PX', ARGV[3])
  return {token, 0}
end
return {0, redis.call('PTTL', KEYS[1])}
",
    )
});

/// This machine's clock in microseconds since 1970: the embedded store's "server clock".
fn clock_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
        })
}

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
        Backend::Embedded(store) => store.update_many(&[key, fence_key], |slots| {
            let now = tokio::time::Instant::now();
            if slots[0].value.is_some() {
                return Attempt::Held {
                    remaining: slots[0].expires_at.map(|at| at - now),
                };
            }
            slots[0].value = Some(Value::Bytes(token.as_bytes().to_vec()));
            slots[0].expires_at = Some(now + ttl);
            let last = match &slots[1].value {
                Some(Value::Bytes(counter)) => std::str::from_utf8(counter)
                    .ok()
                    .and_then(|text| text.parse::<u64>().ok())
                    .unwrap_or(0),
                _ => 0,
            };
            let fencing_token = (last + 1).max(clock_micros());
            slots[1].value = Some(Value::Bytes(fencing_token.to_string().into_bytes()));
            slots[1].expires_at = Some(now + super::FENCE_TTL);
            Attempt::Acquired { fencing_token }
        }),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            let (fencing_token, remaining): (u64, i64) = client
                .invoke_script(
                    ACQUIRE
                        .key(key)
                        .key(fence_key)
                        .arg(token)
                        .arg(crate::store::ttl_millis(ttl))
                        .arg(crate::store::ttl_millis(super::FENCE_TTL)),
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
        Backend::Embedded(store) => store.update(key, |slot| {
            let owned =
                matches!(&slot.value, Some(Value::Bytes(owner)) if owner == token.as_bytes());
            if owned {
                slot.value = None;
            }
            owned
        }),
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
        Backend::Embedded(store) => store.update(key, |slot| {
            let owned =
                matches!(&slot.value, Some(Value::Bytes(owner)) if owner == token.as_bytes());
            if owned {
                slot.expires_at = Some(tokio::time::Instant::now() + ttl);
            }
            owned
        }),
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
