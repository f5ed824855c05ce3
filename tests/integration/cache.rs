//! The cache on every store: embedded, standalone Redis, a 6-node Redis Cluster and a
//! Sentinel-managed primary (the last two started by the test support from the
//! installed `redis-server`), plus `#[cached]`/`#[cache_evict]` end to end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use txova_db::cache::{Cache, CacheConfig, CacheKey, Lookup, UsesCache};
use txova_db::redis;
use txova_db::store::{RedisClient, RedisConfig, Store};
use txova_db::{Db, Error, ErrorKind, cache_evict, cached};
use txova_db_test_support::{RedisSentinel, RedisServer, redis_cli, redis_cluster};

use crate::support::{stores, unique_name};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    id: i64,
    name: String,
}

fn profile(id: i64) -> Profile {
    Profile {
        id,
        name: format!("rider {id}"),
    }
}

#[tokio::test]
async fn set_get_none_delete_and_expiry_on_every_store() {
    for (name, store) in stores("set_get_none_delete_and_expiry_on_every_store").await {
        let cache = Cache::new(store);
        let prefix = unique_name("c");
        let key = CacheKey::new(&prefix).part("user").part(1).finish();
        assert_eq!(
            cache.get::<Profile>(&key).await.unwrap(),
            Lookup::Miss,
            "{name}"
        );
        cache.set(&key, &profile(1)).await.unwrap();
        assert_eq!(
            cache.get(&key).await.unwrap(),
            Lookup::Hit(profile(1)),
            "{name}"
        );
        let absent = format!("{prefix}:absent");
        cache.set_none(&absent).await.unwrap();
        assert_eq!(
            cache.get::<Profile>(&absent).await.unwrap(),
            Lookup::CachedNone,
            "{name}"
        );
        assert!(cache.delete(&key).await.unwrap(), "{name}");
        assert!(!cache.delete(&key).await.unwrap(), "{name}");
        assert_eq!(
            cache.get::<Profile>(&key).await.unwrap(),
            Lookup::Miss,
            "{name}"
        );

        let short = format!("{prefix}:short");
        cache
            .set_with_ttl(&short, &1, Duration::from_millis(100))
            .await
            .unwrap();
        assert_eq!(cache.get(&short).await.unwrap(), Lookup::Hit(1), "{name}");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(
            cache.get::<i32>(&short).await.unwrap(),
            Lookup::Miss,
            "{name}: expired"
        );

        let empty = cache.get::<i32>("").await.unwrap_err();
        assert_eq!(empty.kind(), ErrorKind::Cache, "{name}: {empty}");
    }
}

#[tokio::test]
async fn mget_and_mset_keep_order_across_hash_slots() {
    for (name, store) in stores("mget_and_mset_keep_order_across_hash_slots").await {
        let cache = Cache::new(store);
        let prefix = unique_name("m");
        let entries: Vec<(String, Profile)> = (0..100)
            .map(|i| (format!("{prefix}:{i}"), profile(i)))
            .collect();
        cache.mset(&entries, None).await.unwrap();
        let mut keys: Vec<String> = entries.iter().map(|(k, _)| k.clone()).collect();
        keys.insert(50, format!("{prefix}:missing"));
        let found = cache.mget::<Profile>(&keys).await.unwrap();
        assert_eq!(found.len(), 101, "{name}");
        assert_eq!(found[50], Lookup::Miss, "{name}");
        for (i, lookup) in found.iter().enumerate().filter(|(i, _)| *i != 50) {
            let id = if i < 50 { i } else { i - 1 } as i64;
            assert_eq!(lookup, &Lookup::Hit(profile(id)), "{name}: key {i}");
        }
    }
}

