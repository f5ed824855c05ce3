//! Per-call timeouts (`.timeout(d)` on raw queries and every builder): past the limit
//! the call fails with `StatementTimeout` (kind `Timeout`) and the statement is
//! cancelled on the server, not left running, on Postgres, MariaDB and SQLite.

use std::time::{Duration, Instant};

use txova_db::{Db, DbConfig, Error, ErrorKind, Table, query};

use crate::support::{self, SqliteFile, unique_name};

const LIMIT: Duration = Duration::from_millis(200);

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "seats")]
struct Seat {
    #[column(primary_key)]
    id: i64,
    holder: String,
}

/// The call failed for its timeout, and promptly.
fn timed_out<T: std::fmt::Debug>(result: Result<T, Error>, started: Instant, what: &str) {
    let elapsed = started.elapsed();
    let err = result.expect_err(what);
    assert!(
        matches!(err, Error::StatementTimeout { after } if after == LIMIT),
        "{what}: {err}"
    );
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        elapsed < LIMIT + Duration::from_secs(1),
        "{what}: took {elapsed:?}"
    );
}

/// A schema whose sessions carry a name of their own, that name, and a second handle
/// to watch them in `pg_stat_activity`.
async fn observed_postgres(test: &str) -> Option<(support::PgSchema, String, Db)> {
    let app = unique_name("timeout");
    let pg = support::postgres_with(test, |config| DbConfig {
        application_name: Some(app.clone()),
        ..config
    })
    .await?;
    let observer = Db::connect(&pg.base_url).await.unwrap();
    Some((pg, app, observer))
}

