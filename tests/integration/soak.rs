//! A soak: the bank workload for 60 s (`TXOVA_SOAK_SECS` to change it) on two pools of
//! one Postgres database, one connected directly and cancelled at random (callers that
//! give up after a random few milliseconds), one through the test proxy, which stalls
//! and resets at random. At the end: the money adds up, no slot is leaked, no session
//! is left in a transaction, and no call that was not itself faulted failed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use txova_db::{Db, DbConfig, Error, ErrorKind, query};

use crate::support;

const ACCOUNTS: i32 = 50;
const BALANCE: i64 = 1_000;

/// Moves `amount` from one account to another, locking them in id order (so
/// transfers never deadlock one another).
async fn transfer(db: &Db, from: i32, to: i32, amount: i64) -> Result<(), Error> {
    let (first, second) = if from < to { (from, to) } else { (to, from) };
    db.transaction(|_| async move {
        for id in [first, second] {
            let delta = if id == from { -amount } else { amount };
            query("UPDATE accounts SET balance = balance + $1 WHERE id = $2")
                .bind(delta)
                .bind(id)
                .execute(db)
                .await?;
        }
        Ok(())
    })
    .await
}

/// What the workers saw.
#[derive(Default)]
struct Tally {
    committed: AtomicU64,
    cancelled: AtomicU64,
    faulted: AtomicU64,
    /// Failures of calls nothing faulted: must stay empty.
    unfaulted: std::sync::Mutex<Vec<String>>,
}

/// The proxy's fault state, for telling faulted calls from the rest.
#[derive(Default)]
struct Faults {
    /// Bumped whenever a fault starts or ends.
    epoch: AtomicU64,
    active: AtomicBool,
    /// Resets so far: each may leave the pool's idle connections dead, and the first
    /// call to meet each one fails.
    resets: AtomicU64,
}

