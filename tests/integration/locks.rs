//! Distributed locks on every store: mutual exclusion under contention, fencing
//! tokens, the watchdog and the `lost()` signal, owner-only release, and the round
//! trips an acquire and a release cost on the wire.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use txova_db::lock::{self, LockConfig, LockOptions, Locks};
use txova_db::{Error, ErrorKind};

use crate::support::{stores, unique_name};

fn fast_retry(store: txova_db::store::Store) -> Locks {
    let mut config = LockConfig::default();
    config.wait = Duration::from_secs(60);
    config.retry_base = Duration::from_millis(1);
    config.retry_max = Duration::from_millis(10);
    Locks::with_config(store, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contended_critical_sections_never_overlap_and_fencing_tokens_increase() {
    for (name, store) in stores("contended_critical_sections_never_overlap").await {
        let locks = fast_retry(store);
        let resource = unique_name("lock");
        let inside = Arc::new(AtomicUsize::new(0));
        let tokens = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (locks, resource, inside, tokens) = (
                    locks.clone(),
                    resource.clone(),
                    inside.clone(),
                    tokens.clone(),
                );
                tokio::spawn(async move {
                    for _ in 0..100 {
                        let guard = locks.acquire(&resource).await.unwrap();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "overlap");
                        tokens.lock().unwrap().push(guard.fencing_token());
                        tokio::task::yield_now().await;
                        assert_eq!(inside.fetch_sub(1, Ordering::SeqCst), 1, "overlap");
                        guard.release().await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let tokens = tokens.lock().unwrap();
        assert_eq!(tokens.len(), 1600, "{name}");
        assert!(
            tokens.windows(2).all(|pair| pair[0] < pair[1]),
            "{name}: fencing tokens must strictly increase in acquisition order"
        );
    }
}

#[tokio::test]
async fn a_stalled_holder_without_watchdog_sees_lost_and_cannot_release_the_next_owners_lock() {
    for (name, store) in stores("a_stalled_holder_sees_lost").await {
        let locks = Locks::new(store);
        let resource = unique_name("lock");
        let options = LockOptions::new()
            .ttl(Duration::from_millis(300))
            .watchdog(false);
        let stalled = locks.acquire_with(&resource, options).await.unwrap();
        let lease = stalled.lease().clone();
        tokio::time::timeout(Duration::from_secs(2), lease.lost())
            .await
            .unwrap_or_else(|_| panic!("{name}: lost() must fire once the TTL passes"));
        assert!(stalled.is_lost(), "{name}");
        // The server expires the key no earlier than the lease: wait for it.
        let next = locks
            .acquire_with(&resource, LockOptions::new().wait(Duration::from_secs(2)))
            .await
            .unwrap();
        assert!(next.fencing_token() > stalled.fencing_token(), "{name}");
        let err = stalled.release().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotLockOwner, "{name}: {err}");
        // The refused release left the new owner's lock in place.
        assert!(
            locks.try_acquire(&resource).await.unwrap().is_none(),
            "{name}"
        );
        assert!(!next.is_lost(), "{name}");
        next.release().await.unwrap();
    }
}

/// Extending by hand, without the watchdog: the lock and its lease outlive the first
/// TTL (no one else takes it, `lost()` stays quiet); once it has expired and passed to
/// another holder, extending is refused with `NotLockOwner`, marks the lease lost, and
/// leaves the new holder's lock alone.
#[tokio::test]
async fn extending_by_hand_keeps_the_lock_until_it_has_passed_on() {
    for (name, store) in stores("extending_by_hand").await {
        let locks = Locks::new(store);
        let resource = unique_name("lock");
        let options = LockOptions::new()
            .ttl(Duration::from_millis(300))
            .watchdog(false);
        let guard = locks.acquire_with(&resource, options).await.unwrap();
        guard.extend(Duration::from_millis(1_500)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(!guard.is_lost(), "{name}: extended past its first TTL");
        assert!(
            locks.try_acquire(&resource).await.unwrap().is_none(),
            "{name}: still held"
        );

        tokio::time::timeout(Duration::from_secs(3), guard.lease().lost())
            .await
            .unwrap_or_else(|_| panic!("{name}: lost() once the extension runs out"));
        let next = locks
            .acquire_with(&resource, LockOptions::new().wait(Duration::from_secs(2)))
            .await
            .unwrap();
        let err = guard.extend(Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotLockOwner, "{name}: {err}");
        assert!(guard.is_lost(), "{name}");
        assert!(
            locks.try_acquire(&resource).await.unwrap().is_none(),
            "{name}: the new holder keeps it"
        );
        assert!(!next.is_lost(), "{name}");
        next.release().await.unwrap();
    }
}

/// A lock taken from under its holder (its key deleted, as an operator might, and a
/// new holder in its place): the holder's watchdog finds another owner at its next
/// extension, marks the lease lost instead of extending, and the new holder keeps
/// the lock.
#[tokio::test]
async fn a_watchdog_that_finds_another_owner_reports_the_lock_lost() {
    for (name, store) in stores("a_watchdog_that_finds_another_owner").await {
        let locks = Locks::new(store.clone());
        let resource = unique_name("lock");
        // Extended every second; run out by itself no sooner than 2 s after the key
        // is deleted. Seen within 1.8 s, the loss is the watchdog's finding.
        let options = LockOptions::new().ttl(Duration::from_secs(3));
        let first = locks.acquire_with(&resource, options).await.unwrap();
        let deleted = txova_db::cache::Cache::new(store)
            .delete(&format!("lock:{{{resource}}}"))
            .await
            .unwrap();
        assert!(deleted, "{name}: the lock's key");
        let second = locks.try_acquire(&resource).await.unwrap().expect("free");
        tokio::time::timeout(Duration::from_millis(1_800), first.lease().lost())
            .await
            .unwrap_or_else(|_| panic!("{name}: the watchdog saw another owner"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!second.is_lost(), "{name}");
        assert!(
            locks.try_acquire(&resource).await.unwrap().is_none(),
            "{name}: the second holder keeps it"
        );
        let err = first.release().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotLockOwner, "{name}: {err}");
        second.release().await.unwrap();
    }
}

#[tokio::test]
async fn the_watchdog_keeps_the_lock_of_a_body_that_outlives_its_ttl() {
    for (name, store) in stores("the_watchdog_keeps_the_lock").await {
        let locks = Locks::new(store);
        let resource = unique_name("lock");
        let ran = locks
            .with_lock(&resource, Duration::from_millis(300), |lease| {
                let locks = locks.clone();
                let resource = resource.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(1200)).await;
                    assert!(!lease.is_lost());
                    assert!(locks.try_acquire(&resource).await.unwrap().is_none());
                    assert_eq!(
                        lock::current().map(|l| l.fencing_token()),
                        Some(lease.fencing_token())
                    );
                    true
                }
            })
            .await
            .unwrap();
        assert!(ran, "{name}");
        assert!(
            locks.try_acquire(&resource).await.unwrap().is_some(),
            "{name}: released"
        );
    }
}

#[tokio::test]
async fn acquire_waits_up_to_its_deadline_and_a_dropped_guard_releases() {
    for (name, store) in stores("acquire_waits_up_to_its_deadline").await {
        let locks = Locks::new(store);
        let resource = unique_name("lock");
        let held = locks.acquire(&resource).await.unwrap();
        let started = std::time::Instant::now();
        let err = locks
            .acquire_with(
                &resource,
                LockOptions::new().wait(Duration::from_millis(200)),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::LockNotAcquired { .. }),
            "{name}: {err}"
        );
        assert!(started.elapsed() >= Duration::from_millis(200), "{name}");
        drop(held);
        let again = locks
            .acquire_with(&resource, LockOptions::new().wait(Duration::from_secs(2)))
            .await
            .unwrap();
        again.release().await.unwrap();
        let err = locks.acquire("").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey, "{name}");
    }
}

