//! `Db` itself: ping, stats, close draining in-flight work, wrapping a sqlx pool, Debug.

use std::time::Duration;

use txova_db::sqlx::postgres::PgPoolOptions;
use txova_db::{Db, DbConfig, ErrorKind};

use crate::support::{self, Service, server_url};

#[tokio::test]
async fn ping_and_stats_count_acquires_and_waits() {
    let Some(pg) = support::postgres_with("ping_and_stats", |c| DbConfig {
        max_connections: 2,
        ..c
    })
    .await
    else {
        return;
    };
    pg.db.ping().await.expect("ping");
    let before = pg.db.stats();
    assert_eq!(before.max_size, 2);
    assert!(before.acquires >= 1);

    // Four sleeps on two connections: at least two acquires must wait.
    let sleeps = (0..4).map(|_| pg.db.execute("SELECT pg_sleep(0.1)"));
    for done in futures_util::future::join_all(sleeps).await {
        done.expect("sleep");
    }
    let after = pg.db.stats();
    assert_eq!(after.acquires, before.acquires + 4);
    assert!(after.waits >= before.waits + 2, "{after:?}");
    assert!(after.wait_time >= Duration::from_millis(100), "{after:?}");
    support::eventually("every connection is back", || pg.db.stats().in_use == 0).await;
    let settled = pg.db.stats();
    assert!(settled.size <= 2 && settled.in_use == 0, "{settled:?}");
}

#[tokio::test]
async fn acquire_timeout_is_timeout_kind_and_counted() {
    let Some(pg) = support::postgres_with("acquire_timeout", |c| DbConfig {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(150),
        ..c
    })
    .await
    else {
        return;
    };
    let (slow, starved) = tokio::join!(pg.db.execute("SELECT pg_sleep(0.6)"), async {
        support::eventually("the holder has the connection", || {
            pg.db.stats().in_use == 1
        })
        .await;
        pg.db.execute("SELECT 1").await
    });
    slow.expect("the holder finishes");
    let err = starved.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_eq!(pg.db.stats().acquire_timeouts, 1);
}

/// One clock reading times both the acquire and the statement when an idle
/// connection is there at once: the wait is counted apart from the statement either
/// way, and a connection found at once adds no wait.
#[tokio::test]
async fn a_statement_is_timed_from_its_connection_and_its_wait_counted_apart() {
    let Some(pg) = support::postgres_with("timed_from_connection", |c| DbConfig {
        max_connections: 1,
        ..c
    })
    .await
    else {
        return;
    };
    pg.db.ping().await.expect("ping");
    let before = pg.db.stats();
    let (held, (waiter, captured)) = tokio::join!(pg.db.execute("SELECT pg_sleep(0.4)"), async {
        support::eventually("the holder has the connection", || {
            pg.db.stats().in_use == 1
        })
        .await;
        txova_db::testing::capture(pg.db.execute("SELECT 1")).await
    });
    held.expect("the holder");
    waiter.expect("the waiter");
    let after = pg.db.stats();
    let waited = after.wait_time - before.wait_time;
    assert!(waited >= Duration::from_millis(200), "{after:?}");
    let [statement] = captured.statements() else {
        panic!("one statement: {captured:?}");
    };
    assert!(
        statement.duration < Duration::from_millis(150),
        "the statement's time holds the {waited:?} it waited: {statement:?}"
    );

    pg.db.execute("SELECT 1").await.expect("found idle");
    let idle = pg.db.stats();
    assert_eq!(idle.acquires, after.acquires + 1);
    assert_eq!((idle.waits, idle.wait_time), (after.waits, after.wait_time));
}

#[tokio::test]
async fn close_waits_for_running_statements_then_refuses_new_ones() {
    let Some(pg) = support::postgres("close_drains").await else {
        return;
    };
    let db = pg.db.clone();
    let running = tokio::spawn(async move { db.execute("SELECT pg_sleep(0.3)").await });
    support::eventually("the statement has its connection", || {
        pg.db.stats().in_use == 1
    })
    .await;
    let started = std::time::Instant::now();
    pg.db.close().await;
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "close returned before the running statement finished"
    );
    running
        .await
        .expect("task")
        .expect("the in-flight statement completes");
    assert!(pg.db.is_closed());
    let err = pg.db.execute("SELECT 1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PoolClosed, "{err:?}");
}

#[tokio::test]
async fn debug_and_errors_never_show_the_password() {
    let Some(url) = server_url(Service::Postgres, "debug_never_shows_password") else {
        return;
    };
    // A URL with a password of its own keeps it (that is the secret to hide); one
    // without gets one, which the machine's server ignores (it trusts local logins).
    let mut url = url::Url::parse(&url).expect("a URL");
    if url.password().is_none() {
        url.set_password(Some("Sup3rS3cret")).expect("a password");
    }
    let secret = url.password().expect("a password").to_owned();
    let url = url.to_string();
    let db = Db::connect(&url).await.expect("connect");
    let shown = format!("{db:?} {:?}", db.config());
    assert!(!shown.contains(&secret), "{shown}");
    assert!(shown.contains("***"), "{shown}");
    let err = db
        .execute("SELECT * FROM no_such_table_here")
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(&secret));
}

#[tokio::test]
async fn wraps_an_existing_sqlx_pool() {
    let Some(pg) = support::postgres("wraps_sqlx_pool").await else {
        return;
    };
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .connect(&pg.url())
        .await
        .expect("sqlx pool");
    let db = Db::from(pool);
    assert_eq!(db.backend(), txova_db::Backend::Postgres);
    assert_eq!(db.stats().max_size, 3);
    let n: i32 = txova_db::query("SELECT 41 + 1")
        .fetch_one(&db)
        .await
        .and_then(|r| r.try_get(0))
        .expect("query");
    assert_eq!(n, 42);
}
