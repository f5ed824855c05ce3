//! Locks and rate limits against hand-written redis-rs, in one run (standalone Redis):
//!
//! - `lock_acquire_release`: `Locks::acquire` + `LockGuard::release` (one script that
//!   sets the owner token and bumps the fencing counter, a watchdog task spawned and
//!   aborted, one owner-checked release script) against a hand-written
//!   `SET key token NX PX 30000` + the usual compare-and-delete Lua script by hash;
//! - `rate_limit_check`: `RateLimiter::check` with a fixed window (one script reading
//!   `TIME`) against the hand-written `MULTI; INCR; PEXPIRE; EXEC` counter on the
//!   client's clock.
//!
//! Criterion measures each function; then interleaved rounds give medians and the
//! ratio, which is what BENCHMARKS.md reports.
//! `cargo bench -p txova-db --bench patterns`.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::hint::black_box;
use std::time::Duration;

use txova_db::lock::Locks;
use txova_db::rate_limit::{RateLimit, RateLimiter};
use txova_db::redis;
use txova_db::store::Store;
use txova_db_test_support::{Service, server_url, unique_name};

#[path = "redis_harness.rs"]
mod redis_harness;
use redis_harness::interleave;

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// What a hand-written Redis lock does: SET NX PX with a random token, then the
/// compare-and-delete script.
async fn hand_written_lock(
    conn: &mut redis::aio::ConnectionManager,
    release: &redis::Script,
    key: &str,
) {
    // 128 random bits, as our owner tokens.
    let token: u128 = rand::random();
    let set: Option<String> = redis::cmd("SET")
        .arg(key)
        .arg(token.to_string())
        .arg("NX")
        .arg("PX")
        .arg(30_000)
        .query_async(conn)
        .await
        .unwrap();
    assert!(set.is_some(), "the lock is free");
    let released: u32 = release
        .key(key)
        .arg(token.to_string())
        .invoke_async(conn)
        .await
        .unwrap();
    assert_eq!(released, 1);
}

/// The textbook fixed-window counter: INCR and PEXPIRE in one MULTI.
async fn hand_written_limit(conn: &mut redis::aio::ConnectionManager, key: &str) -> bool {
    let (count, _): (u64, u32) = redis::pipe()
        .atomic()
        .incr(key, 1)
        .cmd("PEXPIRE")
        .arg(key)
        .arg(60_000)
        .query_async(conn)
        .await
        .unwrap();
    count <= u64::from(u32::MAX)
}

fn main() {
    let (mut criterion, rt) = redis_harness::setup();
    let Some(url) = server_url(Service::Redis, "patterns bench") else {
        return;
    };
    let (store, mut conn) = rt.block_on(async {
        let store = Store::redis(&url).await.unwrap();
        let conn = redis::Client::open(url.as_str())
            .unwrap()
            .get_connection_manager()
            .await
            .unwrap();
        (store, conn)
    });
    let prefix = unique_name("bench");
    let release = redis::Script::new(RELEASE);
    let locks = Locks::new(store.clone());
    let (lock_name, plain_key) = (format!("{prefix}:ride:1"), format!("{prefix}:plain:1"));

    let mut group = criterion.benchmark_group("lock_acquire_release");
    group.bench_function("hand_written", |b| {
        b.iter(|| rt.block_on(hand_written_lock(&mut conn, &release, &plain_key)))
    });
    group.bench_function("locks", |b| {
        b.iter(|| {
            rt.block_on(async {
                let guard = locks.acquire(&lock_name).await.unwrap();
                black_box(guard.fencing_token());
                guard.release().await.unwrap();
            })
        })
    });
    group.finish();
    let (hand, ours) = rt.block_on(interleave(
        40,
        200,
        |_| {
            let (mut conn, release, key) = (conn.clone(), &release, plain_key.as_str());
            async move { hand_written_lock(&mut conn, release, key).await }
        },
        |_| {
            let (locks, name) = (&locks, lock_name.as_str());
            async move {
                let guard = locks.acquire(name).await.unwrap();
                black_box(guard.fencing_token());
                guard.release().await.unwrap();
            }
        },
    ));
    println!(
        "lock_acquire_release (interleaved medians): hand-written {hand:.1} µs, Locks {ours:.1} µs, ratio {:.3}",
        ours / hand
    );

    let limiter = RateLimiter::new(store);
    let limit = RateLimit::fixed_window(u32::MAX, Duration::from_secs(60));
    let (limit_key, plain_limit_key) =
        (format!("{prefix}:rider:1"), format!("{prefix}:plain-rl:1"));
    let mut group = criterion.benchmark_group("rate_limit_check");
    group.bench_function("hand_written", |b| {
        b.iter(|| black_box(rt.block_on(hand_written_limit(&mut conn, &plain_limit_key))))
    });
    group.bench_function("rate_limiter", |b| {
        b.iter(|| black_box(rt.block_on(limiter.check(&limit, &limit_key)).unwrap()))
    });
    group.finish();
    let (hand, ours) = rt.block_on(interleave(
        40,
        200,
        |_| {
            let (mut conn, key) = (conn.clone(), plain_limit_key.as_str());
            async move {
                black_box(hand_written_limit(&mut conn, key).await);
            }
        },
        |_| {
            let (limiter, limit, key) = (&limiter, &limit, limit_key.as_str());
            async move {
                black_box(limiter.check(limit, key).await.unwrap());
            }
        },
    ));
    println!(
        "rate_limit_check (interleaved medians): hand-written {hand:.1} µs, RateLimiter {ours:.1} µs, ratio {:.3}",
        ours / hand
    );
}
