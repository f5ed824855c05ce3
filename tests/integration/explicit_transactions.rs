//! Explicit transactions (`Db::begin`): commit, rollback, a drop that rolls back at
//! once, savepoints, an ambient scope, after-commit work; on Postgres, SQLite and
//! MariaDB.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use txova_db::{Backend, Db, DbConfig, Error, ErrorKind, Executor, TxOptions, query};

use crate::support::{self, SqliteFile};

async fn n(on: &impl Executor) -> i64 {
    query("SELECT n FROM ledger WHERE id = 1")
        .fetch_one(on)
        .await
        .and_then(|row| row.try_get(0))
        .expect("n")
}

async fn add(on: &impl Executor, amount: i64) -> Result<u64, Error> {
    let sql = match on.backend() {
        Backend::Postgres => "UPDATE ledger SET n = n + $1 WHERE id = 1",
        _ => "UPDATE ledger SET n = n + ? WHERE id = 1",
    };
    query(sql).bind(amount).execute(on).await
}

/// `db` and `other` are two pools on one database.
async fn scenario(db: &Db, other: &Db) {
    db.execute("CREATE TABLE ledger (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")
        .await
        .expect("table");
    db.execute("INSERT INTO ledger VALUES (1, 0)")
        .await
        .expect("row");

    // Committed: its work shows inside it at once, elsewhere only after COMMIT, and its
    // after-commit work runs.
    let tx = db.begin().await.expect("begin");
    add(&tx, 1).await.expect("add");
    assert_eq!(n(&tx).await, 1);
    assert_eq!(
        n(other).await,
        0,
        "uncommitted work is not visible elsewhere"
    );
    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    tx.after_commit(async move { flag.store(true, Ordering::SeqCst) });
    tx.commit().await.expect("commit");
    assert!(ran.load(Ordering::SeqCst), "after-commit work ran");
    assert_eq!(n(other).await, 1);

    // Rolled back: nothing stays, and its after-commit work never runs.
    let tx = db.begin().await.expect("begin");
    add(&tx, 10).await.expect("add");
    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    tx.after_commit(async move { flag.store(true, Ordering::SeqCst) });
    tx.rollback().await;
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(n(other).await, 1);

    // Dropped: rolled back at once, its row lock released without waiting for anything
    // (another pool can write the row within a second).
    let tx = db.begin().await.expect("begin");
    add(&tx, 100).await.expect("add");
    drop(tx);
    tokio::time::timeout(Duration::from_secs(1), add(other, 0))
        .await
        .expect("the dropped transaction's lock is gone")
        .expect("write");
    assert_eq!(n(other).await, 1);

    // A savepoint that fails is undone; the transaction carries on and commits.
    let tx = db.begin().await.expect("begin");
    let failed: Result<(), Error> = tx
        .savepoint(|sp| async move {
            add(&sp, 1000).await?;
            Err(Error::NotFound)
        })
        .await;
    assert_eq!(failed.unwrap_err().kind(), ErrorKind::NotFound);
    tx.savepoint(|sp| async move { add(&sp, 1).await })
        .await
        .expect("a savepoint that succeeds");
    add(&tx, 1).await.expect("add");
    tx.commit().await.expect("commit");
    assert_eq!(n(other).await, 3);

    // Inside its scope, statements through the `Db` join it (and roll back with it);
    // outside, they do not.
    let tx = db.begin().await.expect("begin");
    tx.scope(add(db, 5)).await.expect("joined");
    assert_eq!(n(&tx).await, 8);
    assert_eq!(n(other).await, 3);
    tx.rollback().await;
    assert_eq!(n(other).await, 3);

    // Options: a read-only transaction refuses writes (SQLite's deferred BEGIN has no
    // read-only mode).
    if db.backend() != Backend::Sqlite {
        let tx = db
            .begin_with(TxOptions::new().read_only())
            .await
            .expect("begin read only");
        assert!(
            add(&tx, 1).await.is_err(),
            "a write in a read-only transaction"
        );
        tx.rollback().await;
    }

    // A Postgres transaction with a failed statement will not commit: COMMIT says so.
    if db.backend() == Backend::Postgres {
        let tx = db.begin().await.expect("begin");
        add(&tx, 1).await.expect("add");
        assert!(query("SELECT 1 / 0").execute(&tx).await.is_err());
        let refused = tx.commit().await.expect_err("an aborted transaction");
        assert_eq!(refused.kind(), ErrorKind::RolledBack, "{refused}");
        assert_eq!(n(other).await, 3);
    }
    // Nothing is left out of the pool, and nothing open on it.
    db.ping().await.expect("usable");
    assert_eq!(db.stats().in_use, 0);
}

#[tokio::test]
async fn explicit_transactions_on_postgres() {
    let Some(pg) = support::postgres("explicit_transactions").await else {
        return;
    };
    let other = Db::connect(&pg.url()).await.expect("second pool");
    scenario(&pg.db, &other).await;
}

#[tokio::test]
async fn explicit_transactions_on_sqlite() {
    let file = SqliteFile::new();
    let db = Db::connect(&file.url()).await.expect("sqlite");
    let other = Db::connect_with(DbConfig {
        lock_timeout: Some(Duration::from_secs(2)),
        ..DbConfig::new(file.url())
    })
    .await
    .expect("second pool");
    scenario(&db, &other).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn explicit_transactions_on_mariadb() {
    let Some(my) = support::mysql("explicit_transactions").await else {
        return;
    };
    let other = Db::connect(&my.url()).await.expect("second pool");
    scenario(&my.db, &other).await;
}
