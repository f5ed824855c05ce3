//! `Db::prepare`: the server checks a statement at once, it is kept in the statement
//! cache of the connection it was prepared on, and running it with the wrong number of
//! parameters is refused before anything is sent.

use txova_db::{Backend, Db, DbConfig, ErrorKind, query};

use crate::support::{self, SqliteFile};

async fn prepares_checks_and_runs(db: &Db) {
    db.execute("CREATE TABLE fares (id BIGINT PRIMARY KEY, cents BIGINT NOT NULL)")
        .await
        .unwrap();
    db.execute("INSERT INTO fares VALUES (1, 700), (2, 1300)")
        .await
        .unwrap();
    let sql = match db.backend() {
        Backend::Postgres => "SELECT id, cents FROM fares WHERE cents > $1 ORDER BY id",
        _ => "SELECT id, cents FROM fares WHERE cents > ? ORDER BY id",
    };
    let prepared = db.prepare(sql).await.unwrap();
    assert_eq!(prepared.sql(), sql);
    assert_eq!(prepared.parameters(), Some(1));
    let names: Vec<&str> = prepared.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "cents"]);
    assert!(!prepared.columns()[0].type_name.is_empty());

    let rows = prepared.query().bind(800_i64).fetch_all(db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].try_get::<i64>("id").unwrap(), 2);
    for wrong in [prepared.query(), prepared.query().bind(1_i64).bind(2_i64)] {
        let err = wrong.fetch_all(db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidQuery, "{err}");
    }
    // Usable inside a transaction too, and by several tasks at once.
    let tx = db.begin().await.unwrap();
    assert_eq!(
        prepared
            .query()
            .bind(0_i64)
            .fetch_all(&tx)
            .await
            .unwrap()
            .len(),
        2
    );
    tx.commit().await.unwrap();
    let runs = (0..8).map(|_| prepared.query().bind(0_i64).fetch_all(db));
    for rows in futures_util::future::try_join_all(runs).await.unwrap() {
        assert_eq!(rows.len(), 2);
    }

    // The server refuses a broken statement when it is prepared.
    let err = db
        .prepare("SELECT no_such_column FROM fares")
        .await
        .unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Connection, "{err}");
    let err = db.prepare("SELEC 1").await.unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Connection, "{err}");
}

#[tokio::test]
async fn prepare_on_postgres_keeps_the_statement_in_the_connections_cache() {
    let Some(pg) = support::postgres_with("prepare_postgres", |config| DbConfig {
        max_connections: 1,
        ..config
    })
    .await
    else {
        return;
    };
    prepares_checks_and_runs(&pg.db).await;
    let sql = "SELECT cents FROM fares WHERE id = $1";
    let cached = || async {
        query("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1")
            .bind(sql)
            .fetch_one(&pg.db)
            .await
            .unwrap()
            .try_get::<i64>(0)
            .unwrap()
    };
    assert_eq!(cached().await, 0);
    pg.db.prepare(sql).await.unwrap();
    assert_eq!(cached().await, 1, "prepared on the (only) connection");
}

#[tokio::test]
async fn prepare_on_sqlite() {
    let file = SqliteFile::new();
    let db = Db::connect(&file.url()).await.unwrap();
    prepares_checks_and_runs(&db).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn prepare_on_mariadb() {
    let Some(my) = support::mysql("prepare_mariadb").await else {
        return;
    };
    prepares_checks_and_runs(&my.db).await;
}
