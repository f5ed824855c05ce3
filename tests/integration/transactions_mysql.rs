//! Transactions on MariaDB / MySQL: the isolation level and read-only mode asked for
//! are the ones the server runs, for that transaction only. Shown by what each level
//! does, not by `information_schema.innodb_trx` (a snapshot InnoDB refreshes at most
//! every 100 ms, so it can show the previous transaction's level).

use txova_db::transaction::{Isolation, Tx};
use txova_db::{Db, Error, ErrorKind, TxOptions, query};

use crate::support::{Service, server_url, unique_name};

async fn read(tx: &Tx, table: &str) -> Result<i64, Error> {
    query(format!("SELECT n FROM {table} WHERE id = 1"))
        .fetch_one(tx)
        .await?
        .try_get::<i64>(0)
}

/// Reads the row, lets `other` commit an increment, reads again: whether the second
/// read saw the other commit.
async fn sees_a_concurrent_commit(db: &Db, other: &Db, table: &str, options: TxOptions) -> bool {
    db.transaction_with(options, |tx| async move {
        let before = read(&tx, table).await?;
        other
            .execute(&format!("UPDATE {table} SET n = n + 1 WHERE id = 1"))
            .await?;
        Ok::<_, Error>(read(&tx, table).await? != before)
    })
    .await
    .expect("a transaction")
}

/// Reads the row, then asks `other` for it `FOR UPDATE NOWAIT`: whether the read left a
/// lock in the way (what SERIALIZABLE's reads do, and REPEATABLE READ's do not).
async fn reads_take_locks(db: &Db, other: &Db, table: &str, options: TxOptions) -> bool {
    db.transaction_with(options, |tx| async move {
        read(&tx, table).await?;
        let locked = other
            .transaction(|_| async move {
                query(format!(
                    "SELECT n FROM {table} WHERE id = 1 FOR UPDATE NOWAIT"
                ))
                .fetch_one(other)
                .await
            })
            .await;
        Ok::<_, Error>(locked.is_err_and(|e| e.kind() == ErrorKind::Busy))
    })
    .await
    .expect("a transaction")
}

#[tokio::test]
async fn isolation_and_read_only_apply_to_their_transaction_only() {
    let Some(url) = server_url(
        Service::MySql,
        "isolation_and_read_only_apply_to_their_transaction_only",
    ) else {
        return;
    };
    let db = Db::connect(&url).await.expect("mariadb");
    let other = Db::connect(&url).await.expect("a second pool");
    let table = unique_name("isolation");
    db.execute(&format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB"
    ))
    .await
    .expect("table");
    db.execute(&format!("INSERT INTO {table} VALUES (1, 0)"))
        .await
        .expect("row");
    let (db, other, t) = (&db, &other, table.as_str());
    let with = |isolation| TxOptions::new().isolation(isolation);

    // The server's default, REPEATABLE READ, keeps its snapshot and takes no read locks.
    assert!(!sees_a_concurrent_commit(db, other, t, TxOptions::new()).await);
    assert!(!reads_take_locks(db, other, t, TxOptions::new()).await);
    // READ COMMITTED sees the other commit; the next transaction is back to the default.
    assert!(sees_a_concurrent_commit(db, other, t, with(Isolation::ReadCommitted)).await);
    assert!(!sees_a_concurrent_commit(db, other, t, TxOptions::new()).await);
    assert!(!sees_a_concurrent_commit(db, other, t, with(Isolation::RepeatableRead)).await);
    // SERIALIZABLE turns reads into shared locks; again for that transaction only.
    assert!(reads_take_locks(db, other, t, with(Isolation::Serializable)).await);
    assert!(!reads_take_locks(db, other, t, TxOptions::new()).await);

    let refused = db
        .transaction_with(TxOptions::new().read_only(), |tx| async move {
            query(format!("UPDATE {t} SET n = 0 WHERE id = 1"))
                .execute(&tx)
                .await
        })
        .await
        .expect_err("a write in a read-only transaction");
    assert_eq!(refused.code(), Some("1792"), "{refused}");

    db.execute(&format!("DROP TABLE {table}"))
        .await
        .expect("drop");
    other.close().await;
}
