//! Transactions on MariaDB / MySQL: the isolation level and read-only mode asked for
//! are the ones the server runs, for that transaction only; a lock wait timeout fails
//! the transaction (retried whole) unless a savepoint scope contains it; the session
//! limits of the config reach the server. Shown by what each level
//! does, not by `information_schema.innodb_trx` (a snapshot InnoDB refreshes at most
//! every 100 ms, so it can show the previous transaction's level).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use txova_db::transaction::{Isolation, Tx};
use txova_db::{Db, DbConfig, Error, ErrorKind, TxOptions, query};

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

/// A `Db` on MariaDB whose lock waits give up after a second, and a table with rows
/// 1 and 2 (`n` 0) and a log of what each attempt wrote.
async fn lock_timeout_tables(test: &str) -> Option<(Db, Db, String, String)> {
    let url = server_url(Service::MySql, test)?;
    let db = Db::connect_with(DbConfig {
        lock_timeout: Some(Duration::from_millis(400)),
        ..DbConfig::new(url.clone())
    })
    .await
    .expect("mariadb");
    let holder = Db::connect(&url).await.expect("a second pool");
    let (table, log) = (unique_name("contended"), unique_name("attempts"));
    db.execute_script(&format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB;
         INSERT INTO {table} VALUES (1, 0), (2, 0);
         CREATE TABLE {log} (attempt BIGINT NOT NULL, step VARCHAR(20) NOT NULL) ENGINE=InnoDB;"
    ))
    .await
    .expect("tables");
    Some((db, holder, table, log))
}

/// Locks row 2 of `table` in a transaction of `holder` until `release` fires; `held`
/// fires once the lock is taken.
async fn hold_row_2(
    holder: &Db,
    table: &str,
    held: tokio::sync::oneshot::Sender<()>,
    release: tokio::sync::oneshot::Receiver<()>,
) {
    let (held, release) = (Mutex::new(Some(held)), Mutex::new(Some(release)));
    holder
        .transaction_with(TxOptions::new().retries(0), |tx| {
            let (held, release) = (held.lock().unwrap().take(), release.lock().unwrap().take());
            async move {
                query(format!("SELECT n FROM {table} WHERE id = 2 FOR UPDATE"))
                    .fetch_one(&tx)
                    .await?;
                if let Some(held) = held {
                    let _ = held.send(());
                }
                if let Some(release) = release {
                    let _ = release.await;
                }
                Ok::<_, Error>(())
            }
        })
        .await
        .expect("the holder's transaction");
}

/// InnoDB's lock wait timeout (1205) undoes only the statement that waited, leaving the
/// transaction open with the rest of its work. A body that swallows it and returns `Ok`
/// must not commit that rest: the transaction is rolled back and run again, as a
/// Postgres transaction would be.
#[tokio::test]
async fn a_swallowed_lock_wait_timeout_reruns_the_whole_transaction() {
    let Some((db, holder, table, log)) =
        lock_timeout_tables("a_swallowed_lock_wait_timeout_reruns_the_whole_transaction").await
    else {
        return;
    };
    let (held_tx, held) = tokio::sync::oneshot::channel();
    let (release, release_rx) = tokio::sync::oneshot::channel();
    let holding = hold_row_2(&holder, &table, held_tx, release_rx);
    let attempts = AtomicU32::new(0);
    let release = Mutex::new(Some(release));
    let work = async {
        held.await.expect("row 2 is held");
        db.transaction(|tx| {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            let (table, log, release) = (&table, &log, &release);
            async move {
                query(format!("INSERT INTO {log} VALUES (?, 'before')"))
                    .bind(i64::from(attempt))
                    .execute(&tx)
                    .await?;
                let waited = query(format!("UPDATE {table} SET n = n + 1 WHERE id = 2"))
                    .execute(&tx)
                    .await;
                if let Err(err) = &waited {
                    assert_eq!(err.code(), Some("1205"), "{err}");
                    // Let the next attempt through.
                    if let Some(release) = release.lock().unwrap().take() {
                        let _ = release.send(());
                    }
                }
                // Swallowed: the body carries on and says it succeeded.
                query(format!("INSERT INTO {log} VALUES (?, 'after')"))
                    .bind(i64::from(attempt))
                    .execute(&tx)
                    .await?;
                Ok::<_, Error>(attempt)
            }
        })
        .await
    };
    let ((), done) = tokio::join!(holding, work);
    assert_eq!(done.expect("the second attempt commits"), 2);
    let rows = query(format!(
        "SELECT attempt, step FROM {log} ORDER BY attempt, step"
    ))
    .fetch_all(&db)
    .await
    .expect("log");
    let rows: Vec<(i64, String)> = rows
        .iter()
        .map(|r| (r.try_get(0).expect("attempt"), r.try_get(1).expect("step")))
        .collect();
    assert_eq!(
        rows,
        [(2, "after".into()), (2, "before".into())],
        "nothing of attempt 1"
    );
    let n: i64 = query(format!("SELECT n FROM {table} WHERE id = 2"))
        .fetch_one(&db)
        .await
        .and_then(|r| r.try_get(0))
        .expect("n");
    assert_eq!(n, 1);
    db.execute(&format!("DROP TABLE {table}, {log}"))
        .await
        .expect("drop");
    holder.close().await;
}

