//! Transactions on real Postgres, SQLite and MariaDB: commit, rollback, panic, ambient
//! joining, savepoints, retry under contention (the bank invariant), a backend killed
//! mid-transaction, and an ambiguous COMMIT.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use txova_db::transaction::Isolation;
use txova_db::{Db, DbConfig, Error, ErrorKind, Table, TxOptions, query};

use crate::support::{self, SqliteFile};

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "accounts")]
struct Account {
    #[column(primary_key)]
    id: i64,
    balance: i64,
}

async fn accounts(db: &Db, n: i64, balance: i64) {
    db.execute("CREATE TABLE accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)")
        .await
        .expect("table");
    let rows: Vec<Account> = (1..=n).map(|id| Account { id, balance }).collect();
    Account::insert_many(&rows)
        .execute(db)
        .await
        .expect("accounts");
}

async fn balance(db: &Db, id: i64) -> i64 {
    Account::get(db, id).await.expect("account").balance
}

/// Terminates, through `killer`, the server backend serving `db` in this task's
/// transaction.
async fn terminate_own_backend(db: &Db, killer: &Db) -> Result<(), Error> {
    let pid: i32 = query("SELECT pg_backend_pid()")
        .fetch_one(db)
        .await?
        .try_get(0)?;
    query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(killer)
        .await?;
    Ok(())
}

async fn pg_txid(db: &Db) -> i64 {
    query("SELECT txid_current()")
        .fetch_one(db)
        .await
        .and_then(|r| r.try_get(0))
        .expect("txid")
}

/// Runs `scenario` on a fresh Postgres schema and a fresh MariaDB database, each `Db`
/// configured by `configure`.
async fn on_postgres_and_mariadb<F, Fut>(
    test: &str,
    configure: fn(DbConfig) -> DbConfig,
    scenario: F,
) where
    F: Fn(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    if let Some(pg) = support::postgres_with(test, configure).await {
        scenario(pg.db.clone()).await;
    }
    #[cfg(feature = "mysql")]
    if let Some(my) = support::mysql_with(test, configure).await {
        scenario(my.db.clone()).await;
    }
}

#[tokio::test]
async fn commit_on_ok_rollback_on_err() {
    on_postgres_and_mariadb(
        "commit_on_ok_rollback_on_err",
        |c| c,
        |db| async move {
            commit_on_ok_rollback_on_err_on(&db).await;
        },
    )
    .await;
}

