//! txova-db's own pool: no round trip of its own on the hot path, yet no broken or
//! unsettled connection reaches a caller.

use std::time::Duration;

use txova_db::{Db, DbConfig, query};

use crate::support;

/// Terminates every backend of `app` (the pool's `application_name`) from `admin`.
async fn terminate(admin: &Db, app: &str) -> u64 {
    query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1")
        .bind(app.to_owned())
        .execute(admin)
        .await
        .expect("terminate")
}

/// The first column of the one row `sql` returns.
async fn scalar<T: txova_db::types::Decode>(db: &Db, sql: &str) -> Result<T, txova_db::Error> {
    query(sql).fetch_one(db).await?.try_get(0)
}

/// Runs `n` statements at once, so the pool opens `n` connections.
async fn use_connections(db: &Db, n: usize) {
    let sleeps = (0..n).map(|_| db.execute("SELECT pg_sleep(0.05)"));
    for done in futures_util::future::join_all(sleeps).await {
        done.expect("sleep");
    }
}

#[tokio::test]
async fn connections_killed_while_idle_cost_one_statement_then_are_checked() {
    let app = support::unique_name("pool_killed_idle");
    let Some(pg) = support::postgres_with("pool_killed_idle", |c| DbConfig {
        application_name: Some(app.clone()),
        max_connections: 3,
        ..c
    })
    .await
    else {
        return;
    };
    let db = &pg.db;
    use_connections(db, 3).await;
    assert_eq!(db.stats().idle, 3);
    let admin = Db::connect(&pg.base_url).await.expect("admin");

    // Killed just now: younger than `test_after_idle`, so not checked before use. The
    // first statement meets the ended session and reports it: nothing shows that the
    // statement did not reach the backend first, so it is not run again. Its failure
    // makes the other idle connections suspect: they are checked, found dead, and
    // replaced, and the statements after it succeed.
    assert_eq!(terminate(&admin, &app).await, 3);
    let first = scalar::<i32>(db, "SELECT 1").await.unwrap_err();
    assert_eq!(first.kind(), txova_db::ErrorKind::Connection, "{first}");
    for round in 0..3 {
        let one: i32 = scalar(db, "SELECT 1")
            .await
            .unwrap_or_else(|e| panic!("statement {round} after the kill: {e}"));
        assert_eq!(one, 1);
    }
    // BEGIN and a ping have no effect of their own: they move to another connection.
    assert_eq!(terminate(&admin, &app).await, 1);
    db.transaction(|_| async { db.execute("SELECT 1").await })
        .await
        .expect("a transaction after the kill");
    assert_eq!(terminate(&admin, &app).await, 1);
    db.ping().await.expect("a ping after the kill");

    let stats = db.stats();
    assert_eq!(stats.size, 1, "{stats:?}");
    assert_eq!(stats.connections_created, 6, "{stats:?}");
    assert_eq!(stats.connections_closed, 5, "{stats:?}");
    admin.close().await;
}

#[tokio::test]
async fn a_cancelled_statement_leaves_a_connection_that_is_reused_clean() {
    let Some(pg) = support::postgres_with("pool_cancelled", |c| DbConfig {
        max_connections: 1,
        ..c
    })
    .await
    else {
        return;
    };
    let db = &pg.db;
    let cancelled = tokio::time::timeout(
        Duration::from_millis(50),
        db.execute("SELECT pg_sleep(0.3)"),
    );
    assert!(cancelled.await.is_err(), "the sleep outlives the timeout");
    // The only connection still owes the sleep's reply: the check waits for it, and the
    // next statement gets a clean connection, not the sleep's leftovers.
    let two: i32 = scalar(db, "SELECT 2").await.expect("after the cancel");
    assert_eq!(two, 2);
    assert_eq!(db.stats().connections_created, 1, "reused, not replaced");
}

#[tokio::test]
async fn a_transaction_dropped_open_is_rolled_back_before_its_connection_is_reused() {
    let Some(pg) = support::postgres_with("pool_dropped_tx", |c| DbConfig {
        max_connections: 1,
        ..c
    })
    .await
    else {
        return;
    };
    let db = &pg.db;
    db.execute("CREATE TABLE marks (id BIGINT PRIMARY KEY)")
        .await
        .expect("table");
    let body = db.transaction(|_| async {
        db.execute("INSERT INTO marks VALUES (1)").await?;
        tokio::time::sleep(Duration::from_secs(10)).await;
        Ok::<_, txova_db::Error>(())
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(100), body)
            .await
            .is_err()
    );
    // Inside the dropped transaction, which wrote, this would be its transaction id.
    let txid: Option<i64> = scalar(db, "SELECT txid_current_if_assigned()")
        .await
        .expect("next statement");
    assert_eq!(
        txid, None,
        "the next statement runs outside the dropped transaction"
    );
    let left: i64 = scalar(db, "SELECT count(*) FROM marks")
        .await
        .expect("count");
    assert_eq!(left, 0, "the insert was rolled back");
    assert_eq!(db.stats().connections_created, 1);
}

