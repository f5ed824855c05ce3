//! The embedded store kept on disk, across restarts: what was live comes back and what
//! expired does not; sessions, held locks, fencing tokens and rate-limit windows carry
//! over; one directory has one store at a time; and a process killed with SIGKILL in
//! the middle of its writes reopens with every acknowledged write and no torn one.
//! (The store's contract itself runs on it with the other stores: `support::stores`.)

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use txova_db::ErrorKind;
use txova_db::lock::{LockOptions, Locks};
use txova_db::rate_limit::{RateLimit, RateLimiter};
use txova_db::session::{NewSession, Sessions};
use txova_db::store::{Batch, Durability, EmbeddedStore, Store};

use crate::support::store_dir;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[tokio::test]
async fn a_reopened_store_keeps_what_was_live_and_drops_what_expired() {
    let dir = store_dir("reopened");
    {
        let kv = Store::embedded_at(&dir).unwrap().kv("t").unwrap();
        kv.set("forever", b"1".to_vec(), None).await.unwrap();
        kv.set("short", b"2".to_vec(), Some(Duration::from_millis(150)))
            .await
            .unwrap();
        kv.set("long", b"3".to_vec(), Some(Duration::from_secs(3600)))
            .await
            .unwrap();
        kv.set("gone", b"4".to_vec(), None).await.unwrap();
        kv.apply(
            Batch::new()
                .set("a", b"5".to_vec(), None)
                .set("b", b"6".to_vec(), None)
                .delete("gone"),
        )
        .await
        .unwrap();
        kv.set("replaced", b"old".to_vec(), None).await.unwrap();
        kv.set("replaced", b"new".to_vec(), None).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(250)).await;

    let store = Store::embedded_at(&dir).unwrap();
    let kv = store.kv("t").unwrap();
    let all = kv.scan_prefix("").await.unwrap();
    let keys: Vec<&str> = all.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "forever", "long", "replaced"]);
    assert_eq!(
        kv.get("replaced").await.unwrap().as_deref(),
        Some(&b"new"[..])
    );
    let embedded = store.as_embedded().unwrap();
    assert_eq!(embedded.len(), 5, "the expired entry was not loaded");
    let left = embedded.ttl("kv:t:long").unwrap().unwrap();
    assert!(
        left > Duration::from_secs(3590) && left <= Duration::from_secs(3600),
        "the TTL continues from where it was: {left:?}"
    );
    assert_eq!(embedded.ttl("kv:t:forever"), Some(None));
    drop((kv, store));

    // Deleted on reopening, not only skipped: a third open finds the same.
    let store = EmbeddedStore::open(&dir).unwrap();
    assert_eq!(store.len(), 5);
    assert_eq!(store.durability(), Some(Durability::Buffered));
    assert_eq!(store.path(), Some(dir.as_path()));
}

/// A service restarted: its users stay signed in, a lock its last run held stays held
/// until its TTL, fencing tokens keep increasing, and a rate limit keeps its window.
#[test]
fn sessions_locks_and_rate_limits_carry_over_a_restart() {
    let dir = store_dir("carry_over");
    // A bucket of 3 refilling over an hour: empty, it admits the next call in 20 min.
    let limit = RateLimit::token_bucket(3, Duration::from_secs(3600));
    let (session_id, token, guard) = runtime().block_on(async {
        let store = Store::embedded_at(&dir).unwrap();
        let session = Sessions::new(store.clone())
            .create(
                NewSession::new("ana")
                    .device_id("phone")
                    .data("theme", "dark"),
            )
            .await
            .unwrap();
        let limiter = RateLimiter::new(store.clone());
        for _ in 0..3 {
            assert!(limiter.check(&limit, "ana").await.unwrap().allowed());
        }
        let guard = Locks::new(store)
            .acquire_with(
                "nightly",
                LockOptions::new()
                    .ttl(Duration::from_secs(60))
                    .watchdog(false),
            )
            .await
            .unwrap();
        (session.id, guard.fencing_token(), guard)
    });
    // The runtime is gone, with the lock's keeper: the guard dropped now cannot
    // release it, as when a process dies holding a lock.
    drop(guard);

    runtime().block_on(async {
        let store = Store::embedded_at(&dir).unwrap();
        let sessions = Sessions::new(store.clone());
        let session = sessions.get(session_id.as_str()).await.unwrap().unwrap();
        assert_eq!(session.user_id, "ana");
        assert_eq!(session.device_id.as_deref(), Some("phone"));
        assert_eq!(session.data.get("theme").map(String::as_str), Some("dark"));
        let listed = sessions.list_for_user("ana").await.unwrap();
        assert_eq!(
            listed.len(),
            1,
            "the user's index came back with the record"
        );

        let decision = RateLimiter::new(store.clone())
            .check(&limit, "ana")
            .await
            .unwrap();
        assert!(
            !decision.allowed(),
            "the bucket's three calls are remembered"
        );
        let retry = decision.retry_after().unwrap();
        assert!(
            retry > Duration::from_secs(1100) && retry <= Duration::from_secs(1200),
            "the refill continues from the first run's clock: {retry:?}"
        );

        let locks = Locks::new(store);
        assert!(
            locks.try_acquire("nightly").await.unwrap().is_none(),
            "held until its TTL by the run that died"
        );
        let other = locks.acquire("other").await.unwrap();
        assert!(other.fencing_token() > token);
        other.release().await.unwrap();
    });
}

