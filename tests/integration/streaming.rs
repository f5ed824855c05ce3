//! `.fetch(..)`: rows streamed with backpressure on Postgres, SQLite and MariaDB; a
//! stream dropped early cancels its statement; inside a transaction a stream holds the
//! connection, and the transaction's next statement says so instead of hanging.

use std::time::{Duration, Instant};

use futures_util::{StreamExt as _, TryStreamExt as _};
use txova_db::{Backend, Db, DbConfig, ErrorKind, Executor, Table, query};

use crate::support::{self, SqliteFile, unique_name};

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "readings")]
struct Reading {
    #[column(primary_key)]
    id: i64,
    meter: String,
    value: i64,
}

const ROWS: i64 = 10_000;

async fn seed(db: &Db) {
    db.execute(
        "CREATE TABLE readings (id BIGINT PRIMARY KEY, meter VARCHAR(20) NOT NULL, value BIGINT NOT NULL)",
    )
    .await
    .unwrap();
    let rows: Vec<Reading> = (1..=ROWS)
        .map(|id| Reading {
            id,
            meter: format!("m{}", id % 7),
            value: id * 3,
        })
        .collect();
    Reading::insert_many(&rows).execute(db).await.unwrap();
}

/// Every row arrives once, in order, through the builder and raw SQL alike.
async fn streams_every_row(db: &impl Executor) {
    let mut stream = Reading::select().order_by(Reading::id.asc()).fetch(db);
    let mut expected = 1;
    while let Some(reading) = stream.try_next().await.unwrap() {
        assert_eq!(reading.id, expected);
        assert_eq!(reading.value, expected * 3);
        expected += 1;
    }
    assert_eq!(expected, ROWS + 1);

    let sql = match db.backend() {
        Backend::Postgres => "SELECT value, id FROM readings WHERE id > $1 ORDER BY id",
        _ => "SELECT value, id FROM readings WHERE id > ? ORDER BY id",
    };
    let sum: i64 = query(sql)
        .bind(ROWS - 100)
        .fetch(db)
        .try_fold(0, |sum, row| async move {
            Ok(sum + row.try_get::<i64>("value")?)
        })
        .await
        .unwrap();
    assert_eq!(sum, ((ROWS - 99)..=ROWS).map(|id| id * 3).sum::<i64>());
    // Columns out of order: matched by name.
    let sql = sql.replace("SELECT value, id", "SELECT value, meter, id");
    let named: Vec<Reading> = query(sql)
        .bind(ROWS - 2)
        .fetch_as::<Reading>(db)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        named.iter().map(|r| r.id).collect::<Vec<_>>(),
        [ROWS - 1, ROWS]
    );

    // An error in the statement is the stream's first item; then it ends.
    let mut broken = query("SELECT * FROM no_such_table").fetch(db);
    assert!(broken.next().await.unwrap().is_err());
    assert!(broken.next().await.is_none());
}

/// Inside a transaction: the stream sees the transaction's own writes; while it is
/// open, the transaction's next statement fails at once (it would wait forever for the
/// connection the stream holds); once the stream is done, statements run again.
async fn streams_inside_a_transaction(db: &Db) {
    let tx = db.begin().await.unwrap();
    Reading::update()
        .set(Reading::value, -1)
        .filter(Reading::id.le(5))
        .execute(&tx)
        .await
        .unwrap();
    let mut stream = Reading::select().order_by(Reading::id.asc()).fetch(&tx);
    let first = stream.try_next().await.unwrap().unwrap();
    assert_eq!(first.value, -1, "the transaction's own write");
    let started = Instant::now();
    let err = Reading::select().count(&tx).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidQuery, "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
    let rest = stream.try_collect::<Vec<_>>().await.unwrap();
    assert_eq!(rest.len() as i64, ROWS - 1);
    assert_eq!(Reading::select().count(&tx).await.unwrap(), ROWS);
    tx.rollback().await;
}

#[tokio::test]
async fn streaming_on_postgres() {
    let Some(pg) = support::postgres("streaming_postgres").await else {
        return;
    };
    seed(&pg.db).await;
    streams_every_row(&pg.db).await;
    streams_inside_a_transaction(&pg.db).await;
    let tx = pg.db.begin().await.unwrap();
    streams_every_row(&tx).await;
    // Its last statement failed: on Postgres that dooms the transaction.
    assert_eq!(tx.commit().await.unwrap_err().kind(), ErrorKind::RolledBack);
}

#[tokio::test]
async fn streaming_on_sqlite() {
    let file = SqliteFile::new();
    let db = Db::connect(&file.url()).await.unwrap();
    seed(&db).await;
    streams_every_row(&db).await;
    streams_inside_a_transaction(&db).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn streaming_on_mariadb() {
    let Some(my) = support::mysql("streaming_mariadb").await else {
        return;
    };
    seed(&my.db).await;
    streams_every_row(&my.db).await;
    streams_inside_a_transaction(&my.db).await;
}

/// A stream read slowly holds the server back (it waits to write, `ClientWrite`)
/// instead of the client buffering the result; dropped early, the statement is
/// cancelled and the connection reused.
#[tokio::test]
async fn a_slow_reader_holds_the_server_back_and_an_early_drop_cancels() {
    let app = unique_name("stream");
    let Some(pg) = support::postgres_with("streaming_backpressure", |config| DbConfig {
        application_name: Some(app.clone()),
        max_connections: 1,
        ..config
    })
    .await
    else {
        return;
    };
    let observer = Db::connect(&pg.base_url).await.unwrap();
    // About 500 MB of rows, were they all read.
    let mut stream =
        query("SELECT i, repeat('x', 100) AS pad FROM generate_series(1, 5000000) AS i")
            .fetch(&pg.db);
    for expected in 1..=10 {
        let row = stream.try_next().await.unwrap().unwrap();
        assert_eq!(row.try_get::<i32>("i").unwrap(), expected);
    }
    let waiting = |event: &'static str| {
        let (observer, app) = (&observer, app.clone());
        async move {
            query(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1 \
                 AND state = 'active' AND wait_event = $2",
            )
            .bind(app)
            .bind(event)
            .fetch_one(observer)
            .await
            .unwrap()
            .try_get::<i64>(0)
            .unwrap()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while waiting("ClientWrite").await != 1 {
        assert!(
            Instant::now() < deadline,
            "the server never waited for the reader"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(stream);
    support::assert_sessions_idle(&observer, &app, "after dropping the stream").await;
    // The one connection is back, clean.
    let one: i32 = query("SELECT 1")
        .fetch_one(&pg.db)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(one, 1);
    assert_eq!(pg.db.stats().connections_created, 1);
    observer.close().await;
}