#[tokio::test]
async fn idle_connections_expire_down_to_the_minimum_and_old_ones_are_replaced() {
    let Some(pg) = support::postgres_with("pool_lifetimes", |c| DbConfig {
        max_connections: 3,
        min_connections: 1,
        idle_timeout: Some(Duration::from_millis(200)),
        ..c
    })
    .await
    else {
        return;
    };
    let db = &pg.db;
    use_connections(db, 3).await;
    assert_eq!(db.stats().size, 3);
    support::eventually("idle connections expire", || db.stats().size == 1).await;
    let stats = db.stats();
    assert_eq!((stats.size, stats.idle), (1, 1), "{stats:?}");
    assert_eq!(stats.connections_closed, 2, "{stats:?}");

    let Some(aged) = support::postgres_with("pool_max_lifetime", |c| DbConfig {
        max_lifetime: Some(Duration::from_millis(150)),
        ..c
    })
    .await
    else {
        return;
    };
    aged.db.execute("SELECT 1").await.expect("young");
    tokio::time::sleep(Duration::from_millis(300)).await;
    aged.db
        .execute("SELECT 1")
        .await
        .expect("after its lifetime");
    let stats = aged.db.stats();
    assert!(stats.connections_created >= 2, "{stats:?}");
    assert_eq!(stats.size, 1, "{stats:?}");
}

#[tokio::test]
async fn many_callers_share_the_pool_without_exceeding_its_maximum() {
    let Some(pg) = support::postgres_with("pool_bounded", |c| DbConfig {
        max_connections: 2,
        ..c
    })
    .await
    else {
        return;
    };
    let db = &pg.db;
    let statements = (0..20).map(|i| async move {
        let n: i32 = query("SELECT $1::int FROM pg_sleep(0.01)")
            .bind(i)
            .fetch_one(db)
            .await
            .and_then(|row| row.try_get(0))
            .expect("statement");
        assert_eq!(n, i);
        assert!(db.stats().size <= 2);
    });
    futures_util::future::join_all(statements).await;
    let stats = db.stats();
    assert_eq!(stats.connections_created, 2, "{stats:?}");
    assert_eq!(
        (stats.acquires, stats.pending_acquires),
        (20, 0),
        "{stats:?}"
    );
    assert!(stats.waits >= 18, "{stats:?}");
}

/// The pool's central claim, counted on the wire: a point query on a connection in
/// steady use is one round trip (no ping when it is taken, nothing when it goes back),
/// and a connection idle longer than `test_after_idle` is pinged once before use.
#[tokio::test]
async fn a_point_query_is_one_round_trip_and_only_an_idle_connection_is_pinged() {
    let Some(pg) = support::postgres("a_point_query_is_one_round_trip").await else {
        return;
    };
    let (proxy, url) = support::proxy_for(&pg).await;
    // In clear, so the proxy can read the messages (the server would accept TLS).
    let url = format!("{url}&sslmode=disable");
    let idle = Duration::from_millis(300);
    let db = Db::connect_with(DbConfig {
        max_connections: 1,
        test_after_idle: idle,
        ..DbConfig::new(url)
    })
    .await
    .expect("connect through the proxy");
    let point = || async {
        let seven: i64 = query("SELECT $1::int8")
            .bind(7_i64)
            .fetch_one(&db)
            .await?
            .try_get(0)?;
        assert_eq!(seven, 7);
        Ok::<_, txova_db::Error>(())
    };
    // Every round trip any connection asked for, in order (there is one connection).
    let trips = || -> Vec<char> {
        proxy
            .client_bytes()
            .iter()
            .flat_map(|sent| crate::tcp_proxy::postgres_round_trips(sent))
            .collect()
    };
    point().await.expect("the first use prepares the statement");

    let before = trips().len();
    for _ in 0..20 {
        point().await.expect("a point query");
    }
    assert_eq!(
        trips()[before..],
        ['S'; 20],
        "one Sync per query, nothing else"
    );
    assert_eq!(db.stats().connections_created, 1);

    // Idle past `test_after_idle` (waiting is the condition under test here): the
    // connection is checked with one round trip, then the query is one more.
    tokio::time::sleep(idle * 2).await;
    let before = trips().len();
    point().await.expect("a query after idling");
    assert_eq!(trips().len() - before, 2, "{:?}", &trips()[before..]);
    let before = trips().len();
    point().await.expect("a query right after");
    assert_eq!(
        trips().len() - before,
        1,
        "no check for a connection just used"
    );
    db.close().await;
}