/// The disk refuses what memory would take: a key over fjall's 65,535 bytes is an
/// error before anything is written, and the store is as it was, now and reopened.
#[tokio::test]
async fn a_key_too_long_for_the_disk_is_refused_and_changes_nothing() {
    let dir = store_dir("long_key");
    let long = "k".repeat(70_000);
    {
        let kv = Store::embedded_at(&dir).unwrap().kv("t").unwrap();
        kv.set("a", b"1".to_vec(), None).await.unwrap();
        let err = kv.set(&long, b"x".to_vec(), None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey, "{err}");
        assert!(err.to_string().len() < 300, "the key is cut in the error");
        let err = kv
            .apply(
                Batch::new()
                    .set("a", b"2".to_vec(), None)
                    .set(&long, vec![], None),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        assert_eq!(
            kv.get("a").await.unwrap().as_deref(),
            Some(&b"1"[..]),
            "all or none"
        );
        assert_eq!(kv.get(&long).await.unwrap(), None);
    }
    let kv = Store::embedded_at(&dir).unwrap().kv("t").unwrap();
    assert_eq!(
        kv.scan_prefix("").await.unwrap(),
        [("a".to_owned(), b"1".to_vec())]
    );
}

/// Changes the store's entries at `dir` behind its back, through fjall directly, and
/// persists the change (no store may have `dir` open).
fn on_disk(dir: &Path, change: impl FnOnce(&fjall::Keyspace) -> fjall::Result<()>) {
    let db = fjall::Database::builder(dir).open().unwrap();
    let entries = db
        .keyspace("entries", fjall::KeyspaceCreateOptions::default)
        .unwrap();
    change(&entries).unwrap();
    db.persist(fjall::PersistMode::SyncAll).unwrap();
}

/// An entry the store cannot read back (its bytes damaged, its key not UTF-8) stops
/// the store from opening, with an error that names the entry, rather than a store
/// that silently lacks it; the refusal changes nothing on disk.
#[tokio::test]
async fn an_unreadable_entry_on_disk_is_refused_by_name() {
    // An entry as the store writes it: format 1, a byte string, no expiry, "x".
    let good = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'x'];
    let cases: [(&str, &[u8], &[u8], &str); 3] = [
        ("cut", b"t:cut", &good[..6], "entry `t:cut` is unreadable"),
        (
            "kind",
            b"t:kind",
            &[1, 9, 0, 0, 0, 0, 0, 0, 0, 0],
            "entry `t:kind` is unreadable",
        ),
        ("key", b"t:\xff\xfe", &good, "is not UTF-8"),
    ];
    for (case, key, bytes, says) in cases {
        let dir = store_dir(&format!("unreadable_{case}"));
        let kv = Store::embedded_at(&dir).unwrap().kv("t").unwrap();
        kv.set("fine", b"1".to_vec(), None).await.unwrap();
        drop(kv);
        on_disk(&dir, |entries| entries.insert(key, bytes));
        let err = Store::embedded_at(&dir).map(|_| ()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cache, "{case}: {err}");
        let message = err.to_string();
        assert!(message.contains(says), "{case}: {message}");
        assert!(
            message.contains(&dir.display().to_string()),
            "{case}: {message}"
        );
        // Refusing destroyed nothing: without the damaged entry the rest is there.
        on_disk(&dir, |entries| entries.remove(key));
        let kv = Store::embedded_at(&dir).unwrap().kv("t").unwrap();
        assert_eq!(kv.get("fine").await.unwrap(), Some(b"1".to_vec()), "{case}");
    }
}