#[tokio::test]
async fn a_watchdog_that_cannot_reach_redis_reports_the_lock_lost() {
    let Some(mut server) =
        txova_db_test_support::RedisServer::start("a_watchdog_that_cannot_reach_redis")
    else {
        return;
    };
    let store = txova_db::store::Store::redis(&server.url).await.unwrap();
    let locks = Locks::new(store);
    let guard = locks
        .acquire_with(
            "ride:assign:9",
            LockOptions::new().ttl(Duration::from_millis(600)),
        )
        .await
        .unwrap();
    // The watchdog keeps it while Redis answers…
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(!guard.is_lost());
    // …and, once Redis is gone, says so within one TTL instead of letting the body run
    // on blind.
    server.kill();
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(3), guard.lease().lost())
        .await
        .expect("lost() fires when the lock can no longer be extended");
    assert!(
        started.elapsed() <= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert!(guard.release().await.is_err());
}

/// Fencing tokens keep increasing when the lock's counter is lost (evicted, a failover
/// before it replicated, `FLUSHDB`): they follow the store server's clock. And the
/// counter expires: no key per lock name lives forever.
#[tokio::test]
async fn fencing_tokens_survive_a_lost_counter_and_the_counter_expires() {
    use txova_db::redis;

    for (name, store) in stores("fencing_tokens_survive").await {
        let locks = Locks::new(store.clone());
        let lock = unique_name("fence");
        let fence_key = format!("lock:{{{lock}}}:fence");
        let first = locks.acquire(&lock).await.unwrap();
        let first_token = first.fencing_token();
        first.release().await.unwrap();

        let ttl = match (store.as_embedded(), store.as_redis()) {
            (Some(embedded), _) => embedded.ttl(&fence_key).expect("the counter exists"),
            (_, Some(client)) => {
                let ms: i64 = client
                    .query(redis::cmd("PTTL").arg(&fence_key))
                    .await
                    .unwrap();
                assert!(ms > 0, "{name}: the counter never expires ({ms})");
                Some(Duration::from_millis(ms.unsigned_abs()))
            }
            _ => unreachable!("a store is embedded or Redis"),
        };
        assert!(ttl.is_some(), "{name}: the counter never expires");

        // Lose the counter (Redis; the embedded store loses keys only with the process).
        if let Some(client) = store.as_redis() {
            let deleted: i64 = client
                .query(redis::cmd("DEL").arg(&fence_key))
                .await
                .unwrap();
            assert_eq!(deleted, 1, "{name}");
        }
        let second = locks.acquire(&lock).await.unwrap();
        assert!(
            second.fencing_token() > first_token,
            "{name}: {} after {first_token}: a stale holder's writes would pass the fence",
            second.fencing_token()
        );
        second.release().await.unwrap();
    }
}