#[tokio::test]
async fn delete_pattern_scans_every_primary() {
    for (name, store) in stores("delete_pattern_scans_every_primary").await {
        let cache = Cache::new(store);
        let prefix = unique_name("p");
        let doomed: Vec<(String, i32)> = (0..1200)
            .map(|i| (format!("{prefix}:ride:{i}"), i))
            .collect();
        let kept: Vec<(String, i32)> = (0..20).map(|i| (format!("{prefix}:user:{i}"), i)).collect();
        cache.mset(&doomed, None).await.unwrap();
        cache.mset(&kept, None).await.unwrap();
        let deleted = cache
            .delete_pattern(&format!("{prefix}:ride:*"))
            .await
            .unwrap();
        assert_eq!(deleted, 1200, "{name}");
        let doomed_keys: Vec<&str> = doomed.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            cache
                .mget::<i32>(&doomed_keys)
                .await
                .unwrap()
                .iter()
                .all(Lookup::is_miss),
            "{name}: every matching key is gone"
        );
        let kept_keys: Vec<&str> = kept.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            cache
                .mget::<i32>(&kept_keys)
                .await
                .unwrap()
                .iter()
                .all(|l| !l.is_miss()),
            "{name}: others stay"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_misses_compute_once() {
    for (name, store) in stores("a_thousand_concurrent_misses_compute_once").await {
        let cache = Cache::new(store);
        let key = unique_name("cold");
        let computes = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let (cache, key, computes) = (cache.clone(), key.clone(), computes.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_set(&key, None, || async {
                            computes.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            Ok::<_, Error>(profile(7))
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), profile(7), "{name}");
        }
        assert_eq!(
            computes.load(Ordering::SeqCst),
            1,
            "{name}: one compute for 1000 misses"
        );
        assert_eq!(
            cache.get(&key).await.unwrap(),
            Lookup::Hit(profile(7)),
            "{name}"
        );
    }
}

/// The miss path when its leader does not land an entry. A leader dropped mid-compute
/// (its caller went away, a timeout fired) hands the flight on: the caller waiting on
/// it computes, gets its own value and stores it. A leader whose result is not cached
/// (an error) lets the waiting caller compute its own rather than share the error. A
/// leader that cached an absence gives the waiting caller that absence, uncomputed.
#[tokio::test]
async fn a_waiting_miss_outlives_its_leader_being_dropped_or_failing() {
    use tokio::sync::oneshot;

    type Loaded = Result<Option<Profile>, Error>;

    for (name, store) in stores("a_waiting_miss_outlives_its_leader").await {
        let cache = Cache::new(store);
        let follower_computes = Arc::new(AtomicUsize::new(0));

        // A leader that computes until `release` says what to return (or forever), and
        // a caller of the same key that arrives while it does.
        let flight = |key: String, release: oneshot::Receiver<Loaded>, own: Loaded| {
            let (started, computing) = oneshot::channel();
            let leader = tokio::spawn({
                let (cache, key) = (cache.clone(), key.clone());
                async move {
                    cache
                        .get_or_set(&key, None, || async move {
                            let _ = started.send(());
                            match release.await {
                                Ok(result) => result,
                                Err(_) => std::future::pending().await,
                            }
                        })
                        .await
                }
            });
            let follower = tokio::spawn({
                let (cache, computes) = (cache.clone(), follower_computes.clone());
                async move {
                    computing.await.unwrap();
                    cache
                        .get_or_set(&key, None, || async move {
                            computes.fetch_add(1, Ordering::SeqCst);
                            own
                        })
                        .await
                }
            });
            (leader, follower)
        };
        // Until the follower has missed and parked on the flight.
        let settle = || tokio::time::sleep(Duration::from_millis(100));

        // Dropped: the follower takes over, and its value is what the key holds.
        let key = unique_name("abandoned");
        let (never, release) = oneshot::channel();
        let (leader, follower) = flight(key.clone(), release, Ok(Some(profile(2))));
        settle().await;
        assert!(!follower.is_finished(), "{name}: the follower waits");
        leader.abort();
        assert!(leader.await.unwrap_err().is_cancelled());
        assert_eq!(follower.await.unwrap().unwrap(), Some(profile(2)), "{name}");
        assert_eq!(follower_computes.swap(0, Ordering::SeqCst), 1, "{name}");
        assert_eq!(
            cache.get(&key).await.unwrap(),
            Lookup::Hit(profile(2)),
            "{name}"
        );
        drop(never);

        // Failed: the error stays the leader's; the follower computes its own.
        let key = unique_name("failed");
        let (fail, release) = oneshot::channel();
        let (leader, follower) = flight(key.clone(), release, Ok(Some(profile(3))));
        settle().await;
        assert!(!follower.is_finished(), "{name}: the follower waits");
        fail.send(Err(Error::PoolClosed)).unwrap();
        assert_eq!(
            leader.await.unwrap().unwrap_err().kind(),
            ErrorKind::PoolClosed
        );
        assert_eq!(follower.await.unwrap().unwrap(), Some(profile(3)), "{name}");
        assert_eq!(follower_computes.swap(0, Ordering::SeqCst), 1, "{name}");

        // Absent: cached as such, and the follower gets it without computing.
        let key = unique_name("absent");
        let (absent, release) = oneshot::channel();
        let (leader, follower) = flight(key.clone(), release, Ok(Some(profile(4))));
        settle().await;
        absent.send(Ok(None)).unwrap();
        assert_eq!(leader.await.unwrap().unwrap(), None, "{name}");
        assert_eq!(follower.await.unwrap().unwrap(), None, "{name}");
        assert_eq!(follower_computes.load(Ordering::SeqCst), 0, "{name}");
    }
}

/// A repository the way a service writes one: a `Db`, a `Cache`, methods with the
/// attributes.
struct Profiles {
    db: Db,
    cache: Cache,
    prefix: String,
    loads: AtomicUsize,
}

impl UsesCache for Profiles {
    fn cache(&self) -> &Cache {
        &self.cache
    }
}

type RepoResult<T> = Result<T, Error>;

impl Profiles {
    async fn new(cache: Cache) -> Self {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        db.execute("CREATE TABLE profiles (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .await
            .unwrap();
        for id in 1..=10 {
            txova_db::query("INSERT INTO profiles (id, name) VALUES (?, ?)")
                .bind(id)
                .bind(format!("rider {id}"))
                .execute(&db)
                .await
                .unwrap();
        }
        Self {
            db,
            cache,
            prefix: unique_name("repo"),
            loads: AtomicUsize::new(0),
        }
    }

    /// A type alias of `Result`: recognised through the trait, not by name.
    #[cached(key = "<self.prefix>:profile:<id>", ttl = "1m")]
    async fn profile(&self, id: i64) -> RepoResult<Profile> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.source(id).await
    }

    /// What `profile` caches: the source alone.
    async fn source(&self, id: i64) -> RepoResult<Profile> {
        let row = txova_db::query("SELECT id, name FROM profiles WHERE id = ?")
            .bind(id)
            .fetch_one(&self.db)
            .await?;
        Ok(Profile {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
        })
    }

    /// `None` is cached as an absence.
    #[cached(key = "<self.prefix>:maybe:<id>")]
    async fn maybe(&self, id: i64) -> Option<Profile> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.profile(id).await.ok()
    }

    #[cache_evict(key = "<self.prefix>:profile:<id>")]
    async fn rename(&self, id: i64, name: &str) -> Result<u64, Error> {
        txova_db::query("UPDATE profiles SET name = ? WHERE id = ?")
            .bind(name)
            .bind(id)
            .execute(&self.db)
            .await
    }

    fn key(&self, id: i64) -> String {
        format!("{}:profile:{id}", self.prefix)
    }
}