#[tokio::test]
async fn one_directory_has_one_store_at_a_time() {
    let dir = store_dir("exclusive");
    let first = Store::embedded_at(&dir).unwrap();
    let err = Store::embedded_at(&dir).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cache);
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "the error names the directory: {err}"
    );
    let clone = first.clone();
    drop(first);
    assert!(
        Store::embedded_at(&dir).is_err(),
        "a clone keeps the directory open"
    );
    drop(clone);
    Store::embedded_at(&dir).expect("free once every clone is dropped");
}

/// How many times the writer is killed, and how many acknowledged rounds each run
/// waits for before killing it (it goes on writing meanwhile).
const KILLS: usize = 4;
const ROUNDS_BEFORE_KILL: u64 = 150;
/// Keys every batch of the writer sets to its round number.
const BATCH_KEYS: usize = 10;

/// SIGKILL in the middle of writes, four times over one directory (twice with each
/// durability): each reopening finds every acknowledged write and no torn one.
#[test]
fn a_store_killed_mid_write_reopens_with_every_acknowledged_write_and_none_torn() {
    let dir = store_dir("killed");
    let mut last_fence = 0u64;
    for kill in 0..KILLS {
        let durability = if kill % 2 == 0 { "buffered" } else { "synced" };
        let acked = run_writer_until_killed(&dir, durability, &format!("held-{kill}"));
        assert!(acked.round >= ROUNDS_BEFORE_KILL, "kill {kill}: {acked:?}");

        runtime().block_on(async {
            let store = Store::embedded_at(&dir).expect("reopens after SIGKILL");
            // Batches: all keys from one round, at least the last acknowledged one (the
            // kill may land after a write and before its acknowledgement was read).
            let kv = store.kv("crash").unwrap();
            let values = kv.scan_prefix("k").await.unwrap();
            assert_eq!(values.len(), BATCH_KEYS, "kill {kill}: {values:?}");
            let rounds: Vec<u64> = values
                .iter()
                .map(|(_, v)| std::str::from_utf8(v).unwrap().parse().unwrap())
                .collect();
            assert!(
                rounds.iter().all(|r| *r == rounds[0]),
                "kill {kill}: a torn batch: {rounds:?}"
            );
            assert!(
                rounds[0] >= acked.round,
                "kill {kill}: acknowledged round {} lost, found {}",
                acked.round,
                rounds[0]
            );

            // Sessions: the last acknowledged one is there, whole, unless a later
            // round (which creates its own before deleting the one before) replaced
            // it; every session the user's index lists can be read, with its round.
            let sessions = Sessions::new(store.clone());
            let listed = sessions.list_for_user("crash-user").await.unwrap();
            let newest = listed
                .iter()
                .filter_map(|s| s.data.get("round")?.parse::<u64>().ok())
                .max();
            match sessions.get(&acked.session).await.unwrap() {
                Some(session) => assert_eq!(
                    session.data.get("round").map(String::as_str),
                    Some(acked.round.to_string().as_str())
                ),
                None => assert!(
                    newest.is_some_and(|round| round > acked.round),
                    "kill {kill}: acknowledged session of round {} lost, newest {newest:?}",
                    acked.round
                ),
            }
            assert!(
                !listed.is_empty() && listed.len() <= 2,
                "kill {kill}: the writer keeps one or two: {}",
                listed.len()
            );
            for session in &listed {
                assert!(
                    session.data.contains_key("round"),
                    "kill {kill}: a torn session"
                );
            }

            // Locks: the one the writer held is still held; tokens keep increasing.
            let locks = Locks::new(store);
            assert!(
                locks
                    .try_acquire(&format!("held-{kill}"))
                    .await
                    .unwrap()
                    .is_none(),
                "kill {kill}: the killed writer's lock was lost"
            );
            let next = locks.acquire("cycle").await.unwrap();
            assert!(
                next.fencing_token() > acked.fence,
                "kill {kill}: token {} after {}",
                next.fencing_token(),
                acked.fence
            );
            assert!(next.fencing_token() > last_fence);
            last_fence = next.fencing_token();
            next.release().await.unwrap();
        });
    }
}