#[tokio::test]
async fn a_slow_postgres_statement_past_its_timeout_is_cancelled_on_the_server() {
    let Some((pg, app, observer)) = observed_postgres("timeout_postgres").await else {
        return;
    };
    let started = Instant::now();
    let result = query("SELECT pg_sleep(30)")
        .timeout(LIMIT)
        .fetch_one(&pg.db)
        .await;
    timed_out(result, started, "pg_sleep(30)");
    // Cancelled, not left to sleep for 30 s: the session is idle again, and reused.
    support::assert_sessions_idle(&observer, &app, "after the timeout").await;
    support::eventually("the statement cancelled and its connection settled", || {
        let stats = pg.db.stats();
        stats.statements_cancelled == 1 && stats.settling == 0 && stats.idle == 1
    })
    .await;
    let one: i32 = query("SELECT 1")
        .fetch_one(&pg.db)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(one, 1);
    assert_eq!(
        pg.db.stats().connections_created,
        1,
        "the connection was kept"
    );
    observer.close().await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn a_slow_mariadb_statement_past_its_timeout_is_killed_on_the_server() {
    let Some(my) = support::mysql("timeout_mariadb").await else {
        return;
    };
    let marker = unique_name("sleep");
    let sql = format!("SELECT SLEEP(30) AS {marker}");
    let started = Instant::now();
    timed_out(
        query(&sql).timeout(LIMIT).fetch_one(&my.db).await,
        started,
        "SLEEP(30)",
    );
    let observer = Db::connect(&my.url()).await.unwrap();
    let pattern = format!("%{marker}%");
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let running: i64 = query(
            "SELECT COUNT(*) FROM information_schema.processlist \
             WHERE info LIKE ? AND id <> CONNECTION_ID()",
        )
        .bind(pattern.clone())
        .fetch_one(&observer)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
        if running == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "SLEEP(30) still runs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let one: i64 = query("SELECT 1")
        .fetch_one(&my.db)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(one, 1);
    observer.close().await;
}

#[tokio::test]
async fn a_slow_sqlite_statement_past_its_timeout_is_interrupted() {
    let file = SqliteFile::new();
    // One connection: if the statement were not interrupted, the next call would wait
    // minutes for it.
    let db = Db::connect_with(DbConfig {
        max_connections: 1,
        ..DbConfig::new(file.url())
    })
    .await
    .unwrap();
    let slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1e10) \
                SELECT count(*) FROM n";
    let started = Instant::now();
    timed_out(
        query(slow).timeout(LIMIT).fetch_one(&db).await,
        started,
        "counting to 1e10",
    );
    let started = Instant::now();
    let one: i64 = query("SELECT 1")
        .timeout(Duration::from_secs(5))
        .fetch_one(&db)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(one, 1);
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// Each builder's statement waits on a row lock another transaction holds, past its
/// timeout. Had it been left waiting rather than cancelled, it would apply once the
/// holder commits: the rows after that show it did not.
async fn builders_blocked_on_a_lock_are_cancelled(db: &Db, holder_db: &Db) {
    db.execute("CREATE TABLE seats (id BIGINT PRIMARY KEY, holder VARCHAR(40) NOT NULL)")
        .await
        .unwrap();
    let seat = |id, holder: &str| Seat {
        id,
        holder: holder.into(),
    };
    Seat::insert_many(&[seat(1, "ana"), seat(2, "rui")])
        .execute(db)
        .await
        .unwrap();

    let holder = holder_db.begin().await.unwrap();
    Seat::update()
        .set(Seat::holder, "held")
        .filter(Seat::id.eq(1) | Seat::id.eq(2))
        .execute(&holder)
        .await
        .unwrap();
    // A row the holder inserted and has not committed: an insert of the same key waits.
    Seat::insert(&seat(3, "held"))
        .execute(&holder)
        .await
        .unwrap();

    let started = Instant::now();
    let result = Seat::update()
        .set(Seat::holder, "update")
        .filter(Seat::id.eq(1))
        .timeout(LIMIT)
        .execute(db)
        .await;
    timed_out(result, started, "UPDATE");
    let started = Instant::now();
    let result = Seat::delete()
        .filter(Seat::id.eq(2))
        .timeout(LIMIT)
        .execute(db)
        .await;
    timed_out(result, started, "DELETE");
    let started = Instant::now();
    let result = Seat::insert(&seat(3, "insert"))
        .timeout(LIMIT)
        .execute(db)
        .await;
    timed_out(result, started, "INSERT");
    let started = Instant::now();
    let result = Seat::select()
        .filter(Seat::id.eq(1))
        .for_update()
        .timeout(LIMIT)
        .fetch_all(db)
        .await;
    timed_out(result, started, "SELECT … FOR UPDATE");

    holder.commit().await.unwrap();
    // Long enough for a statement still waiting to have run.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = Seat::select()
        .order_by(Seat::id.asc())
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(
        rows,
        [seat(1, "held"), seat(2, "held"), seat(3, "held")],
        "a timed-out statement ran after all"
    );
}

#[tokio::test]
async fn builders_past_their_timeout_on_postgres_are_cancelled_not_left_waiting() {
    let Some(pg) = support::postgres("timeout_builders_postgres").await else {
        return;
    };
    let holder = Db::connect(&pg.url()).await.unwrap();
    builders_blocked_on_a_lock_are_cancelled(&pg.db, &holder).await;
    holder.close().await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn builders_past_their_timeout_on_mariadb_are_cancelled_not_left_waiting() {
    let Some(my) = support::mysql("timeout_builders_mariadb").await else {
        return;
    };
    let holder = Db::connect(&my.url()).await.unwrap();
    builders_blocked_on_a_lock_are_cancelled(&my.db, &holder).await;
    holder.close().await;
}

/// Inside a transaction, a statement past its timeout is cancelled before the
/// transaction's next statement (not waited for), and on Postgres its failure dooms
/// the transaction: COMMIT reports it rolled back.
#[tokio::test]
async fn a_timeout_inside_a_postgres_transaction_cancels_the_statement_and_dooms_it() {
    let Some(pg) = support::postgres("timeout_in_transaction").await else {
        return;
    };
    pg.db
        .execute("CREATE TABLE marks (id BIGINT PRIMARY KEY)")
        .await
        .unwrap();
    let started = Instant::now();
    let tx = pg.db.begin().await.unwrap();
    query("INSERT INTO marks VALUES (1)")
        .execute(&tx)
        .await
        .unwrap();
    let slow = query("SELECT pg_sleep(30)")
        .timeout(LIMIT)
        .execute(&tx)
        .await;
    timed_out(slow, started, "pg_sleep(30) in a transaction");
    let next = query("SELECT 1").execute(&tx).await;
    let err = next.expect_err("the transaction failed with its statement");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the next statement waited for the sleep: {:?}",
        started.elapsed()
    );
    let commit = tx.commit().await.expect_err("doomed");
    assert_eq!(
        commit.kind(),
        ErrorKind::RolledBack,
        "{commit} (after {err})"
    );
    let marks: i64 = query("SELECT COUNT(*) FROM marks")
        .fetch_one(&pg.db)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(marks, 0);
}

/// A long result still arriving when the limit passes: the read stops there (not
/// after 5 million rows), the statement is cancelled, and the session is idle again.
#[tokio::test]
async fn a_timeout_fires_in_the_middle_of_a_long_result() {
    let Some((pg, app, observer)) = observed_postgres("timeout_long_result").await else {
        return;
    };
    let sql = "SELECT i, repeat('x', 100) AS pad FROM generate_series(1, 5000000) AS i";
    let started = Instant::now();
    timed_out(
        query(sql).timeout(LIMIT).fetch_all(&pg.db).await,
        started,
        "fetch_all of 5M rows",
    );
    support::assert_sessions_idle(&observer, &app, "after the timeout").await;
    observer.close().await;
}