#[tokio::test]
async fn cached_methods_hit_after_the_first_call_and_cache_absences() {
    let repo = Profiles::new(Cache::new(Store::embedded())).await;
    assert_eq!(repo.profile(3).await.unwrap(), profile(3));
    assert_eq!(repo.profile(3).await.unwrap(), profile(3));
    assert_eq!(repo.loads.load(Ordering::SeqCst), 1);
    assert_eq!(
        repo.cache.get(&repo.key(3)).await.unwrap(),
        Lookup::Hit(profile(3))
    );

    // An error is not cached: the next call asks the source again.
    assert!(repo.profile(99).await.is_err());
    assert!(repo.profile(99).await.is_err());
    assert_eq!(repo.loads.load(Ordering::SeqCst), 3);

    repo.loads.store(0, Ordering::SeqCst);
    assert_eq!(repo.maybe(42).await, None);
    assert_eq!(repo.maybe(42).await, None);
    // `maybe` once, and `profile` inside it once: the second call was a cached absence.
    assert_eq!(repo.loads.load(Ordering::SeqCst), 2);
    let key = format!("{}:maybe:42", repo.prefix);
    assert_eq!(
        repo.cache.get::<Profile>(&key).await.unwrap(),
        Lookup::CachedNone
    );
}

#[tokio::test]
async fn an_entry_of_another_shape_is_a_miss_and_is_replaced() {
    let repo = Profiles::new(Cache::new(Store::embedded())).await;
    repo.cache
        .set(&repo.key(4), &"not a profile")
        .await
        .unwrap();
    assert_eq!(repo.profile(4).await.unwrap(), profile(4));
    assert_eq!(
        repo.cache.get(&repo.key(4)).await.unwrap(),
        Lookup::Hit(profile(4))
    );
}

