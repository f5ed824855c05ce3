//! Server faults, as operators and networks cause them: backends terminated while they
//! run a statement and while idle, a server restarted under load, and the network
//! stalling, resetting mid-result and blackholing at acquire, BEGIN, a statement and
//! COMMIT (through the test proxy). What must hold: a statement the server killed is
//! reported at once and never run twice; nothing of a transaction is half-visible;
//! the pool recovers with its accounting whole.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use txova_db::{Db, DbConfig, Error, ErrorKind, query};
use txova_db_test_support::PostgresServer;

use crate::support;
use crate::tcp_proxy::TcpProxy;

/// The first column of the one row `sql` returns.
async fn scalar<T: txova_db::types::Decode>(db: &Db, sql: &str) -> T {
    query(sql)
        .fetch_one(db)
        .await
        .and_then(|row| row.try_get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Terminates the backend of `app` running `sql`, once it is asleep in its `pg_sleep`
/// (so whatever the statement does first, a script's or a procedure's COMMIT, is done).
async fn terminate_running(admin: &Db, app: &str, sql: &str) {
    let started = Instant::now();
    loop {
        let killed = query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND state = 'active' AND query = $2
               AND wait_event = 'PgSleep'",
        )
        .bind(app.to_owned())
        .bind(sql.to_owned())
        .execute(admin)
        .await
        .expect("terminate");
        if killed > 0 {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "nothing ran");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until the pool has nothing in use or being settled, and checks its size.
async fn assert_settled(db: &Db) {
    let started = Instant::now();
    loop {
        let stats = db.stats();
        assert!(stats.size <= stats.max_size, "{stats:?}");
        if stats.in_use == 0 && stats.settling == 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not settled: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A statement, a script with a COMMIT inside, and a procedure that commits, each
/// terminated by an operator while it runs: each fails with a `Connection` error as
/// soon as the server ends it, and each ran once.
#[tokio::test]
async fn statements_killed_while_running_fail_at_once_and_run_once() {
    let app = support::unique_name("killed_running");
    let Some(pg) = support::postgres_with("killed_running", |c| DbConfig {
        application_name: Some(app.clone()),
        ..c
    })
    .await
    else {
        return;
    };
    let db = &pg.db;
    db.execute_script(
        "CREATE SEQUENCE runs;
         CREATE TABLE marks (n BIGINT NOT NULL);
         CREATE PROCEDURE mark_then_sleep() LANGUAGE plpgsql AS $$
         BEGIN
             INSERT INTO marks VALUES (nextval('runs'));
             COMMIT;
             PERFORM pg_sleep(5);
         END $$;",
    )
    .await
    .expect("schema");
    let admin = Db::connect(&pg.url()).await.expect("admin");

    let cases = [
        ("a statement", false, "SELECT nextval('runs'), pg_sleep(5)"),
        (
            "a script that commits midway",
            true,
            "INSERT INTO marks VALUES (nextval('runs')); COMMIT; SELECT pg_sleep(5)",
        ),
        ("a procedure that commits", false, "CALL mark_then_sleep()"),
    ];
    for (what, script, sql) in cases {
        let before: i64 = scalar(&admin, "SELECT last_value + (is_called::int) FROM runs").await;
        let running = async {
            if script {
                db.execute_script(sql).await
            } else {
                db.execute(sql).await
            }
        };
        let (result, killed_at) = tokio::join!(running, async {
            terminate_running(&admin, &app, sql).await;
            Instant::now()
        });
        let waited = killed_at.elapsed();
        let err = result.expect_err(what);
        assert_eq!(err.kind(), ErrorKind::Connection, "{what}: {err}");
        assert!(
            waited < Duration::from_secs(1),
            "{what}: reported {waited:?} after the kill"
        );
        let after: i64 = scalar(&admin, "SELECT last_value + (is_called::int) FROM runs").await;
        assert_eq!(after - before, 1, "{what} ran {} times", after - before);
    }
    let marks: i64 = scalar(&admin, "SELECT count(*) FROM marks").await;
    assert_eq!(
        marks, 2,
        "the script's and the procedure's commits, once each"
    );
    db.execute("SELECT 1").await.expect("the pool goes on");
    assert_settled(db).await;
    admin.close().await;
}

/// Transfers between accounts, each in a transaction, from several tasks while the
/// server restarts under them: every failure is a connection failure (or an ambiguous
/// commit), the pool serves again once the server is back, and the money adds up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_under_load() {
    let Some(server) = PostgresServer::start("server_restart") else {
        return;
    };
    let db = Db::connect_with(DbConfig {
        max_connections: 4,
        connect_timeout: Duration::from_secs(2),
        acquire_timeout: Duration::from_secs(5),
        ..DbConfig::new(server.url.as_str())
    })
    .await
    .expect("connect");
    db.execute_script(
        "CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL);
         INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 20) g;",
    )
    .await
    .expect("accounts");

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let workers: Vec<_> = (0..6)
        .map(|worker| {
            let (db, stop, done, failed) = (db.clone(), stop.clone(), done.clone(), failed.clone());
            tokio::spawn(async move {
                let mut i = worker;
                while !stop.load(Ordering::Relaxed) {
                    i += 7;
                    let (from, to) = (i % 20 + 1, (i * 3 + 1) % 20 + 1);
                    let moved = transfer(&db, from, to, 1).await;
                    match moved {
                        Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                        Err(err) => {
                            assert!(
                                matches!(
                                    err.kind(),
                                    ErrorKind::Connection
                                        | ErrorKind::AmbiguousCommit
                                        | ErrorKind::Serialization
                                        | ErrorKind::Deadlock
                                ),
                                "a failure of another kind during the restart: {err}"
                            );
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    // Under load before the restart, and again after it: counted, not slept for.
    support::eventually("transfers before the restart", || {
        done.load(Ordering::Relaxed) >= 50
    })
    .await;
    server.restart().expect("restart");
    let after_restart = done.load(Ordering::Relaxed);
    support::eventually("transfers after the restart", || {
        done.load(Ordering::Relaxed) >= after_restart + 50
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("worker");
    }
    let total: i64 = scalar(&db, "SELECT sum(balance)::bigint FROM accounts").await;
    assert_eq!(total, 20_000, "money made or lost across the restart");
    assert_settled(&db).await;
    for _ in 0..4 {
        db.execute("SELECT 1").await.expect("after the restart");
    }
    db.close().await;
}

async fn transfer(db: &Db, from: u64, to: u64, amount: i64) -> Result<(), Error> {
    db.transaction(|_| async move {
        query("UPDATE accounts SET balance = balance - $1 WHERE id = $2")
            .bind(amount)
            .bind(i32::try_from(from).unwrap())
            .execute(db)
            .await?;
        query("UPDATE accounts SET balance = balance + $1 WHERE id = $2")
            .bind(amount)
            .bind(i32::try_from(to).unwrap())
            .execute(db)
            .await?;
        Ok(())
    })
    .await
}

/// A pool through the test proxy, with short timeouts, warmed to one idle connection.
async fn proxied(test: &str) -> Option<(support::PgSchema, TcpProxy, Db)> {
    let pg = support::postgres(test).await?;
    pg.db
        .execute("CREATE TABLE marks (tag TEXT NOT NULL)")
        .await
        .expect("table");
    let (proxy, url) = support::proxy_for(&pg).await;
    let db = Db::connect_with(DbConfig {
        max_connections: 2,
        connect_timeout: Duration::from_millis(500),
        acquire_timeout: Duration::from_secs(2),
        ..DbConfig::new(url)
    })
    .await
    .expect("through the proxy");
    Some((pg, proxy, db))
}

async fn marks(pg: &support::PgSchema, tag: &str) -> i64 {
    query("SELECT count(*) FROM marks WHERE tag = $1")
        .bind(tag.to_owned())
        .fetch_one(&pg.db)
        .await
        .and_then(|row| row.try_get(0))
        .expect("count")
}

/// A transaction writing two marks with `tag`, with `fault` injected at `at` (before
/// BEGIN, before its second statement, or before its COMMIT), given up after 300 ms;
/// whether it committed.
async fn faulted_transaction(
    db: &Db,
    proxy: &TcpProxy,
    tag: &str,
    at: &str,
    fault: fn(&TcpProxy),
) -> bool {
    let run = db.transaction(|_| async {
        query("INSERT INTO marks VALUES ($1)")
            .bind(tag.to_owned())
            .execute(db)
            .await?;
        if at == "statement" {
            fault(proxy);
        }
        query("INSERT INTO marks VALUES ($1)")
            .bind(tag.to_owned())
            .execute(db)
            .await?;
        if at == "commit" {
            fault(proxy);
        }
        Ok::<_, Error>(())
    });
    if at == "begin" {
        fault(proxy);
    }
    matches!(
        tokio::time::timeout(Duration::from_millis(300), run).await,
        Ok(Ok(()))
    )
}

/// Stalls and resets through the proxy at BEGIN, at a statement and at COMMIT: each
/// caller gets its error or gives up, the pool recovers once the network does, and
/// every transaction is all there or not at all.
#[tokio::test]
async fn stalls_and_resets_at_each_step_of_a_transaction() {
    let Some((pg, proxy, db)) = proxied("proxy_faults_tx").await else {
        return;
    };
    type Fault = fn(&TcpProxy);
    let faults: [(&str, Fault); 2] = [("stall", TcpProxy::stall), ("reset", TcpProxy::reset)];
    for (fault_name, fault) in faults {
        for at in ["begin", "statement", "commit"] {
            let tag = format!("{fault_name}-{at}");
            db.execute("SELECT 1").await.expect("warm");
            let committed = faulted_transaction(&db, &proxy, &tag, at, fault).await;
            proxy.resume();
            assert_settled(&db).await;
            let seen = marks(&pg, &tag).await;
            if committed {
                // A reset before BEGIN breaks only the idle connection: BEGIN moves on.
                assert_eq!(seen, 2, "{tag}: committed, yet not all visible");
            } else if at == "commit" {
                assert!(seen == 0 || seen == 2, "{tag}: {seen} of 2 marks visible");
            } else {
                assert_eq!(
                    seen, 0,
                    "{tag}: a transaction given up before COMMIT is visible"
                );
            }
            // The caller after the fault: the connection the fault broke may cost one
            // statement (a reset idle connection is found out by using it); after that,
            // the pool serves.
            let _ = db.execute("SELECT 1").await;
            db.execute("SELECT 1")
                .await
                .unwrap_or_else(|e| panic!("{tag}: the pool did not recover: {e}"));
            assert_settled(&db).await;
        }
    }
}

/// A result cut off by a reset in its middle is an error, never a short result, and
/// the pool goes on.
#[tokio::test]
async fn a_reset_in_the_middle_of_a_result() {
    let Some((_pg, proxy, db)) = proxied("proxy_reset_mid_result").await else {
        return;
    };
    db.execute("SELECT 1").await.expect("warm");
    proxy.reset_after_server_bytes(20_000);
    let cut = query("SELECT g, repeat('x', 100) FROM generate_series(1, 10000) g")
        .fetch_all(&db)
        .await;
    let err = cut.expect_err("a cut result");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    let rows = query("SELECT g FROM generate_series(1, 10000) g")
        .fetch_all(&db)
        .await
        .expect("after the cut");
    assert_eq!(rows.len(), 10_000);
    assert_settled(&db).await;
}

/// A network that swallows everything: opening a connection gives up at the connect
/// timeout, a statement on an idle connection is given up by its caller, and neither
/// leaves anything behind once the network is back.
#[tokio::test]
async fn a_blackholed_network_at_acquire_and_at_a_statement() {
    let Some((_pg, proxy, db)) = proxied("proxy_blackhole").await else {
        return;
    };
    // Two statements at once: one on the idle connection, one opening another.
    proxy.blackhole();
    let started = Instant::now();
    let (held, opened) = tokio::join!(
        tokio::time::timeout(Duration::from_millis(800), db.execute("SELECT 1")),
        db.execute("SELECT pg_sleep(0)"),
    );
    assert!(
        held.is_err(),
        "a statement through a blackhole returned: {held:?}"
    );
    let err = opened.expect_err("a connection opened through a blackhole");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the connect timeout (500 ms) was not kept: {:?}",
        started.elapsed()
    );
    proxy.resume();
    assert_settled(&db).await;
    let _ = db.execute("SELECT 1").await;
    db.execute("SELECT 1").await.expect("after the blackhole");
    let stats = db.stats();
    assert!(stats.size <= 2, "{stats:?}");
}

/// A stall while the pool checks an idle connection before handing it out: the acquire
/// gives up at `acquire_timeout` (never sooner, never later than a moment after), and
/// the connection it was checking is settled or closed, not leaked.
#[tokio::test]
async fn a_stall_during_the_acquire_check() {
    let Some(pg) = support::postgres("proxy_stall_acquire").await else {
        return;
    };
    let (proxy, url) = support::proxy_for(&pg).await;
    let db = Db::connect_with(DbConfig {
        max_connections: 1,
        test_after_idle: Duration::ZERO,
        acquire_timeout: Duration::from_millis(400),
        ..DbConfig::new(url)
    })
    .await
    .expect("through the proxy");
    db.execute("SELECT 1").await.expect("warm");
    proxy.stall();
    let started = Instant::now();
    let err = db.execute("SELECT 1").await.expect_err("a stalled check");
    let waited = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(
        waited >= Duration::from_millis(390) && waited < Duration::from_millis(1000),
        "{waited:?}"
    );
    proxy.resume();
    assert_settled(&db).await;
    db.execute("SELECT 1").await.expect("after the stall");
    let stats = db.stats();
    assert!(stats.size <= 1, "{stats:?}");
    // A stall again, with a statement given up midway: close() still finishes.
    proxy.stall();
    let _ = tokio::time::timeout(Duration::from_millis(100), db.execute("SELECT 1")).await;
    tokio::time::timeout(Duration::from_secs(10), db.close())
        .await
        .expect("close() finishes with the network stalled");
    assert_eq!(db.stats().size, 0);
}
