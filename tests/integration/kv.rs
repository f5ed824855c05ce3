//! The key-value API's contract, one suite run against every store this machine has:
//! embedded, Redis standalone, Redis Cluster and Redis behind Sentinel.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;

use proptest::prelude::*;
use txova_db::ErrorKind;
use txova_db::store::{Batch, Kv, Store};

use crate::support;

/// A namespace no other test or run uses.
fn namespace(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{test}-{}-{nanos}", std::process::id())
}

async fn each_store(test: &str, mut check: impl AsyncFnMut(&'static str, Store, Kv)) {
    let stores = support::stores(test).await;
    assert!(!stores.is_empty());
    for (name, store) in stores {
        let kv = store.kv(&namespace(test)).expect("a valid namespace");
        check(name, store, kv).await;
    }
}

#[tokio::test]
async fn get_set_delete_and_ttls_on_every_store() {
    each_store("kv_basics", async |name, store, kv| {
        assert_eq!(kv.get("missing").await.expect("get"), None, "{name}");
        kv.set("a", b"1".to_vec(), None).await.expect("set");
        kv.set("b", vec![0, 255, 10, 13], Some(Duration::from_millis(150)))
            .await
            .expect("set with a ttl");
        assert_eq!(
            kv.get("a").await.expect("get").as_deref(),
            Some(&b"1"[..]),
            "{name}"
        );
        assert_eq!(
            kv.get("b").await.expect("get"),
            Some(vec![0, 255, 10, 13]),
            "{name}"
        );
        // A set replaces the TTL too: `a` had none, now it has one; `b` loses its.
        kv.set("b", b"kept".to_vec(), None)
            .await
            .expect("set again");
        kv.set("a", b"2".to_vec(), Some(Duration::from_millis(150)))
            .await
            .expect("set again");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(kv.get("a").await.expect("get"), None, "{name}: expired");
        assert_eq!(
            kv.get("b").await.expect("get").as_deref(),
            Some(&b"kept"[..]),
            "{name}"
        );
        assert!(kv.delete("b").await.expect("delete"), "{name}");
        assert!(
            !kv.delete("b").await.expect("delete"),
            "{name}: already gone"
        );
        // Namespaces do not see each other, nor the store's other keys.
        let other = store.kv(&namespace("kv_basics_other")).expect("namespace");
        other.set("a", b"other".to_vec(), None).await.expect("set");
        assert_eq!(kv.get("a").await.expect("get"), None, "{name}");
        assert_eq!(kv.scan_prefix("").await.expect("scan"), [], "{name}");
        other.delete("a").await.expect("clean up");
    })
    .await;
}

#[tokio::test]
async fn scan_by_prefix_finds_exactly_the_prefix_on_every_store() {
    each_store("kv_scan", async |name, _store, kv| {
        // Glob characters in keys and prefixes are text, not patterns.
        let keys = [
            "user:1", "user:2", "user:10", "users", "user*", "user?x", "user[1]", "u\\ser:1",
            "{ride}:1", "{ride}:2", "ride",
        ];
        for (i, key) in keys.iter().enumerate() {
            kv.set(key, vec![i as u8], None).await.expect("set");
        }
        let names = |found: Vec<(String, Vec<u8>)>| -> Vec<String> {
            found.into_iter().map(|(key, _)| key).collect()
        };
        let expect = |prefix: &str| -> Vec<String> {
            let mut want: Vec<String> = keys
                .iter()
                .filter(|k| k.starts_with(prefix))
                .map(|k| (*k).to_owned())
                .collect();
            want.sort();
            want
        };
        for prefix in [
            "user:", "user", "user*", "user?", "user[", "u\\", "{ride}", "", "zzz",
        ] {
            let found = kv.scan_prefix(prefix).await.expect("scan");
            assert_eq!(names(found), expect(prefix), "{name}: prefix {prefix:?}");
        }
        let found = kv.scan_prefix("user:1").await.expect("scan");
        assert_eq!(
            found,
            [("user:1".into(), vec![0]), ("user:10".into(), vec![2])],
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn batches_are_all_or_nothing_and_follow_the_slot_rules() {
    each_store("kv_batches", async |name, _store, kv| {
        kv.set("{u7}:gone", b"x".to_vec(), None).await.expect("set");
        // Later writes of a key win, in order.
        let batch = Batch::new()
            .set("{u7}:a", b"1".to_vec(), None)
            .set("{u7}:b", b"2".to_vec(), Some(Duration::from_secs(60)))
            .delete("{u7}:gone")
            .set("{u7}:a", b"3".to_vec(), None)
            .delete("{u7}:never-set");
        kv.apply(batch).await.expect("a batch in one slot");
        assert_eq!(
            kv.scan_prefix("{u7}").await.expect("scan"),
            [
                ("{u7}:a".into(), b"3".to_vec()),
                ("{u7}:b".into(), b"2".to_vec())
            ],
            "{name}"
        );
        kv.apply(Batch::new())
            .await
            .expect("an empty batch does nothing");
        // Keys of different slots: fine on one server, refused on a cluster before
        // anything is written.
        let spread = Batch::new()
            .set("x:1", b"1".to_vec(), None)
            .set("y:2", b"2".to_vec(), None)
            .set("z:3", b"3".to_vec(), None);
        let applied = kv.apply(spread).await;
        if name == "cluster" {
            let err = applied.expect_err("keys of three slots");
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{err}");
            assert!(err.to_string().contains("hash tag"), "{err}");
            assert_eq!(kv.get("x:1").await.expect("get"), None);
        } else {
            applied.expect("one server takes any keys");
            assert_eq!(
                kv.get("z:3").await.expect("get").as_deref(),
                Some(&b"3"[..])
            );
        }
    })
    .await;
}

/// Dropped after 1, 2, … polls, a batch has been applied whole or not at all.
#[tokio::test]
async fn a_dropped_batch_is_all_or_nothing() {
    each_store("kv_dropped_batch", async |name, _store, kv| {
        for polls in 1..=6 {
            let tag = format!("{{d{polls}}}");
            let batch = (0..20).fold(Batch::new(), |batch, i| {
                batch.set(format!("{tag}:{i}"), vec![i], None)
            });
            drop_after(polls, async {
                kv.apply(batch).await.expect("apply");
            })
            .await;
            // Whatever was sent has landed by now; count what is there.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let found = kv.scan_prefix(&tag).await.expect("scan").len();
            assert!(
                found == 0 || found == 20,
                "{name}: {found} of 20 after {polls} polls"
            );
        }
        // The store still answers.
        kv.set("after", b"ok".to_vec(), None).await.expect("set");
    })
    .await;
}

/// Polls `op` up to `polls` times with a waker that never wakes, then drops it.
async fn drop_after<F: Future>(polls: usize, op: F) {
    let mut op = pin!(op);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..polls {
        if op.as_mut().poll(&mut cx).is_ready() {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// `get`, `set`, `delete` and `scan_prefix` dropped after 1, 2, … polls: a key holds its
/// old value or its new one, never anything else, and the store answers correctly
/// afterwards (no reply of a dropped call read as the next call's).
#[tokio::test]
async fn every_operation_dropped_midway_leaves_the_store_consistent() {
    each_store("kv_dropped_ops", async |name, _store, kv| {
        for polls in 1..=5 {
            kv.set("k", b"old".to_vec(), None).await.expect("set");
            drop_after(polls, kv.set("k", b"new".to_vec(), None)).await;
            drop_after(polls, kv.get("k")).await;
            drop_after(polls, kv.scan_prefix("")).await;
            tokio::time::sleep(Duration::from_millis(30)).await;
            let value = kv.get("k").await.expect("get").expect("still set");
            assert!(
                value == b"old" || value == b"new",
                "{name}: {value:?} after {polls} polls"
            );
            drop_after(polls, kv.delete("k")).await;
            tokio::time::sleep(Duration::from_millis(30)).await;
            let left = kv.get("k").await.expect("get");
            assert!(
                left.is_none() || left.as_deref() == Some(&value[..]),
                "{name}: {left:?} after a dropped delete"
            );
            // The next calls get their own replies.
            kv.set("probe", vec![polls as u8], None).await.expect("set");
            assert_eq!(
                kv.get("probe").await.expect("get"),
                Some(vec![polls as u8]),
                "{name}"
            );
            assert_eq!(
                kv.scan_prefix("probe").await.expect("scan"),
                [("probe".to_owned(), vec![polls as u8])],
                "{name}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_namespace_is_checked() {
    let store = Store::embedded();
    for bad in ["", "a b", "a{b}", "a:b", "é", &"n".repeat(65), "a*"] {
        let err = store.kv(bad).expect_err(bad);
        assert_eq!(err.kind(), ErrorKind::InvalidKey, "{bad:?}");
    }
    store.kv(&"n".repeat(64)).expect("64 characters");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any keys and values (control characters, quotes, glob characters, braces,
    /// multi-byte) round-trip, and a scan by any prefix finds exactly the keys that
    /// start with it, the same on the embedded store and on Redis.
    #[test]
    fn hostile_keys_round_trip_and_scan_exactly(
        keys in proptest::collection::btree_set("[a-c*?\\[\\]\\\\{}:\\x00\\n é'\"]{1,6}", 1..8),
        prefix in "[a-c*?\\[\\]\\\\{}:]{0,3}",
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async {
            let mut stores = vec![("embedded", Store::embedded())];
            if let Some(url) = txova_db_test_support::server_url(
                txova_db_test_support::Service::Redis, "kv_hostile_keys",
            ) {
                stores.push(("standalone", Store::redis(&url).await.expect("redis")));
            }
            for (name, store) in stores {
                let kv = store.kv(&namespace("kv_hostile")).expect("namespace");
                for (i, key) in keys.iter().enumerate() {
                    kv.set(key, key.as_bytes().to_vec(), None).await.expect("set");
                    assert_eq!(kv.get(key).await.expect("get"), Some(key.as_bytes().to_vec()), "{name} #{i}");
                }
                let found: Vec<String> =
                    kv.scan_prefix(&prefix).await.expect("scan").into_iter().map(|(k, _)| k).collect();
                let want: Vec<String> = keys.iter().filter(|k| k.starts_with(&prefix)).cloned().collect();
                assert_eq!(found, want, "{name}: prefix {prefix:?}");
                for key in &keys {
                    assert!(kv.delete(key).await.expect("delete"), "{name}");
                }
            }
        });
    }
}
