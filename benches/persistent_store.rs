//! The store patterns on the embedded store in memory and kept on disk (issue 27):
//! what `Durability::Buffered` and `Durability::Synced` cost each pattern, as ratios to
//! the in-memory store in the same process.
//!
//! Patterns: a cache set then get (one write, one read), a lock acquire + release (two
//! writes: the lock and its fencing counter, then the release), a rate-limit check (one
//! write), a session read (a read that writes only when it touches the session, here
//! never: the touch interval is long). Interleaved rounds with a rotating order (see
//! `rounds.rs`); wall time and client CPU per call, medians of per-round ratios.
//! `cargo bench -p txova-db --features persistent-store --bench persistent_store`.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::hint::black_box;
use std::time::Duration;

use txova_db::cache::Cache;
use txova_db::lock::Locks;
use txova_db::rate_limit::{RateLimit, RateLimiter};
use txova_db::session::{NewSession, Sessions};
use txova_db::store::{Durability, EmbeddedStore, Store};

#[path = "rounds.rs"]
#[allow(dead_code)] // `nth` spreads rows over server connections; these have none
mod rounds;
use rounds::{Body, body, interleave, median, ratio};

const ROUNDS: usize = 15;

/// The four patterns on one store, as rows named by pattern.
fn rows(rt: &tokio::runtime::Runtime, store: &Store) -> Vec<(&'static str, Body)> {
    let cache = Cache::new(store.clone());
    let locks = Locks::new(store.clone());
    let limiter = RateLimiter::new(store.clone());
    let sessions = Sessions::new(store.clone());
    let session = rt
        .block_on(sessions.create(NewSession::new("bench").data("theme", "dark")))
        .unwrap();
    let id = session.id.as_str().to_owned();
    vec![
        (
            "cache set + get",
            body(move |i| {
                let cache = cache.clone();
                async move {
                    let key = format!("bench:{}", i % 1000);
                    cache.set(&key, &i).await.unwrap();
                    black_box(cache.get::<u64>(&key).await.unwrap());
                }
            }),
        ),
        (
            "lock acquire + release",
            body(move |i| {
                let locks = locks.clone();
                async move {
                    let guard = locks.acquire(&format!("bench:{}", i % 64)).await.unwrap();
                    black_box(guard.fencing_token());
                    guard.release().await.unwrap();
                }
            }),
        ),
        (
            "rate-limit check",
            body(move |i| {
                let limiter = limiter.clone();
                async move {
                    let limit = RateLimit::fixed_window(u32::MAX, Duration::from_secs(60));
                    let key = format!("bench:{}", i % 64);
                    black_box(limiter.check(&limit, &key).await.unwrap());
                }
            }),
        ),
        (
            "session read",
            body(move |_| {
                let (sessions, id) = (sessions.clone(), id.clone());
                async move {
                    black_box(sessions.get(&id).await.unwrap().unwrap());
                }
            }),
        ),
    ]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let root = std::env::temp_dir().join(format!("txova-bench-store-{}", std::process::id()));
    let memory = Store::embedded();
    let buffered: Store = EmbeddedStore::open_with(root.join("buffered"), Durability::Buffered)
        .unwrap()
        .into();
    let synced: Store = EmbeddedStore::open_with(root.join("synced"), Durability::Synced)
        .unwrap()
        .into();
    let stores = [
        ("memory", memory),
        ("buffered", buffered),
        ("synced", synced),
    ];
    let per_store: Vec<Vec<(&str, Body)>> =
        stores.iter().map(|(_, store)| rows(&rt, store)).collect();

    println!(
        "{:<24} {:>10} {:>10} {:>10} {:>16} {:>16}",
        "pattern (µs per call)", "memory", "buffered", "synced", "buffered/memory", "synced/memory"
    );
    for pattern in 0..per_store[0].len() {
        let name = per_store[0][pattern].0;
        let rows: Vec<Body> = per_store.iter().map(|r| r[pattern].1.clone()).collect();
        // Fewer calls per batch for the fsync'd row's sake: ~0.2 ms each.
        let measured = interleave(&rt, &rows, 200, ROUNDS);
        for (what, micros) in [("wall", &measured.wall), ("cpu", &measured.cpu)] {
            println!(
                "{:<24} {:>10.2} {:>10.2} {:>10.2} {:>15.2}x {:>15.2}x",
                format!("{name} ({what})"),
                median(micros[0].clone()),
                median(micros[1].clone()),
                median(micros[2].clone()),
                ratio(micros, 1, 0),
                ratio(micros, 2, 0),
            );
        }
    }
    drop((stores, per_store));
    let _ = std::fs::remove_dir_all(&root);
}
