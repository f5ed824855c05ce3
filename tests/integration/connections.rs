//! `Db::acquire`: one connection lent whole, whose statements share a session, and
//! which goes back to the pool in the state the pool hands out, whatever its borrower
//! did to the session.

use std::time::Duration;

use futures_util::StreamExt as _;
use txova_db::{Db, DbConfig, ErrorKind, query};

use crate::support::{self, SqliteFile};

async fn scalar<T: txova_db::types::Decode>(sql: &str, on: &impl txova_db::Executor) -> T {
    query(sql).fetch_one(on).await.unwrap().try_get(0).unwrap()
}

#[tokio::test]
async fn a_postgres_connection_keeps_its_session_and_comes_back_reset() {
    let Some(pg) = support::postgres_with("acquire_postgres", |config| DbConfig {
        max_connections: 1,
        ..config
    })
    .await
    else {
        return;
    };
    let db = &pg.db;
    db.execute("CREATE TABLE ledger (n BIGINT NOT NULL)")
        .await
        .unwrap();
    let zone: String = scalar("SHOW TIME ZONE", db).await;
    let pid: i32 = scalar("SELECT pg_backend_pid()", db).await;

    let conn = db.acquire().await.unwrap();
    assert_eq!(scalar::<i32>("SELECT pg_backend_pid()", &conn).await, pid);
    // Session state of every kind the next borrower must not inherit.
    for sql in [
        "SET TIME ZONE 'Asia/Tokyo'",
        "CREATE TEMP TABLE scratch (n INT)",
        "SELECT pg_advisory_lock(4242)",
        "LISTEN acquired_channel",
        "BEGIN",
        "INSERT INTO ledger VALUES (1)",
    ] {
        query(sql).execute(&conn).await.unwrap();
    }
    assert_eq!(
        scalar::<String>("SHOW TIME ZONE", &conn).await,
        "Asia/Tokyo"
    );
    // One statement at a time: a second one while a stream holds it is refused.
    let mut rows = query("SELECT generate_series(1, 3)").fetch(&conn);
    rows.next().await.unwrap().unwrap();
    let err = query("SELECT 1").execute(&conn).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidQuery, "{err}");
    drop(rows);
    drop(conn);

    // The same session (one connection), clean.
    assert_eq!(scalar::<i32>("SELECT pg_backend_pid()", db).await, pid);
    assert_eq!(scalar::<String>("SHOW TIME ZONE", db).await, zone);
    assert!(scalar::<bool>("SELECT to_regclass('pg_temp.scratch') IS NULL", db).await);
    assert_eq!(
        scalar::<i64>("SELECT count(*) FROM pg_listening_channels()", db).await,
        0
    );
    assert_eq!(scalar::<i64>("SELECT count(*) FROM ledger", db).await, 0);
    let other = Db::connect(&pg.url()).await.unwrap();
    assert!(scalar::<bool>("SELECT pg_try_advisory_lock(4242)", &other).await);
    other.close().await;
    assert_eq!(db.stats().connections_created, 1);
}

#[tokio::test]
async fn a_connection_dropped_mid_statement_is_cancelled_and_reset() {
    let Some(pg) = support::postgres_with("acquire_dropped", |config| DbConfig {
        max_connections: 1,
        ..config
    })
    .await
    else {
        return;
    };
    let conn = pg.db.acquire().await.unwrap();
    query("SET TIME ZONE 'Asia/Tokyo'")
        .execute(&conn)
        .await
        .unwrap();
    let slow = query("SELECT pg_sleep(30)").execute(&conn);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), slow)
            .await
            .is_err()
    );
    drop(conn);
    let started = std::time::Instant::now();
    let zone: String = query("SHOW TIME ZONE")
        .timeout(Duration::from_secs(5))
        .fetch_one(&pg.db)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_ne!(zone, "Asia/Tokyo");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn a_mariadb_connection_is_closed_not_reused() {
    let Some(my) = support::mysql_with("acquire_mariadb", |config| DbConfig {
        max_connections: 1,
        ..config
    })
    .await
    else {
        return;
    };
    let conn = my.db.acquire().await.unwrap();
    let lent: i64 = scalar("SELECT CAST(CONNECTION_ID() AS SIGNED)", &conn).await;
    query("SET @borrowed = 1").execute(&conn).await.unwrap();
    drop(conn);
    let next = my.db.acquire().await.unwrap();
    assert_ne!(
        scalar::<i64>("SELECT CAST(CONNECTION_ID() AS SIGNED)", &next).await,
        lent,
        "a fresh session"
    );
    let var: Option<i64> = query("SELECT @borrowed")
        .fetch_one(&next)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(var, None);
}