async fn commit_on_ok_rollback_on_err_on(db: &Db) {
    accounts(db, 2, 100).await;
    db.transaction(|_tx| async move {
        Account::update()
            .set(Account::balance, 70)
            .filter(Account::id.eq(1))
            .execute(db)
            .await?;
        Account::update()
            .set(Account::balance, 130)
            .filter(Account::id.eq(2))
            .execute(db)
            .await?;
        Ok::<_, Error>(())
    })
    .await
    .expect("commit");
    assert_eq!((balance(db, 1).await, balance(db, 2).await), (70, 130));

    let failed: Result<(), Error> = db
        .transaction(|_tx| async move {
            Account::update()
                .set(Account::balance, 0)
                .filter(Account::id.eq(1))
                .execute(db)
                .await?;
            Err(Error::NotFound)
        })
        .await;
    assert_eq!(failed.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(balance(db, 1).await, 70, "the update was rolled back");
}

#[tokio::test]
async fn panic_rolls_back_and_the_pool_stays_clean() {
    on_postgres_and_mariadb(
        "panic_rolls_back",
        |c| DbConfig {
            max_connections: 1,
            ..c
        },
        panic_rolls_back_on,
    )
    .await;
}

async fn panic_rolls_back_on(db: Db) {
    accounts(&db, 1, 100).await;
    let task_db = db.clone();
    let panicked = tokio::spawn(async move {
        let db = &task_db;
        let _: Result<(), Error> = db
            .transaction(|_tx| async move {
                Account::update()
                    .set(Account::balance, 1)
                    .all_rows()
                    .execute(db)
                    .await?;
                panic!("boom inside the transaction");
            })
            .await;
    })
    .await;
    assert!(
        panicked.unwrap_err().is_panic(),
        "the panic continues to the caller"
    );
    // The only connection went back to the pool, rolled back and out of the transaction.
    assert_eq!(balance(&db, 1).await, 100);
    // The panicked transaction wrote, so it had an xid; a connection still inside it
    // would report one here (MariaDB: `@@in_transaction`).
    let in_tx = match db.backend() {
        txova_db::Backend::MySql => query("SELECT CAST(@@in_transaction AS SIGNED)")
            .fetch_one(&db)
            .await
            .and_then(|r| r.try_get::<i64>(0))
            .map(|n| n != 0),
        _ => query("SELECT txid_current_if_assigned() IS NOT NULL")
            .fetch_one(&db)
            .await
            .and_then(|r| r.try_get(0)),
    }
    .expect("state");
    assert!(
        !in_tx,
        "the pooled connection is not left inside a transaction"
    );
    db.transaction(|_tx| async { Ok::<_, Error>(()) })
        .await
        .expect("usable again");
}

#[tokio::test]
async fn nested_transactions_join_and_savepoints_isolate() {
    on_postgres_and_mariadb(
        "nested_join_and_savepoints",
        |c| c,
        |db| async move {
            nested_join_and_savepoints_on(&db).await;
        },
    )
    .await;
}

/// The transaction's identity: Postgres's txid; on MariaDB the connection (a second
/// BEGIN there would commit the first and start another on the same connection, which
/// the savepoint part below would then show).
async fn tx_identity(db: &Db) -> i64 {
    match db.backend() {
        txova_db::Backend::MySql => query("SELECT CAST(CONNECTION_ID() AS SIGNED)")
            .fetch_one(db)
            .await
            .and_then(|r| r.try_get(0))
            .expect("connection id"),
        _ => pg_txid(db).await,
    }
}

async fn nested_join_and_savepoints_on(db: &Db) {
    accounts(db, 1, 100).await;
    let (outer_txid, inner_txid) = db
        .transaction(|_tx| async move {
            let outer = tx_identity(db).await;
            let inner = db
                .transaction(|_tx| async move { Ok::<_, Error>(tx_identity(db).await) })
                .await?;
            assert!(db.current_tx().is_some());
            Ok::<_, Error>((outer, inner))
        })
        .await
        .expect("nested");
    assert_eq!(
        outer_txid, inner_txid,
        "the inner call joined: no second BEGIN"
    );
    assert!(db.current_tx().is_none(), "ambient only inside the scope");

    db.transaction(|_tx| async move {
        Account::update()
            .set(Account::balance, 90)
            .all_rows()
            .execute(db)
            .await?;
        let inner: Result<(), Error> = db
            .transaction_with(TxOptions::new().savepoint(), |_tx| async move {
                Account::update()
                    .set(Account::balance, 0)
                    .all_rows()
                    .execute(db)
                    .await?;
                Err(Error::NotFound)
            })
            .await;
        assert!(inner.is_err());
        assert_eq!(
            balance(db, 1).await,
            90,
            "rolled back to the savepoint only"
        );
        db.transaction_with(TxOptions::new().savepoint(), |_tx| async move {
            Account::update()
                .set(Account::balance, 80)
                .all_rows()
                .execute(db)
                .await?;
            Ok::<_, Error>(())
        })
        .await?;
        Ok::<_, Error>(())
    })
    .await
    .expect("outer commits");
    assert_eq!(balance(db, 1).await, 80);
}

#[tokio::test]
async fn explicit_tx_executor_and_read_only() {
    let Some(pg) = support::postgres("explicit_tx_and_read_only").await else {
        return;
    };
    let db = &pg.db;
    accounts(db, 1, 100).await;
    db.transaction(|tx| async move {
        Account::update()
            .set(Account::balance, 5)
            .all_rows()
            .execute(&tx)
            .await?;
        assert_eq!(Account::get(&tx, 1).await?.balance, 5);
        Ok::<_, Error>(())
    })
    .await
    .expect("explicit executor");
    let refused: Result<u64, Error> = db
        .transaction_with(TxOptions::new().read_only(), |_tx| async move {
            Account::update()
                .set(Account::balance, 1)
                .all_rows()
                .execute(db)
                .await
        })
        .await;
    assert_eq!(
        refused.unwrap_err().code(),
        Some("25006"),
        "read-only transaction"
    );
}

/// 8 workers × 500 serializable transfers among 10 accounts: money is conserved, no
/// balance goes negative, conflicts are retried, and no error reaches the caller.
///
/// On MariaDB, SERIALIZABLE turns the reads into shared locks: two transfers that read
/// the same account both wait to update it, InnoDB picks a deadlock victim at once, and
/// the victim is retried whole.
#[tokio::test]
async fn bank_invariant_under_serializable_contention() {
    on_postgres_and_mariadb(
        "bank_invariant",
        |c| DbConfig {
            max_connections: 8,
            ..c
        },
        bank_invariant_on,
    )
    .await;
}

async fn bank_invariant_on(db: Db) {
    const ACCOUNTS: i64 = 10;
    const START: i64 = 1_000;
    accounts(&db, ACCOUNTS, START).await;
    let attempts = Arc::new(AtomicU64::new(0));
    let started = std::time::Instant::now();
    let options =
        TxOptions::new()
            .isolation(Isolation::Serializable)
            .retry(txova_db::RetryPolicy {
                max_attempts: 50,
                base_delay: Duration::from_millis(2),
                max_delay: Duration::from_millis(50),
            });
    let workers = (0..8_u64).map(|worker| {
        let db = db.clone();
        let attempts = Arc::clone(&attempts);
        let options = options.clone();
        tokio::spawn(async move {
            for n in 0..500_u64 {
                let from = ((worker * 7 + n * 3) % ACCOUNTS as u64) as i64 + 1;
                let to = ((worker * 5 + n * 11 + 1) % ACCOUNTS as u64) as i64 + 1;
                let amount = ((worker + n) % 50) as i64 + 1;
                let db = &db;
                let attempts = &attempts;
                db.transaction_with(options.clone(), |_tx| async move {
                    attempts.fetch_add(1, Ordering::Relaxed);
                    if from == to {
                        return Ok::<_, Error>(());
                    }
                    // Touch the two rows in id order, as transfer code should: opposite
                    // orders deadlock, and Postgres takes deadlock_timeout (1 s) to see it.
                    let (low, high) = (from.min(to), from.max(to));
                    let low_balance = Account::get(db, low).await?.balance;
                    let high_balance = Account::get(db, high).await?.balance;
                    let have = if from == low {
                        low_balance
                    } else {
                        high_balance
                    };
                    if have < amount {
                        return Ok(());
                    }
                    let delta = if from == low { -amount } else { amount };
                    Account::update()
                        .set(Account::balance, low_balance + delta)
                        .filter(Account::id.eq(low))
                        .execute(db)
                        .await?;
                    Account::update()
                        .set(Account::balance, high_balance - delta)
                        .filter(Account::id.eq(high))
                        .execute(db)
                        .await?;
                    Ok(())
                })
                .await
                .expect("no error reaches the caller");
            }
        })
    });
    for worker in futures_util::future::join_all(workers).await {
        worker.expect("worker");
    }
    let all = Account::select().fetch_all(&db).await.expect("accounts");
    let total: i64 = all.iter().map(|a| a.balance).sum();
    assert_eq!(total, ACCOUNTS * START, "money is conserved");
    assert!(all.iter().all(|a| a.balance >= 0), "{all:?}");
    let attempts = attempts.load(Ordering::Relaxed);
    eprintln!(
        "bank on {}: {attempts} attempts for 4000 transfers in {:?}",
        db.backend(),
        started.elapsed()
    );
    assert!(
        attempts > 4_000,
        "conflicts were retried: {attempts} attempts for 4000 transfers"
    );
}

#[tokio::test]
async fn terminated_backend_mid_transaction() {
    let Some(pg) = support::postgres("terminated_backend_mid_transaction").await else {
        return;
    };
    let db = &pg.db;
    accounts(db, 1, 100).await;
    let killer = Db::connect(&pg.url()).await.expect("second handle");
    let result: Result<(), Error> = db
        .transaction(|_tx| {
            let killer = killer.clone();
            async move {
                Account::update()
                    .set(Account::balance, 1)
                    .all_rows()
                    .execute(db)
                    .await?;
                terminate_own_backend(db, &killer).await?;
                Account::update()
                    .set(Account::balance, 2)
                    .all_rows()
                    .execute(db)
                    .await?;
                Ok(())
            }
        })
        .await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Connection);
    assert_eq!(
        balance(db, 1).await,
        100,
        "nothing of the transaction is visible"
    );
    for _ in 0..5 {
        db.ping().await.expect("the pool recovered");
    }
}

