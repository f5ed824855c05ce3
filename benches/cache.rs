//! The cache against hand-written redis-rs, in one run:
//!
//! - `cached_hit`: a `#[cached]` method whose key is cached, against a hand-written
//!   `format!` of the key + `GET` + `serde_json::from_slice` on a redis-rs
//!   `ConnectionManager` (standalone Redis);
//! - `cluster_mget_100`: `Cache::mget` of 100 keys on a 6-node cluster (grouped by hash
//!   slot, sent concurrently) against 100 per-key `GET`s, one after the other and all
//!   at once; both sides decode the same JSON.
//!
//! Criterion measures each function; then interleaved rounds (both sides per round,
//! alternating which goes first) give medians and the ratio, which is what
//! BENCHMARKS.md reports. `cargo bench -p txova-db --bench cache`.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::hint::black_box;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use txova_db::cache::{Cache, CacheKey, UsesCache};
use txova_db::redis::{self, AsyncCommands as _};
use txova_db::store::RedisClient;
use txova_db::{Error, cached};
use txova_db_test_support::{Service, redis_cluster, server_url, unique_name};

#[path = "redis_harness.rs"]
mod redis_harness;
use redis_harness::interleave;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Profile {
    id: i64,
    name: String,
    email: String,
    rating: f64,
    trips: u32,
}

fn profile(id: i64) -> Profile {
    Profile {
        id,
        name: format!("rider {id}"),
        email: format!("rider{id}@example.com"),
        rating: 4.87,
        trips: 132,
    }
}

struct Profiles {
    cache: Cache,
    prefix: String,
}

impl UsesCache for Profiles {
    fn cache(&self) -> &Cache {
        &self.cache
    }
}

impl Profiles {
    #[cached(key = "<self.prefix>:profile:<id>", ttl = "1h")]
    async fn profile(&self, id: i64) -> Result<Profile, Error> {
        panic!("the benchmark reads cached entries only (id {id})")
    }
}