/// A statement dropped while the pool opens its connection (the open is boxed, so the
/// statement's future stays small) gives the room back: at one connection at most,
/// every later statement still gets one. Each statement opens anew (a connection
/// outlives its 1 ms lifetime by the next acquire), dropped after 1, 2, … polls.
#[tokio::test]
async fn a_statement_dropped_while_its_connection_opens_gives_the_room_back() {
    let Some(url) = support::server_url(support::Service::Postgres, "dropped_while_opening") else {
        return;
    };
    let db = Db::connect_with(DbConfig {
        max_connections: 1,
        max_lifetime: Some(Duration::from_millis(1)),
        acquire_timeout: Duration::from_secs(2),
        ..DbConfig::new(url.as_str())
    })
    .await
    .expect("connect");
    let mut completed = false;
    for polls in 1..=200 {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let ran =
            crate::cancellation::drop_after(db.execute("SELECT 1"), polls, Duration::ZERO).await;
        let mut settled = false;
        for _ in 0..200 {
            let stats = db.stats();
            if stats.pending_acquires == 0 && stats.in_use == 0 && stats.settling == 0 {
                assert!(stats.size <= 1, "after {polls} polls: {stats:?}");
                settled = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(settled, "after {polls} polls: {:?}", db.stats());
        if let Some(result) = ran {
            result.expect("the statement that completed");
            // Some runs were dropped before their connection was open.
            let created = db.stats().connections_created;
            assert!(created < polls as u64, "{created} opened in {polls} runs");
            completed = true;
            break;
        }
    }
    assert!(completed, "the statement never completed");
    let after = tokio::time::timeout(Duration::from_secs(5), db.execute("SELECT 1")).await;
    after.expect("no room left behind").expect("statement");
    db.close().await;
}

/// A caller that finds the only connection being settled (its last caller dropped a
/// statement midway) holds a permit and parks on the pool's wake-up: dropped after any
/// number of polls it leaves nothing behind, and one left to wait is woken when the
/// connection comes back, not at its acquire timeout.
#[tokio::test]
async fn a_caller_parked_for_a_settling_connection_is_woken_or_dropped_cleanly() {
    let Some(pg) = support::postgres_with("pool_parked", |c| DbConfig {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(10),
        ..c
    })
    .await
    else {
        return;
    };
    let db = &pg.db;
    // Leaves the only connection owing a sleep's reply: it is settled, not idle.
    let leave_settling = || async {
        let sleep = tokio::time::timeout(
            Duration::from_millis(50),
            db.execute("SELECT pg_sleep(0.3)"),
        );
        assert!(sleep.await.is_err(), "the sleep outlives the timeout");
        let stats = db.stats();
        assert_eq!((stats.size, stats.settling), (1, 1), "{stats:?}");
    };
    let settle = |polls: usize| async move {
        for _ in 0..400 {
            let stats = db.stats();
            if stats.pending_acquires == 0 && stats.in_use == 0 && stats.settling == 0 {
                assert_eq!(stats.size, 1, "after {polls} polls: {stats:?}");
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("after {polls} polls: {:?}", db.stats());
    };
    for polls in 1..=4 {
        leave_settling().await;
        let ran =
            crate::cancellation::drop_after(db.execute("SELECT 1"), polls, Duration::ZERO).await;
        settle(polls).await;
        if let Some(result) = ran {
            result.expect("a statement that completed");
        }
    }

    leave_settling().await;
    let waits = db.stats().waits;
    let started = std::time::Instant::now();
    db.execute("SELECT 1").await.expect("after the settle");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "woken when the connection came back, not at the timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(db.stats().waits, waits + 1, "{:?}", db.stats());
    assert_eq!(db.stats().connections_created, 1, "reused, not replaced");
}