#[tokio::test]
async fn a_sqlite_connection_comes_back_with_its_transaction_rolled_back() {
    let file = SqliteFile::new();
    let db = Db::connect_with(DbConfig {
        max_connections: 1,
        ..DbConfig::new(file.url())
    })
    .await
    .unwrap();
    db.execute("CREATE TABLE ledger (n INTEGER NOT NULL)")
        .await
        .unwrap();
    let conn = db.acquire().await.unwrap();
    query("BEGIN").execute(&conn).await.unwrap();
    query("INSERT INTO ledger VALUES (1)")
        .execute(&conn)
        .await
        .unwrap();
    drop(conn);
    let n: i64 = query("SELECT count(*) FROM ledger")
        .timeout(Duration::from_secs(5))
        .fetch_one(&db)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(n, 0);
    // And the connection takes writes again: no transaction was left open on it.
    db.execute("INSERT INTO ledger VALUES (2)").await.unwrap();
}

#[tokio::test]
async fn copy_in_and_out_on_a_postgres_connection() {
    let Some(pg) = support::postgres_with("copy_postgres", |config| DbConfig {
        max_connections: 1,
        ..config
    })
    .await
    else {
        return;
    };
    let db = &pg.db;
    db.execute("CREATE TABLE fares (id BIGINT PRIMARY KEY, label TEXT, cents BIGINT NOT NULL)")
        .await
        .unwrap();
    let conn = db.acquire().await.unwrap();
    let csv = b"1,\"a, quoted\",700\n2,,1300\n";
    let copied = conn
        .copy_in("COPY fares (id, label, cents) FROM STDIN (FORMAT csv)", csv)
        .await
        .unwrap();
    assert_eq!(copied, 2);
    let out = conn
        .copy_out("COPY (SELECT * FROM fares ORDER BY id) TO STDOUT (FORMAT csv)")
        .await
        .unwrap();
    assert_eq!(out, csv);

    // A bad row, a duplicate key, a table that is not there: the server refuses the
    // whole COPY and nothing of it stays; sqlx has read its reply through, so the
    // connection goes on.
    let refused: [(&str, &[u8]); 3] = [
        (
            "COPY fares FROM STDIN (FORMAT csv)",
            b"3,x,5\n4,y,not a number\n",
        ),
        ("COPY fares FROM STDIN (FORMAT csv)", b"5,x,5\n1,y,6\n"),
        ("COPY no_such_table FROM STDIN (FORMAT csv)", b"1\n"),
    ];
    for (statement, data) in refused {
        let err = conn.copy_in(statement, data).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Database | ErrorKind::Duplicate),
            "{err}"
        );
        assert_eq!(scalar::<i64>("SELECT count(*) FROM fares", &conn).await, 2);
    }
    drop(conn);
    assert_eq!(
        db.stats().connections_created,
        1,
        "refused COPYs keep their connection"
    );

    // Not a COPY at all: sqlx's reading of the connection is out of step with the
    // server's (the rest of the SELECT's reply is unread), so the connection takes no
    // more statements and is closed.
    let conn = db.acquire().await.unwrap();
    assert!(conn.copy_in("SELECT 1", b"").await.is_err());
    let lost = query("SELECT 1").execute(&conn).await.unwrap_err();
    assert_eq!(lost.kind(), ErrorKind::InvalidQuery, "{lost}");
    drop(conn);
    assert_eq!(
        db.stats().connections_created,
        1,
        "closed only once returned"
    );
    let conn = db.acquire().await.unwrap();
    assert!(conn.copy_out("SELECT 1").await.is_err());
    drop(conn);

    // Dropped midway (a large COPY TO under a short timeout): the connection is closed,
    // not handed out in the middle of a COPY.
    let conn = db.acquire().await.unwrap();
    let before = db.stats().connections_created;
    let big = "COPY (SELECT i, repeat('x', 100) FROM generate_series(1, 3000000) AS i) TO STDOUT";
    let dropped = tokio::time::timeout(Duration::from_millis(100), conn.copy_out(big)).await;
    assert!(dropped.is_err(), "a 300 MB COPY finished in 100 ms");
    drop(conn);
    let n: i64 = query("SELECT count(*) FROM fares")
        .timeout(Duration::from_secs(5))
        .fetch_one(db)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        db.stats().connections_created,
        before + 1,
        "the dropped COPY's connection was closed"
    );
}

#[tokio::test]
async fn copy_is_unsupported_on_sqlite_and_mysql() {
    let db = Db::connect("sqlite::memory:").await.unwrap();
    let conn = db.acquire().await.unwrap();
    let err = conn.copy_in("COPY x FROM STDIN", b"").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let err = conn.copy_out("COPY x TO STDOUT").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}
