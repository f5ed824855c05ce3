//! The embedded store's copy on disk: every key's latest state in a fjall keyspace, so
//! a store opened again at the same path starts where the last one stopped.
//!
//! The store keeps working in memory; this module is only told, under the store's
//! shard locks, the final state of the keys each update changed, and writes them as one
//! fjall batch before the update is visible. A batch is atomic in fjall's journal, so a
//! process killed at any point reopens with every update whole or absent, never torn.
//!
//! An entry is its value and its expiry as wall-clock milliseconds (the store runs on
//! `tokio::time`, which restarts at every process): `[version, kind, expiry: u64 LE]`
//! then the value — a string's bytes, a hash's `(len u32 LE, field, len, value)`
//! pairs, or a sorted set's `(len, member, score: f64 LE)`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::embedded::{Durability, KeyState, Value};
use crate::error::{Error, ErrorKind};

/// The entry format's version byte.
const FORMAT: u8 = 1;
const KIND_BYTES: u8 = 0;
const KIND_HASH: u8 = 1;
const KIND_SORTED: u8 = 2;
const HEADER: usize = 10;
/// The longest key fjall stores.
const MAX_KEY: usize = u16::MAX as usize;

/// The fjall database behind a persistent [`EmbeddedStore`](super::EmbeddedStore).
pub(super) struct Disk {
    db: fjall::Database,
    entries: fjall::Keyspace,
    durability: Durability,
    path: PathBuf,
    /// `embedded at <path>`, for [`Store::describe`](super::Store::describe).
    described: String,
}