/// What a hand-written cache-aside read does: format the key, GET, decode.
async fn hand_written_get(
    conn: &mut redis::aio::ConnectionManager,
    prefix: &str,
    id: i64,
) -> Profile {
    let key = format!("{prefix}:plain:{id}");
    let bytes: Vec<u8> = conn.get(&key).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The cache's envelope, decoded by hand: the same JSON work `Cache::mget` does.
#[derive(Deserialize)]
struct Envelope {
    #[allow(dead_code)]
    v: u32,
    d: Profile,
}

fn decode_by_hand(value: Option<Vec<u8>>) -> Option<Profile> {
    value.map(|bytes| serde_json::from_slice::<Envelope>(&bytes).unwrap().d)
}

fn main() {
    let (mut criterion, rt) = redis_harness::setup();

    if let Some(url) = server_url(Service::Redis, "cache bench") {
        let (repo, mut conn) = rt.block_on(async {
            let client = RedisClient::connect(&url).await.unwrap();
            let repo = Profiles {
                cache: Cache::new(client),
                prefix: unique_name("bench"),
            };
            let mut conn = redis::Client::open(url.as_str())
                .unwrap()
                .get_connection_manager()
                .await
                .unwrap();
            for id in 0..100 {
                let key = CacheKey::new(&repo.prefix)
                    .part("profile")
                    .part(id)
                    .finish();
                repo.cache.set(&key, &profile(id)).await.unwrap();
                let plain = format!("{}:plain:{id}", repo.prefix);
                let _: () = conn
                    .set(&plain, serde_json::to_vec(&profile(id)).unwrap())
                    .await
                    .unwrap();
            }
            (repo, conn)
        });
        let prefix = repo.prefix.clone();
        let mut group = criterion.benchmark_group("cached_hit");
        group.bench_function("hand_written_get_and_decode", |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % 100;
                black_box(rt.block_on(hand_written_get(&mut conn, &prefix, i as i64)))
            })
        });
        group.bench_function("cached_method", |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % 100;
                black_box(rt.block_on(repo.profile(i as i64)).unwrap())
            })
        });
        group.finish();
        let (hand, cached) = rt.block_on(interleave(
            60,
            300,
            |i| {
                let (mut conn, prefix) = (conn.clone(), prefix.as_str());
                async move {
                    black_box(hand_written_get(&mut conn, prefix, (i % 100) as i64).await);
                }
            },
            |i| {
                let repo = &repo;
                async move {
                    black_box(repo.profile((i % 100) as i64).await.unwrap());
                }
            },
        ));
        println!(
            "cached_hit (interleaved medians): hand-written {hand:.1} µs, #[cached] {cached:.1} µs, ratio {:.3}",
            cached / hand
        );
    }

    if let Some(cluster) = redis_cluster("cache bench") {
        let (cache, conn, keys) = rt.block_on(async {
            let cache = Cache::new(RedisClient::connect(&cluster.url).await.unwrap());
            let nodes: Vec<String> = cluster
                .ports
                .iter()
                .map(|p| format!("redis://127.0.0.1:{p}"))
                .collect();
            let conn = redis::cluster::ClusterClient::new(nodes)
                .unwrap()
                .get_async_connection()
                .await
                .unwrap();
            let prefix = unique_name("bench");
            let entries: Vec<(String, Profile)> = (0..100)
                .map(|id| (format!("{prefix}:{id}"), profile(id)))
                .collect();
            cache
                .mset(&entries, Some(Duration::from_secs(3600)))
                .await
                .unwrap();
            let keys: Vec<String> = entries.into_iter().map(|(k, _)| k).collect();
            (cache, conn, keys)
        });
        let per_key_sequential = |mut conn: redis::cluster_async::ClusterConnection,
                                  keys: Vec<String>| async move {
            let mut values = Vec::with_capacity(keys.len());
            for key in &keys {
                let value: Option<Vec<u8>> = conn.get(key).await.unwrap();
                values.push(decode_by_hand(value));
            }
            values
        };
        let per_key_concurrent = |conn: redis::cluster_async::ClusterConnection,
                                  keys: Vec<String>| async move {
            futures_util::future::join_all(keys.iter().map(|key| {
                let mut conn = conn.clone();
                async move { decode_by_hand(conn.get::<_, Option<Vec<u8>>>(key).await.unwrap()) }
            }))
            .await
        };
        let mut group = criterion.benchmark_group("cluster_mget_100");
        group.bench_function("per_key_gets_sequential", |b| {
            b.iter(|| black_box(rt.block_on(per_key_sequential(conn.clone(), keys.clone()))))
        });
        group.bench_function("per_key_gets_concurrent", |b| {
            b.iter(|| black_box(rt.block_on(per_key_concurrent(conn.clone(), keys.clone()))))
        });
        group.bench_function("cache_mget", |b| {
            b.iter(|| black_box(rt.block_on(cache.mget::<Profile>(&keys)).unwrap()))
        });
        group.finish();
        let (sequential, mget) = rt.block_on(interleave(
            30,
            20,
            |_| {
                let (conn, keys) = (conn.clone(), keys.clone());
                async move {
                    black_box(per_key_sequential(conn, keys).await);
                }
            },
            |_| {
                let (cache, keys) = (&cache, &keys);
                async move {
                    black_box(cache.mget::<Profile>(keys).await.unwrap());
                }
            },
        ));
        let (concurrent, mget2) = rt.block_on(interleave(
            30,
            20,
            |_| {
                let (conn, keys) = (conn.clone(), keys.clone());
                async move {
                    black_box(per_key_concurrent(conn, keys).await);
                }
            },
            |_| {
                let (cache, keys) = (&cache, &keys);
                async move {
                    black_box(cache.mget::<Profile>(keys).await.unwrap());
                }
            },
        ));
        println!(
            "cluster_mget_100 (interleaved medians): sequential GETs {sequential:.0} µs vs mget {mget:.0} µs (ratio {:.3}); concurrent GETs {concurrent:.0} µs vs mget {mget2:.0} µs (ratio {:.3})",
            mget / sequential,
            mget2 / concurrent
        );
    }
    criterion.final_summary();
}