fn random_pair() -> (i32, i32) {
    let from = rand::random_range(1..=ACCOUNTS);
    let mut to = rand::random_range(1..=ACCOUNTS);
    while to == from {
        to = rand::random_range(1..=ACCOUNTS);
    }
    (from, to)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bank_workload_under_cancellations_and_network_faults() {
    let secs = std::env::var("TXOVA_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let (app_direct, app_proxied) = (
        support::unique_name("soak_a"),
        support::unique_name("soak_b"),
    );
    let app = app_direct.clone();
    let Some(pg) = support::postgres_with("soak", move |c| DbConfig {
        application_name: Some(app),
        max_connections: 4,
        ..c
    })
    .await
    else {
        return;
    };
    pg.db
        .execute_script(&format!(
            "CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL);
             INSERT INTO accounts SELECT g, {BALANCE} FROM generate_series(1, {ACCOUNTS}) g;"
        ))
        .await
        .expect("accounts");
    let direct = pg.db.clone();
    let (proxy, url) = support::proxy_for(&pg).await;
    let proxy = Arc::new(proxy);
    let proxied = Db::connect_with(DbConfig {
        application_name: Some(app_proxied.clone()),
        max_connections: 4,
        connect_timeout: Duration::from_millis(500),
        acquire_timeout: Duration::from_secs(3),
        ..DbConfig::new(url)
    })
    .await
    .expect("through the proxy");

    let stop = Arc::new(AtomicBool::new(false));
    let (direct_tally, proxied_tally) = (Arc::new(Tally::default()), Arc::new(Tally::default()));
    let faults = Arc::new(Faults::default());
    let mut tasks = Vec::new();
    for worker in 0..4 {
        // Direct: a third of the calls are given up after 0 to 5 ms.
        let (db, stopping, tally) = (direct.clone(), stop.clone(), direct_tally.clone());
        tasks.push(tokio::spawn(async move {
            while !stopping.load(Ordering::Relaxed) {
                let (from, to) = random_pair();
                let call = transfer(&db, from, to, 1);
                if rand::random_ratio(1, 3) {
                    let patience = Duration::from_micros(rand::random_range(0..5_000));
                    match tokio::time::timeout(patience, call).await {
                        Err(_) => tally.cancelled.fetch_add(1, Ordering::Relaxed),
                        Ok(Ok(())) => tally.committed.fetch_add(1, Ordering::Relaxed),
                        Ok(Err(err)) => {
                            tally
                                .unfaulted
                                .lock()
                                .unwrap()
                                .push(format!("direct {worker}: {err}"));
                            0
                        }
                    };
                } else {
                    match call.await {
                        Ok(()) => tally.committed.fetch_add(1, Ordering::Relaxed),
                        Err(err) => {
                            tally
                                .unfaulted
                                .lock()
                                .unwrap()
                                .push(format!("direct {worker}: {err}"));
                            0
                        }
                    };
                }
            }
        }));
        // Through the proxy: a failure counts as faulted if a fault was active or
        // began or ended while the call ran, or a reset may have broken its connection.
        let (db, stopping, tally, faults) = (
            proxied.clone(),
            stop.clone(),
            proxied_tally.clone(),
            faults.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut resets_met = 0;
            while !stopping.load(Ordering::Relaxed) {
                let (from, to) = random_pair();
                let epoch = faults.epoch.load(Ordering::SeqCst);
                let active = faults.active.load(Ordering::SeqCst);
                let resets = faults.resets.load(Ordering::SeqCst);
                let moved =
                    tokio::time::timeout(Duration::from_secs(2), transfer(&db, from, to, 1)).await;
                let faulted = active
                    || faults.epoch.load(Ordering::SeqCst) != epoch
                    || faults.active.load(Ordering::SeqCst);
                match moved {
                    Ok(Ok(())) => {
                        tally.committed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) if faulted => {
                        tally.faulted.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Err(err))
                        if faulted
                            || (err.kind() == ErrorKind::Connection && resets > resets_met) =>
                    {
                        // A connection a reset left dead costs the first call that
                        // meets it; each worker counts one per reset.
                        resets_met = resets;
                        assert!(
                            matches!(
                                err.kind(),
                                ErrorKind::Connection
                                    | ErrorKind::AmbiguousCommit
                                    | ErrorKind::Timeout
                            ),
                            "a faulted call failed with something else: {err}"
                        );
                        tally.faulted.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Err(err)) => {
                        tally
                            .unfaulted
                            .lock()
                            .unwrap()
                            .push(format!("proxied {worker}: {err}"));
                    }
                    Err(_) => {
                        tally
                            .unfaulted
                            .lock()
                            .unwrap()
                            .push(format!("proxied {worker}: hung 2 s"));
                    }
                }
            }
        }));
    }
    // The faults: every 300 to 700 ms, a stall of 20 to 200 ms, a reset, or a reset
    // in the middle of whatever the server sends next.
    let injector = {
        let (proxy, stopping, faults) = (proxy.clone(), stop.clone(), faults.clone());
        tokio::spawn(async move {
            while !stopping.load(Ordering::Relaxed) {
                let pause = rand::random_range(300..700);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                let (kind, stall) = (rand::random_range(0..3), rand::random_range(20..200));
                faults.active.store(true, Ordering::SeqCst);
                faults.epoch.fetch_add(1, Ordering::SeqCst);
                match kind {
                    0 => {
                        proxy.stall();
                        tokio::time::sleep(Duration::from_millis(stall)).await;
                        proxy.resume();
                    }
                    1 => {
                        faults.resets.fetch_add(1, Ordering::SeqCst);
                        proxy.reset();
                    }
                    _ => {
                        faults.resets.fetch_add(1, Ordering::SeqCst);
                        proxy.reset_after_server_bytes(40);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        // Spent or not, the cut is over.
                        proxy.disarm_reset();
                    }
                }
                // Let the fault's own calls finish failing before calling it over.
                tokio::time::sleep(Duration::from_millis(20)).await;
                faults.epoch.fetch_add(1, Ordering::SeqCst);
                faults.active.store(false, Ordering::SeqCst);
            }
        })
    };
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    injector.await.expect("injector");
    proxy.resume();
    for task in tasks {
        task.await.expect("worker");
    }

    // The money adds up, whatever was cancelled, cut or left ambiguous.
    let total: i64 = query("SELECT sum(balance)::bigint FROM accounts")
        .fetch_one(&direct)
        .await
        .and_then(|row| row.try_get(0))
        .expect("sum");
    assert_eq!(total, i64::from(ACCOUNTS) * BALANCE, "money made or lost");
    // No slot leaked: each pool settles, then serves its maximum at once.
    for db in [&direct, &proxied] {
        let settled = Instant::now();
        loop {
            let stats = db.stats();
            if stats.in_use == 0 && stats.settling == 0 && stats.pending_acquires == 0 {
                break;
            }
            assert!(
                settled.elapsed() < Duration::from_secs(5),
                "not settled: {stats:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A connection the proxy cut while it sat idle is handed out unchecked if it
        // idled under `test_after_idle` (1 s) and no sibling has failed since (the
        // pool's contract, as pgxpool's): its caller gets a connection error, the
        // statement unsent. Past that second every idle connection is pinged first,
        // so the whole capacity must answer.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let all =
            futures_util::future::join_all((0..4).map(|_| db.execute("SELECT pg_sleep(0.05)")))
                .await;
        for done in all {
            done.expect("the pool's whole capacity after the soak");
        }
    }
    // No session left in a transaction, or running.
    for app in [&app_direct, &app_proxied] {
        support::assert_sessions_idle(&pg.db, app, "after the soak").await;
    }

    let direct_failures = direct_tally.unfaulted.lock().unwrap().clone();
    let proxied_failures = proxied_tally.unfaulted.lock().unwrap().clone();
    eprintln!(
        "soak {:?}: direct {} committed, {} cancelled; proxied {} committed, {} faulted; \
         {} statements cancelled on the server; faults {}",
        started.elapsed(),
        direct_tally.committed.load(Ordering::Relaxed),
        direct_tally.cancelled.load(Ordering::Relaxed),
        proxied_tally.committed.load(Ordering::Relaxed),
        proxied_tally.faulted.load(Ordering::Relaxed),
        direct.stats().statements_cancelled + proxied.stats().statements_cancelled,
        faults.epoch.load(Ordering::Relaxed) / 2,
    );
    assert!(
        direct_failures.is_empty(),
        "unfaulted calls failed: {direct_failures:?}"
    );
    assert!(
        proxied_failures.is_empty(),
        "unfaulted calls failed: {proxied_failures:?}"
    );
    assert!(direct_tally.committed.load(Ordering::Relaxed) > 100);
    assert!(proxied_tally.committed.load(Ordering::Relaxed) > 100);
}