#[tokio::test]
async fn eviction_inside_a_transaction_waits_for_the_commit() {
    let repo = Arc::new(Profiles::new(Cache::new(Store::embedded())).await);
    repo.profile(5).await.unwrap();

    // Rolled back: the entry stays (the row did not change).
    let failed: Result<(), Error> = repo
        .db
        .transaction(|_| {
            let repo = repo.clone();
            async move {
                repo.rename(5, "changed").await?;
                Err(Error::NotFound)
            }
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(
        repo.cache.get(&repo.key(5)).await.unwrap(),
        Lookup::Hit(profile(5))
    );

    // Committed: the entry survives until the commit, then goes.
    repo.db
        .transaction(|_| {
            let repo = repo.clone();
            async move {
                repo.rename(5, "renamed").await?;
                assert_eq!(
                    repo.cache.get(&repo.key(5)).await?,
                    Lookup::Hit(profile(5)),
                    "not evicted before the commit"
                );
                // Inside the transaction the cache is bypassed: the uncommitted name is
                // read, and not cached.
                assert_eq!(repo.profile(5).await?.name, "renamed");
                assert_eq!(repo.cache.get(&repo.key(5)).await?, Lookup::Hit(profile(5)));
                Ok::<_, Error>(())
            }
        })
        .await
        .unwrap();
    assert_eq!(
        repo.cache.get::<Profile>(&repo.key(5)).await.unwrap(),
        Lookup::Miss
    );
    assert_eq!(repo.profile(5).await.unwrap().name, "renamed");

    // Outside a transaction, eviction is immediate.
    repo.rename(5, "again").await.unwrap();
    assert_eq!(repo.profile(5).await.unwrap().name, "again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_calls_keep_answering_while_redis_is_killed_and_restarted() {
    let test = "cached_calls_keep_answering_while_redis_is_killed_and_restarted";
    let Some(mut server) = RedisServer::start(test) else {
        return;
    };
    let client = RedisClient::connect_with(RedisConfig {
        command_timeout: Duration::from_millis(200),
        connect_timeout: Duration::from_millis(500),
        max_reconnect_delay: Duration::from_millis(200),
        ..RedisConfig::new(&server.url)
    })
    .await
    .unwrap();
    let repo = Profiles::new(Cache::new(client)).await;

    for round in 0..300 {
        if round == 100 {
            server.kill();
        }
        if round == 200 {
            server.restart().unwrap();
        }
        let id = round % 10 + 1;
        assert_eq!(
            repo.profile(id).await.unwrap(),
            profile(id),
            "round {round}"
        );
    }
    // Back to hits once the server answers again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        repo.profile(1).await.unwrap();
        let before = repo.loads.load(Ordering::SeqCst);
        assert_eq!(repo.profile(1).await.unwrap(), profile(1));
        if repo.loads.load(Ordering::SeqCst) == before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cache never recovered after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The direct API reports an outage instead of hiding it.
    server.kill();
    let err = repo.cache.get::<Profile>(&repo.key(1)).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout),
        "{err}"
    );
}

/// The median of `samples`.
fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Redis killed under load: after a few failed commands the store's breaker opens, and
/// from then on a cached call costs its source plus microseconds (it used to wait
/// ~0.57 s for the dead server on every call), rate limits decide by their failure mode
/// and locks fail at once; once Redis is back, the probe closes the breaker and caching
/// resumes within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_the_breaker_skips_the_store_and_caching_resumes_when_it_returns() {
    use std::sync::atomic::AtomicBool;

    use txova_db::lock::Locks;
    use txova_db::rate_limit::{RateLimit, RateLimiter};
    use txova_db::resilience::BreakerState;

    let test = "with_redis_down_the_breaker_skips_the_store_and_caching_resumes_when_it_returns";
    let Some(mut server) = RedisServer::start(test) else {
        return;
    };
    // The defaults, as a service gets them from `REDIS_URL`.
    let client = RedisClient::connect(&server.url).await.unwrap();
    let store = Store::from(client.clone());
    let repo = Arc::new(Profiles::new(Cache::new(store.clone())).await);
    for id in 1..=10 {
        repo.profile(id).await.unwrap();
    }
    assert_eq!(repo.loads.load(Ordering::SeqCst), 10);
    assert_eq!(client.breaker_state(), Some(BreakerState::Closed));

    // Traffic from other requests all along: every call must answer.
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|task| {
            let (repo, stop) = (repo.clone(), stop.clone());
            tokio::spawn(async move {
                let mut calls = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let id = (task + calls) % 10 + 1;
                    let id = i64::try_from(id).unwrap();
                    assert_eq!(repo.profile(id).await.unwrap(), profile(id));
                    calls += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                calls
            })
        })
        .collect();

    server.kill();
    let killed = Instant::now();
    while client.breaker_state() != Some(BreakerState::Open) {
        repo.profile(1).await.unwrap();
        assert!(
            killed.elapsed() < Duration::from_secs(15),
            "the breaker never opened"
        );
    }
    let opened_after = killed.elapsed();

    // A cached call against its source alone, interleaved.
    let (mut cached, mut direct) = (Vec::new(), Vec::new());
    let sixty = Instant::now();
    for round in 0..60 {
        let id = round % 10 + 1;
        let started = Instant::now();
        assert_eq!(repo.profile(id).await.unwrap(), profile(id));
        cached.push(started.elapsed());
        let started = Instant::now();
        assert_eq!(repo.source(id).await.unwrap(), profile(id));
        direct.push(started.elapsed());
    }
    let sixty = sixty.elapsed();
    let (cached, direct) = (median(cached), median(direct));
    assert!(
        cached < direct + Duration::from_millis(1),
        "with the breaker open a cached call took {cached:?}, its source {direct:?}"
    );
    assert!(sixty < Duration::from_secs(2), "60 calls took {sixty:?}");

    // The other patterns fail fast, each its own way.
    let started = Instant::now();
    let decision = RateLimiter::new(store.clone())
        .check(
            &RateLimit::fixed_window(5, Duration::from_secs(60)),
            &unique_name("rl"),
        )
        .await
        .unwrap();
    assert!(decision.is_degraded() && decision.allowed());
    let err = Locks::new(store.clone())
        .try_acquire(&unique_name("lock"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CircuitOpen, "{err}");
    let fast = started.elapsed();
    assert!(fast < Duration::from_millis(50), "{fast:?}");

    server.restart().unwrap();
    let restarted = Instant::now();
    loop {
        repo.profile(2).await.unwrap();
        let before = repo.loads.load(Ordering::SeqCst);
        repo.profile(2).await.unwrap();
        if repo.loads.load(Ordering::SeqCst) == before {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(5),
            "caching did not resume within 5 s of Redis returning"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let resumed_after = restarted.elapsed();
    assert_eq!(client.breaker_state(), Some(BreakerState::Closed));

    stop.store(true, Ordering::SeqCst);
    let mut calls = 0;
    for task in load {
        calls += task.await.unwrap();
    }
    eprintln!(
        "breaker open {opened_after:?} after the kill; cached call {cached:?} vs source \
         {direct:?} while open (60 calls: {sixty:?}); rate limit + lock {fast:?}; caching \
         resumed {resumed_after:?} after the restart; {calls} calls from 4 tasks meanwhile"
    );
}

#[tokio::test]
async fn the_cluster_answers_ping_from_every_primary() {
    let Some(cluster) = redis_cluster("the_cluster_answers_ping_from_every_primary") else {
        return;
    };
    let client = RedisClient::connect(&cluster.url).await.unwrap();
    assert!(client.is_cluster());
    // Counted by every node itself: each primary answers each ping (other tests may
    // ping too, so at least as many as ours).
    let role = |port: u16| redis_cli(port, &["ROLE"]).unwrap();
    let primaries: Vec<u16> = cluster
        .ports
        .iter()
        .copied()
        .filter(|&port| role(port).starts_with("master"))
        .collect();
    assert!(primaries.len() >= 3, "{:?}", cluster.ports);
    let pings = |port: u16| -> u64 {
        let stats = redis_cli(port, &["INFO", "commandstats"]).unwrap();
        stats
            .lines()
            .find_map(|line| line.strip_prefix("cmdstat_ping:calls="))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |calls| calls.parse().unwrap())
    };
    let before: Vec<u64> = primaries.iter().map(|&port| pings(port)).collect();
    for _ in 0..3 {
        client.ping().await.unwrap();
    }
    for (port, before) in primaries.iter().zip(before) {
        assert!(
            pings(*port) >= before + 3,
            "primary on {port} was not pinged"
        );
    }
    // Keys in many slots, one client: routed to their owners.
    for i in 0..50 {
        let key = format!("{}:{i}", unique_name("route"));
        client
            .query::<()>(redis::cmd("SET").arg(&key).arg(i))
            .await
            .unwrap();
        let value: i64 = client.query(redis::cmd("GET").arg(&key)).await.unwrap();
        assert_eq!(value, i);
    }
}

#[tokio::test]
async fn sentinel_clients_follow_a_failover() {
    let Some(sentinel) = RedisSentinel::start("sentinel_clients_follow_a_failover") else {
        return;
    };
    let cache = Cache::with_config(
        RedisClient::connect_with(RedisConfig {
            command_timeout: Duration::from_millis(500),
            ..RedisConfig::new(&sentinel.url)
        })
        .await
        .unwrap(),
        CacheConfig::default(),
    );
    let before = sentinel.primary_port().unwrap();
    let key = unique_name("failover");
    cache.set(&key, &1).await.unwrap();

    // A sentinel just started may not yet rate the replica good enough to promote
    // (`NOGOODSLAVE`): ask until it accepts.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = redis_cli(
            sentinel.sentinel_port,
            &["SENTINEL", "FAILOVER", &sentinel.service],
        );
        if reply.as_deref().is_ok_and(|r| r.trim() == "OK") {
            break;
        }
        assert!(Instant::now() < deadline, "failover refused: {reply:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while sentinel.primary_port().unwrap() == before {
        assert!(Instant::now() < deadline, "the sentinel did not fail over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Writes reach the new primary: the first ones may fail while the old primary is
    // demoted, then the client re-resolves and stays there.
    let mut written = false;
    while Instant::now() < deadline {
        if cache.set(&key, &2).await.is_ok() {
            written = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(written, "no write reached the new primary");
    assert_eq!(cache.get(&key).await.unwrap(), Lookup::Hit(2));
    for i in 0..20 {
        cache.set(&key, &i).await.unwrap();
    }
}