/// The same timeout inside a savepoint scope is undone with the scope: the outer
/// transaction commits its own work, once.
#[tokio::test]
async fn a_lock_wait_timeout_inside_a_savepoint_scope_stays_there() {
    let Some((db, holder, table, log)) =
        lock_timeout_tables("a_lock_wait_timeout_inside_a_savepoint_scope_stays_there").await
    else {
        return;
    };
    let (held_tx, held) = tokio::sync::oneshot::channel();
    let (release, release_rx) = tokio::sync::oneshot::channel();
    let holding = hold_row_2(&holder, &table, held_tx, release_rx);
    let attempts = AtomicU32::new(0);
    let work = async {
        held.await.expect("row 2 is held");
        let done = db
            .transaction(|tx| {
                attempts.fetch_add(1, Ordering::SeqCst);
                let (db, table, log) = (&db, &table, &log);
                async move {
                    query(format!("INSERT INTO {log} VALUES (1, 'outer')"))
                        .execute(&tx)
                        .await?;
                    let inner = db
                        .transaction_with(TxOptions::new().savepoint(), |tx| async move {
                            query(format!("INSERT INTO {log} VALUES (1, 'inner')"))
                                .execute(&tx)
                                .await?;
                            query(format!("UPDATE {table} SET n = n + 1 WHERE id = 2"))
                                .execute(&tx)
                                .await
                        })
                        .await;
                    assert_eq!(inner.expect_err("row 2 is held").code(), Some("1205"));
                    query(format!("UPDATE {table} SET n = n + 1 WHERE id = 1"))
                        .execute(&tx)
                        .await
                }
            })
            .await;
        let _ = release.send(());
        done
    };
    let ((), done) = tokio::join!(holding, work);
    assert_eq!(done.expect("the outer transaction commits"), 1);
    assert_eq!(attempts.load(Ordering::SeqCst), 1, "not retried");
    let steps = query(format!("SELECT step FROM {log}"))
        .fetch_all(&db)
        .await
        .expect("log");
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].try_get::<String>(0).expect("step"), "outer");
    db.execute(&format!("DROP TABLE {table}, {log}"))
        .await
        .expect("drop");
    holder.close().await;
}

/// `statement_timeout` and `lock_timeout` reach MariaDB's session as
/// `max_statement_time` and `innodb_lock_wait_timeout`.
#[tokio::test]
async fn session_limits_apply_on_mariadb() {
    let Some(url) = server_url(Service::MySql, "session_limits_apply_on_mariadb") else {
        return;
    };
    let db = Db::connect_with(DbConfig {
        statement_timeout: Some(Duration::from_millis(300)),
        lock_timeout: Some(Duration::from_millis(1500)),
        ..DbConfig::new(url)
    })
    .await
    .expect("mariadb");
    let row = query("SELECT @@max_statement_time, CAST(@@innodb_lock_wait_timeout AS SIGNED)")
        .fetch_one(&db)
        .await
        .expect("session variables");
    assert_eq!(row.try_get::<f64>(0).expect("max_statement_time"), 0.3);
    assert_eq!(row.try_get::<i64>(1).expect("innodb_lock_wait_timeout"), 2);
    let started = std::time::Instant::now();
    let err = db
        .execute("SELECT SLEEP(3)")
        .await
        .expect_err("stopped by max_statement_time");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.code(), Some("1969"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The connection that met it is as good as any.
    db.ping().await.expect("still usable");
}