/// What the writer last acknowledged before it was killed.
#[derive(Debug, Default)]
struct Acked {
    round: u64,
    session: String,
    fence: u64,
}

/// Starts the writer (this test binary, running `crash_writer`) on `dir`, holding the
/// lock `held`, reads its acknowledgements until `ROUNDS_BEFORE_KILL` more, and kills
/// it with SIGKILL.
fn run_writer_until_killed(dir: &Path, durability: &str, held: &str) -> Acked {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "persistent_store::crash_writer",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TXOVA_STORE_PATH", dir)
        .env("TXOVA_STORE_DURABILITY", durability)
        .env("TXOVA_CRASH_WRITER", held)
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the writer");
    let stdout = child.stdout.take().expect("stdout");
    let mut acked = Acked::default();
    let mut first = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read the writer");
        let Some(ack) = line.strip_prefix("ack ") else {
            continue;
        };
        let mut parts = ack.split(' ');
        acked.round = parts.next().unwrap().parse().unwrap();
        acked.session = parts.next().unwrap().to_owned();
        acked.fence = parts.next().unwrap().parse().unwrap();
        let first = *first.get_or_insert(acked.round);
        if acked.round >= first + ROUNDS_BEFORE_KILL {
            break;
        }
    }
    // `Child::kill` is SIGKILL on Unix: no destructor, no flush, no exit handler.
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reap");
    assert!(
        !status.success(),
        "the writer was killed, not finished: {status}"
    );
    acked
}

/// The writer the crash test kills: endless rounds of a ten-key batch, a session and a
/// lock cycle on the store `Store::from_env` opens (`TXOVA_STORE_PATH`), holding the
/// lock `TXOVA_CRASH_WRITER` names, printing what each round's writes acknowledged.
/// Run only as that test's child process; without the variable it returns at once.
#[tokio::test]
#[ignore = "the child process of a_store_killed_mid_write_reopens_with_every_acknowledged_write_and_none_torn"]
async fn crash_writer() {
    use std::io::Write as _;

    let Ok(held) = std::env::var("TXOVA_CRASH_WRITER") else {
        return;
    };
    let store = Store::from_env().await.expect("open the store");
    assert!(store.describe().starts_with("embedded at "));
    let kv = store.kv("crash").unwrap();
    let sessions = Sessions::new(store.clone());
    let locks = Locks::new(store.clone());
    // Held for the whole run: the killed writer never releases it.
    let _held = locks
        .acquire_with(
            &held,
            LockOptions::new()
                .ttl(Duration::from_secs(300))
                .watchdog(false),
        )
        .await
        .expect("the lock is free at the start");
    // Continue after the last run's rounds, so "at least the acknowledged round" holds
    // across kills.
    let mut round = match kv.get("k0").await.unwrap() {
        Some(v) => std::str::from_utf8(&v).unwrap().parse::<u64>().unwrap() + 1,
        None => 1,
    };
    // The sessions of killed runs: the user keeps one or two (the new one is created
    // before the old one is deleted).
    sessions.delete_all_for_user("crash-user").await.unwrap();
    let mut previous: Option<String> = None;
    let mut out = std::io::stdout().lock();
    loop {
        let mut batch = Batch::new();
        for k in 0..BATCH_KEYS {
            batch = batch.set(format!("k{k}"), round.to_string().into_bytes(), None);
        }
        kv.apply(batch).await.unwrap();
        let session = sessions
            .create(NewSession::new("crash-user").data("round", round.to_string()))
            .await
            .unwrap();
        if let Some(previous) = previous.replace(session.id.as_str().to_owned()) {
            sessions.delete(&previous).await.unwrap();
        }
        // A short lease: killed between this acquire and its release, the writer leaves
        // the lock held, and the test takes it next with the default 10 s wait (the
        // default 30 s lease outlasted it, so a kill landing there failed the test).
        let lock = locks
            .acquire_with(
                "cycle",
                LockOptions::new()
                    .ttl(Duration::from_secs(2))
                    .watchdog(false),
            )
            .await
            .unwrap();
        let fence = lock.fencing_token();
        lock.release().await.unwrap();
        writeln!(out, "ack {round} {} {fence}", session.id.as_str()).unwrap();
        out.flush().unwrap();
        round += 1;
    }
}