#[tokio::test]
async fn lost_connection_during_commit_is_ambiguous_and_not_retried() {
    let Some(pg) = support::postgres("lost_connection_during_commit").await else {
        return;
    };
    let db = &pg.db;
    accounts(db, 1, 100).await;
    let killer = Db::connect(&pg.url()).await.expect("second handle");
    let runs = AtomicU64::new(0);
    let result: Result<(), Error> = db
        .transaction(|_tx| {
            let killer = killer.clone();
            let runs = &runs;
            async move {
                runs.fetch_add(1, Ordering::Relaxed);
                Account::update()
                    .set(Account::balance, 1)
                    .all_rows()
                    .execute(db)
                    .await?;
                terminate_own_backend(db, &killer).await?;
                // Give the server a moment to close the socket before COMMIT is sent.
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(())
            }
        })
        .await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AmbiguousCommit, "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(runs.load(Ordering::Relaxed), 1, "never retried blindly");
}

#[tokio::test]
async fn sqlite_transactions_and_busy_retry() {
    let file = SqliteFile::new();
    let config = |url| DbConfig {
        lock_timeout: Some(Duration::from_millis(20)),
        ..DbConfig::new(url)
    };
    let db = Db::connect_with(config(file.url())).await.expect("sqlite");
    accounts(&db, 2, 100).await;
    let other = Db::connect_with(config(file.url()))
        .await
        .expect("second handle");
    // `other` takes the write lock and holds it until told to let go; `db`'s BEGIN
    // IMMEDIATE gets SQLITE_BUSY and the transaction is retried until the lock is free.
    let metrics = crate::telemetry_capture::Metrics::default();
    let _metrics = metrics::set_default_local_recorder(&metrics);
    let (locked, is_locked) = tokio::sync::oneshot::channel::<()>();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let signals = Arc::new(std::sync::Mutex::new(Some((locked, released))));
    let holder = tokio::spawn({
        let other = other.clone();
        async move {
            other
                .transaction(|_tx| {
                    let other = other.clone();
                    let signals = signals.lock().unwrap().take();
                    async move {
                        other
                            .execute("UPDATE accounts SET balance = balance + 1 WHERE id = 2")
                            .await?;
                        let (locked, released) = signals.expect("the holder runs once");
                        let _ = locked.send(());
                        let _ = released.await;
                        Ok::<_, Error>(())
                    }
                })
                .await
        }
    });
    is_locked.await.expect("the holder took the lock");
    let runs = AtomicU64::new(0);
    let options = TxOptions::new().retry(txova_db::RetryPolicy {
        max_attempts: 100,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    });
    let transfer = db.transaction_with(options, |_tx| {
        let db = &db;
        let runs = &runs;
        async move {
            runs.fetch_add(1, Ordering::Relaxed);
            db.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
                .await?;
            Ok::<_, Error>(())
        }
    });
    // Let go of the lock only once the transfer has been refused and retried.
    let release_after_a_retry = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while metrics.counter("txova_db_transaction_retries_total", &[]) == 0 {
            assert!(tokio::time::Instant::now() < deadline, "never retried");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        release.send(()).expect("the holder waits");
    };
    let (transferred, ()) = tokio::join!(transfer, release_after_a_retry);
    transferred.expect("retried past SQLITE_BUSY");
    let retries = metrics.counter("txova_db_transaction_retries_total", &[]);
    assert!(retries >= 1, "{:?}", metrics.keys());
    // BEGIN IMMEDIATE is what was refused, so the body ran only once it had the lock.
    assert_eq!(runs.load(Ordering::Relaxed), 1);
    holder.await.expect("holder").expect("holder commits");
    assert_eq!((balance(&db, 1).await, balance(&db, 2).await), (90, 101));

    let failed: Result<(), Error> = db
        .transaction(|_tx| {
            let db = &db;
            async move {
                db.execute("UPDATE accounts SET balance = 0").await?;
                Err(Error::NotFound)
            }
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(balance(&db, 1).await, 90, "rolled back on SQLite too");
}

/// An application error type: `#[transactional]` needs only `From<txova_db::Error>`.
#[derive(Debug)]
#[allow(dead_code)] // The Db variant is read through Debug only.
enum RideError {
    Db(Error),
    NoDriver,
}

impl From<Error> for RideError {
    fn from(err: Error) -> Self {
        Self::Db(err)
    }
}

struct Rides {
    db: Db,
    attempts: AtomicU64,
    /// The first two attempts (the two concurrent transfers) meet here after reading,
    /// so both read before either writes: a conflict every run, however loaded.
    both_read: tokio::sync::Barrier,
}

impl txova_db::UsesDb for Rides {
    fn db(&self) -> &Db {
        &self.db
    }
}

impl Rides {
    #[txova_db::transactional]
    async fn txids<T: Clone + Send + Sync>(&self, marker: &T) -> Result<(i64, i64, T), Error> {
        let outer = pg_txid(&self.db).await;
        let inner = self.inner_txid().await?;
        Ok((outer, inner, marker.clone()))
    }

    #[txova_db::transactional(read_only)]
    async fn inner_txid(&self) -> Result<i64, Error> {
        Ok(pg_txid(&self.db).await)
    }

    #[txova_db::transactional(isolation = "serializable", retries = 20)]
    async fn move_money(&self, from: i64, to: i64, amount: i64) -> Result<(), RideError> {
        let attempt = self.attempts.fetch_add(1, Ordering::Relaxed);
        let have = Account::get(&self.db, from).await?.balance;
        if attempt < 2 {
            self.both_read.wait().await;
        }
        if have < amount {
            return Err(RideError::NoDriver);
        }
        Account::update()
            .set(Account::balance, have - amount)
            .filter(Account::id.eq(from))
            .execute(&self.db)
            .await?;
        let theirs = Account::get(&self.db, to).await?.balance;
        Account::update()
            .set(Account::balance, theirs + amount)
            .filter(Account::id.eq(to))
            .execute(&self.db)
            .await?;
        Ok(())
    }
}

#[tokio::test]
async fn transactional_methods_join_retry_and_keep_their_error_type() {
    let Some(pg) = support::postgres("transactional_methods").await else {
        return;
    };
    accounts(&pg.db, 2, 100).await;
    let rides = Arc::new(Rides {
        db: pg.db.clone(),
        attempts: AtomicU64::new(0),
        both_read: tokio::sync::Barrier::new(2),
    });
    let (outer, inner, marker) = rides.txids(&"generic").await.expect("txids");
    assert_eq!(
        outer, inner,
        "the nested #[transactional] call issued no second BEGIN"
    );
    assert_eq!(marker, "generic");

    // Two conflicting serializable transfers at once: one is retried, both succeed.
    // Open two connections first, so neither transfer waits for a connect.
    let (p1, p2) = tokio::join!(
        query("SELECT pg_sleep(0.05)").execute(&pg.db),
        query("SELECT pg_sleep(0.05)").execute(&pg.db)
    );
    p1.and(p2).expect("warm the pool");
    let (a, b) = tokio::join!(rides.move_money(1, 2, 10), rides.move_money(1, 2, 20));
    a.expect("first transfer");
    b.expect("second transfer");
    assert!(
        rides.attempts.load(Ordering::Relaxed) > 2,
        "a conflict was retried"
    );
    assert_eq!(
        (balance(&pg.db, 1).await, balance(&pg.db, 2).await),
        (70, 130)
    );

    match rides.move_money(1, 2, 1_000).await {
        Err(RideError::NoDriver) => {}
        other => panic!("the application's own error comes back unchanged: {other:?}"),
    }
    assert_eq!(balance(&pg.db, 1).await, 70);
}

/// The embedded default is an in-memory SQLite database on a shared cache, where a
/// table written by an open transaction is locked for every other connection. A reader
/// on another connection waits for the commit (unlock-notify), as it would wait out a
/// busy file, instead of failing at once with "database table is locked".
#[tokio::test]
async fn in_memory_sqlite_readers_wait_for_an_open_writer() {
    let db = Db::connect("sqlite::memory:").await.expect("sqlite");
    accounts(&db, 2, 100).await;
    let written = Arc::new(tokio::sync::Notify::new());
    let writer = tokio::spawn({
        let db = db.clone();
        let written = Arc::clone(&written);
        async move {
            db.transaction(|_tx| {
                let db = db.clone();
                let written = Arc::clone(&written);
                async move {
                    db.execute("UPDATE accounts SET balance = 150 WHERE id = 1")
                        .await?;
                    written.notify_one();
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    Ok::<_, Error>(())
                }
            })
            .await
        }
    });
    written.notified().await;
    let started = std::time::Instant::now();
    // Outside the transaction: another pooled connection.
    let seen = balance(&db, 1).await;
    writer.await.expect("join").expect("writer commits");
    assert_eq!(seen, 150, "the read waited for the commit and sees it");
    assert!(started.elapsed() >= Duration::from_millis(100));
}

/// A body that swallows a failed statement and returns `Ok`: Postgres will not commit
/// that transaction (its COMMIT would answer ROLLBACK), so the call says
/// `RolledBack` with the swallowed failure, no after-commit work runs, and nothing is
/// visible. A savepoint rolled back to restores the transaction, which then commits.
#[tokio::test]
async fn a_transaction_the_server_rolled_back_is_not_reported_committed() {
    let Some(pg) = support::postgres("commit_tells_the_truth").await else {
        return;
    };
    let db = &pg.db;
    accounts(db, 1, 100).await;
    let hooks = Arc::new(AtomicU64::new(0));

    let swallowed = db
        .transaction(|tx| {
            let hooks = hooks.clone();
            async move {
                Account::update()
                    .set(Account::balance, 1)
                    .all_rows()
                    .execute(db)
                    .await?;
                let failed = db.execute("INSERT INTO no_such_table VALUES (1)").await;
                assert!(failed.is_err());
                tx.after_commit(async move {
                    hooks.fetch_add(1, Ordering::SeqCst);
                });
                Ok::<_, Error>(())
            }
        })
        .await;
    let err = swallowed.expect_err("committed after a failed statement");
    assert_eq!(err.kind(), ErrorKind::RolledBack, "{err}");
    let Error::RolledBack { cause: Some(cause) } = &err else {
        panic!("no cause: {err:?}");
    };
    assert_eq!(cause.code(), Some("42P01"));
    assert!(err.to_string().contains("no_such_table"), "{err}");
    assert_eq!(hooks.load(Ordering::SeqCst), 0, "an after-commit hook ran");
    assert_eq!(balance(db, 1).await, 100, "something of it is visible");

    // Rolled back to a savepoint, the failure is undone and the transaction commits.
    db.transaction(|_| async {
        Account::update()
            .set(Account::balance, 2)
            .all_rows()
            .execute(db)
            .await?;
        let inner = db
            .transaction_with(TxOptions::new().savepoint(), |_| async {
                db.execute("INSERT INTO no_such_table VALUES (1)").await
            })
            .await;
        assert!(inner.is_err());
        Ok::<_, Error>(())
    })
    .await
    .expect("restored by the savepoint");
    assert_eq!(balance(db, 1).await, 2);
}

/// A retryable failure the body swallowed still makes the whole body run again: the
/// transaction it doomed is reported rolled back only when no attempt is left.
#[tokio::test]
async fn a_swallowed_serialization_failure_is_retried() {
    let Some(pg) = support::postgres("swallowed_serialization").await else {
        return;
    };
    let db = &pg.db;
    accounts(db, 1, 100).await;
    let attempts = AtomicU64::new(0);
    db.transaction(|_| async {
        let attempt = attempts.fetch_add(1, Ordering::SeqCst);
        Account::update()
            .set(Account::balance, 7)
            .all_rows()
            .execute(db)
            .await?;
        if attempt == 0 {
            let conflict = db
                .execute("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")
                .await;
            assert_eq!(conflict.unwrap_err().kind(), ErrorKind::Serialization);
        }
        Ok::<_, Error>(())
    })
    .await
    .expect("the second attempt commits");
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(balance(db, 1).await, 7);

    let err = db
        .transaction_with(TxOptions::new().retries(1), |_| async {
            let _ = db
                .execute("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")
                .await;
            Ok::<_, Error>(())
        })
        .await
        .expect_err("every attempt doomed");
    assert_eq!(err.kind(), ErrorKind::RolledBack, "{err}");
}

/// A serialization failure raised by the COMMIT itself (Postgres checks SERIALIZABLE
/// conflicts and runs deferred constraints there) runs the body again, and the first
/// attempt's writes are gone; with no attempt left the caller gets the failure, and
/// nothing was committed. Here a deferred constraint trigger raises it on cue.
#[tokio::test]
async fn a_serialization_failure_at_commit_is_retried() {
    let Some(pg) = support::postgres("serialization_at_commit").await else {
        return;
    };
    let db = &pg.db;
    accounts(db, 1, 100).await;
    db.execute_script(
        "CREATE FUNCTION fail_on_cue() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF current_setting('txova.fail_commit', true) = 'yes' THEN
                 RAISE EXCEPTION 'conflict at commit' USING ERRCODE = '40001';
             END IF;
             RETURN NULL;
         END $$;
         CREATE CONSTRAINT TRIGGER fail_on_cue AFTER UPDATE ON accounts
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_on_cue();",
    )
    .await
    .unwrap();
    let add_one = |fail: bool| async move {
        query("UPDATE accounts SET balance = balance + 1")
            .execute(db)
            .await?;
        if fail {
            db.execute("SET LOCAL txova.fail_commit = 'yes'").await?;
        }
        Ok::<_, Error>(())
    };

    let attempts = AtomicU64::new(0);
    db.transaction(|_| async {
        let attempt = attempts.fetch_add(1, Ordering::SeqCst);
        add_one(attempt == 0).await
    })
    .await
    .expect("the second attempt commits");
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(
        balance(db, 1).await,
        101,
        "the failed attempt's write is gone"
    );

    let err = db
        .transaction_with(TxOptions::new().retries(1), |_| add_one(true))
        .await
        .expect_err("every commit fails");
    assert_eq!(err.kind(), ErrorKind::Serialization, "{err}");
    assert_eq!(balance(db, 1).await, 101, "nothing was committed");
}

/// On SQLite a writing transaction takes the write lock at BEGIN (IMMEDIATE), and a
/// read-only one does not (DEFERRED): it starts and reads the committed rows while a
/// writer holds the lock, instead of waiting for it.
#[tokio::test]
async fn a_read_only_sqlite_transaction_does_not_wait_for_a_writer() {
    let file = SqliteFile::new();
    let db = Db::connect_with(DbConfig {
        max_connections: 2,
        ..DbConfig::new(file.url())
    })
    .await
    .expect("sqlite");
    accounts(&db, 1, 100).await;

    let writer = db.begin().await.expect("begin");
    query("UPDATE accounts SET balance = 5")
        .execute(&writer)
        .await
        .expect("write");
    let reading = async {
        let reader = db
            .begin_with(TxOptions::new().read_only())
            .await
            .expect("begin read only");
        let seen: i64 = query("SELECT balance FROM accounts WHERE id = 1")
            .fetch_one(&reader)
            .await
            .expect("read")
            .try_get(0)
            .expect("balance");
        reader.rollback().await;
        seen
    };
    let seen = tokio::time::timeout(Duration::from_secs(2), reading)
        .await
        .expect("the reader did not wait for the writer's lock");
    assert_eq!(seen, 100, "the committed balance");
    writer.commit().await.expect("commit");
    assert_eq!(balance(&db, 1).await, 5);
}

/// SQLite keeps a transaction going after a failed statement, so a body that handles
/// the failure commits the rest.
#[tokio::test]
async fn sqlite_commits_after_a_handled_failure() {
    let file = SqliteFile::new();
    let db = Db::connect(&file.url()).await.expect("sqlite");
    accounts(&db, 1, 100).await;
    db.transaction(|_| async {
        Account::update()
            .set(Account::balance, 3)
            .all_rows()
            .execute(&db)
            .await?;
        let duplicate = Account::insert(&Account { id: 1, balance: 0 })
            .execute(&db)
            .await;
        assert_eq!(duplicate.unwrap_err().kind(), ErrorKind::Duplicate);
        Ok::<_, Error>(())
    })
    .await
    .expect("commits");
    assert_eq!(balance(&db, 1).await, 3);
}

/// A transaction whose call is dropped lets go of its connection at once even while
/// user code still holds a clone of its `Tx` (stashed, or moved into a task): the
/// session is not left inside the transaction, nothing of it is visible, and the
/// stale handle refuses statements instead of running them outside the transaction.
#[tokio::test]
async fn a_dropped_transaction_lets_go_while_a_clone_of_its_handle_lives() {
    let app = support::unique_name("tx_clone_escapes");
    let Some(pg) = support::postgres_with("tx_clone_escapes", |c| DbConfig {
        application_name: Some(app.clone()),
        ..c
    })
    .await
    else {
        return;
    };
    let db = &pg.db;
    accounts(db, 1, 100).await;
    let stash: Arc<std::sync::Mutex<Option<txova_db::Tx>>> = Arc::default();
    let run = db.transaction(|tx| {
        let stash = stash.clone();
        async move {
            Account::update()
                .set(Account::balance, 1)
                .all_rows()
                .execute(db)
                .await?;
            *stash.lock().unwrap() = Some(tx);
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, Error>(())
        }
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(200), run)
            .await
            .is_err()
    );
    let kept = stash
        .lock()
        .unwrap()
        .clone()
        .expect("the body stashed its handle");
    let observer = Db::connect(&pg.url()).await.expect("observer");
    support::assert_sessions_idle(&observer, &app, "a transaction with a live handle").await;
    assert_eq!(balance(&observer, 1).await, 100, "nothing of it is visible");
    // The row is not locked any more: another transaction updates it at once.
    tokio::time::timeout(
        Duration::from_secs(1),
        Account::update()
            .set(Account::balance, 2)
            .all_rows()
            .execute(&observer),
    )
    .await
    .expect("the row lock is gone")
    .expect("update");
    let stale = Account::select().fetch_all(&kept).await.unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::InvalidQuery, "{stale}");
    observer.close().await;
}