/// What went wrong with the store's files.
#[derive(Debug, thiserror::Error)]
pub(super) enum DiskError {
    #[error(transparent)]
    Engine(#[from] fjall::Error),
    #[error("entry `{key}` is unreadable: {reason}")]
    Corrupt { key: String, reason: &'static str },
}

/// One key's state as loaded: its value and expiry (wall-clock, since the Unix epoch).
pub(super) struct Loaded {
    pub(super) key: String,
    pub(super) value: Value,
    pub(super) expires_at: Option<Duration>,
}

impl Disk {
    /// Opens (or creates) the store's files at `path`. Fails if another store, in this
    /// process or another, has them open.
    pub(super) fn open(path: &Path, durability: Durability) -> Result<Self, Error> {
        let fail = |source: DiskError| failure(path, source);
        let db = fjall::Database::builder(path)
            .open()
            .map_err(|e| fail(e.into()))?;
        let entries = db
            .keyspace("entries", fjall::KeyspaceCreateOptions::default)
            .map_err(|e| fail(e.into()))?;
        Ok(Self {
            db,
            entries,
            durability,
            path: path.to_owned(),
            described: format!("embedded at {}", path.display()),
        })
    }

    pub(super) fn durability(&self) -> Durability {
        self.durability
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn describe(&self) -> &str {
        &self.described
    }

    /// Every entry still live at `wall_now`; the expired ones are deleted on the way.
    pub(super) fn load(&self, wall_now: Duration) -> Result<Vec<Loaded>, Error> {
        let mut live = Vec::new();
        let mut expired = Vec::new();
        for guard in self.entries.iter() {
            let (key, bytes) = guard.into_inner().map_err(|e| self.fail(e.into()))?;
            let key = String::from_utf8(key.to_vec()).map_err(|_| {
                self.fail(DiskError::Corrupt {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    reason: "the key is not UTF-8",
                })
            })?;
            let (value, expires_at) = decode(&bytes).map_err(|reason| {
                self.fail(DiskError::Corrupt {
                    key: key.clone(),
                    reason,
                })
            })?;
            if expires_at.is_some_and(|at| at <= wall_now) {
                expired.push(key);
            } else {
                live.push(Loaded {
                    key,
                    value,
                    expires_at,
                });
            }
        }
        if !expired.is_empty() {
            let mut batch = self.db.batch();
            for key in expired {
                batch.remove(&self.entries, key.as_bytes());
            }
            batch.commit().map_err(|e| self.fail(e.into()))?;
        }
        Ok(live)
    }

    /// Writes each key's new state (`None`: deleted) as one atomic batch, persisted as
    /// [`Durability`] says before it returns. Expiries are wall-clock.
    pub(super) fn write(&self, states: &[KeyState<'_>]) -> Result<(), Error> {
        #[cfg(test)]
        if FULL.get() {
            let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
            return Err(self.fail(DiskError::Engine(fjall::Error::Io(full))));
        }
        // A batch left to fjall's default (`None`) stays in the journal's buffer in this
        // process: a SIGKILL loses it. `Buffer` hands it to the operating system.
        let mut batch = self.db.batch().durability(Some(match self.durability {
            Durability::Buffered => fjall::PersistMode::Buffer,
            Durability::Synced => fjall::PersistMode::SyncAll,
        }));
        for (key, state) in states {
            // fjall asserts a key's length fits in 16 bits only after the batch is in
            // its journal (as a truncated length): refuse it before.
            if key.len() > MAX_KEY {
                return Err(too_large(
                    key,
                    "a key of the persistent store is at most 65,535 bytes",
                ));
            }
            match state {
                Some((value, expires_at)) => {
                    let entry = encode(value, *expires_at);
                    if u32::try_from(entry.len()).is_err() {
                        return Err(too_large(
                            key,
                            "a value of the persistent store is under 4 GiB",
                        ));
                    }
                    batch.insert(&self.entries, key.as_bytes(), entry);
                }
                None => batch.remove(&self.entries, key.as_bytes()),
            }
        }
        batch.commit().map_err(|e| self.fail(e.into()))
    }

    fn fail(&self, source: DiskError) -> Error {
        failure(&self.path, source)
    }
}

#[cfg(test)]
thread_local! {
    /// While set, this thread's writes fail as on a full disk (no test can fill a real
    /// one here): what the store does when its disk refuses.
    pub(super) static FULL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// [`Error::InvalidKey`] for `key` (its first 64 bytes: it may be huge).
fn too_large(key: &str, reason: &'static str) -> Error {
    let mut end = key.len().min(64);
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    Error::InvalidKey {
        key: format!("{}…", &key[..end]),
        reason,
    }
}

fn failure(path: &Path, source: DiskError) -> Error {
    Error::Store {
        kind: ErrorKind::Cache,
        target: format!("embedded at {}", path.display()),
        source: Box::new(source),
    }
}

fn encode(value: &Value, expires_at: Option<Duration>) -> Vec<u8> {
    let (kind, size) = match value {
        Value::Bytes(bytes) => (KIND_BYTES, bytes.len()),
        Value::Hash(fields) => (
            KIND_HASH,
            fields.iter().map(|(f, v)| 8 + f.len() + v.len()).sum(),
        ),
        Value::Sorted(members) => (KIND_SORTED, members.keys().map(|m| 12 + m.len()).sum()),
    };
    let mut out = Vec::with_capacity(HEADER + size);
    out.push(FORMAT);
    out.push(kind);
    // 0 is "never": an expiry is at least 1 ms after the epoch.
    let millis = expires_at.map_or(0, |at| {
        u64::try_from(at.as_millis()).unwrap_or(u64::MAX).max(1)
    });
    out.extend_from_slice(&millis.to_le_bytes());
    match value {
        Value::Bytes(bytes) => out.extend_from_slice(bytes),
        Value::Hash(fields) => {
            for (field, value) in fields {
                put(&mut out, field.as_bytes());
                put(&mut out, value.as_bytes());
            }
        }
        Value::Sorted(members) => {
            for (member, score) in members {
                put(&mut out, member.as_bytes());
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
    }
    out
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    // Fields and members are text the patterns built: far below 4 GiB.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

fn decode(bytes: &[u8]) -> Result<(Value, Option<Duration>), &'static str> {
    let Some((header, mut rest)) = bytes.split_first_chunk::<HEADER>() else {
        return Err("shorter than its header");
    };
    if header[0] != FORMAT {
        return Err("written by another version of the entry format");
    }
    let millis = u64::from_le_bytes([
        header[2], header[3], header[4], header[5], header[6], header[7], header[8], header[9],
    ]);
    let expires_at = (millis != 0).then(|| Duration::from_millis(millis));
    let value = match header[1] {
        KIND_BYTES => Value::Bytes(rest.to_vec()),
        KIND_HASH => {
            let mut fields = std::collections::HashMap::new();
            while !rest.is_empty() {
                let field = text(take(&mut rest)?)?;
                let value = text(take(&mut rest)?)?;
                fields.insert(field, value);
            }
            Value::Hash(fields)
        }
        KIND_SORTED => {
            let mut members = std::collections::HashMap::new();
            while !rest.is_empty() {
                let member = text(take(&mut rest)?)?;
                let Some((score, after)) = rest.split_first_chunk::<8>() else {
                    return Err("a sorted-set score is cut short");
                };
                members.insert(member, f64::from_le_bytes(*score));
                rest = after;
            }
            Value::Sorted(members)
        }
        _ => return Err("an unknown value kind"),
    };
    Ok((value, expires_at))
}

/// The next length-prefixed run of `rest`.
fn take<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], &'static str> {
    let Some((len, after)) = rest.split_first_chunk::<4>() else {
        return Err("a length is cut short");
    };
    let len = u32::from_le_bytes(*len) as usize;
    if after.len() < len {
        return Err("a field is cut short");
    }
    let (run, after) = after.split_at(len);
    *rest = after;
    Ok(run)
}

fn text(bytes: &[u8]) -> Result<String, &'static str> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a field is not UTF-8")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use proptest::prelude::*;

    use super::{Value, decode, encode};

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(Value::Bytes),
            proptest::collection::hash_map(".{0,12}", ".{0,12}", 0..6).prop_map(Value::Hash),
            proptest::collection::hash_map(".{0,12}", any::<f64>(), 0..6).prop_map(Value::Sorted),
        ]
    }

    /// `NaN != NaN`: compare scores by their bits.
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Sorted(a), Value::Sorted(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(m, s)| b.get(m).is_some_and(|t| t.to_bits() == s.to_bits()))
            }
            _ => a == b,
        }
    }

    proptest! {
        #[test]
        fn entries_decode_to_what_was_encoded(value in value(), millis in proptest::option::of(1u64..u64::MAX)) {
            let expires_at = millis.map(Duration::from_millis);
            let (back, at) = decode(&encode(&value, expires_at)).expect("decodes");
            prop_assert!(same(&back, &value), "{back:?} != {value:?}");
            prop_assert_eq!(at, expires_at);
        }

        #[test]
        fn a_cut_or_damaged_entry_is_an_error_not_a_panic(value in value(), cut in any::<prop::sample::Index>(), flip in any::<u8>()) {
            let bytes = encode(&value, None);
            let cut = cut.index(bytes.len());
            // Whatever the bytes, decoding answers (an error, or a value for a cut
            // string, which is a shorter string); it never panics or over-reads.
            let _ = decode(&bytes[..cut]);
            let mut damaged = bytes.clone();
            damaged[cut] ^= flip;
            let _ = decode(&damaged);
        }
    }

    #[test]
    fn headers_of_other_formats_are_refused() {
        assert!(decode(&[]).is_err());
        let mut bytes = encode(&Value::Bytes(b"x".to_vec()), None);
        bytes[0] = 2;
        assert!(decode(&bytes).is_err());
        let mut bytes = encode(
            &Value::Hash(HashMap::from([("a".into(), "b".into())])),
            None,
        );
        bytes[1] = 9;
        assert!(decode(&bytes).is_err());
        bytes[1] = 1;
        bytes.pop();
        assert!(decode(&bytes).is_err(), "a hash value cut short");
    }
}
