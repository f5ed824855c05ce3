//! Migrations on real Postgres and SQLite: concurrent migrators, dirty state and
//! recovery, CREATE INDEX CONCURRENTLY beside a waiting migrator, a dropped future
//! releasing the lock, checksums, and the whole Migrator surface.

use std::time::Duration;

use txova_db::migrate::{MigrateError, Step};
use txova_db::{Db, Error, ErrorKind, Migrator, query};

use crate::support::{self, SqliteFile};

fn migration_error(err: &Error) -> &MigrateError {
    match err {
        Error::Migration(inner) => inner,
        other => panic!("expected a migration error, got {other:?}"),
    }
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    query(sql)
        .fetch_one(db)
        .await
        .and_then(|r| r.try_get(0))
        .expect("count")
}

/// A handle on `url` whose sessions (a migrator's lock connection too) carry
/// `application_name`, so a test can find them in `pg_stat_activity`.
async fn named_db(url: &str, application_name: &str) -> Db {
    Db::connect_with(txova_db::DbConfig {
        application_name: Some(application_name.to_owned()),
        ..txova_db::DbConfig::new(url)
    })
    .await
    .expect("a named handle")
}

/// Waits until a session named `application_name` has run (or runs) SQL containing
/// `running`, as `watcher` sees in `pg_stat_activity`.
async fn wait_for_session(watcher: &Db, application_name: &str, running: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found: i64 = query(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND strpos(query, $2) > 0",
        )
        .bind(application_name.to_owned())
        .bind(running.to_owned())
        .fetch_one(watcher)
        .await
        .and_then(|r| r.try_get(0))
        .expect("pg_stat_activity");
        if found > 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{application_name} never ran {running}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const BASE: [(&str, &str); 3] = [
    (
        "0001_create_items.up.sql",
        "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL);",
    ),
    ("0001_create_items.down.sql", "DROP TABLE items;"),
    (
        "0002_seed_items.up.sql",
        "INSERT INTO items VALUES (1, 'one'), (2, 'two');",
    ),
];

#[tokio::test]
async fn two_migrators_at_once_apply_each_file_exactly_once() {
    let Some(pg) = support::postgres("two_migrators_at_once").await else {
        return;
    };
    let other = Db::connect(&pg.url()).await.expect("second handle");
    let migrator = Migrator::from_files(BASE).expect("files");
    let (a, b) = tokio::join!(migrator.up(&pg.db), migrator.up(&other));
    let (a, b) = (a.expect("first migrator"), b.expect("second migrator"));
    assert_eq!(
        a.len() + b.len(),
        2,
        "each file applied by exactly one of them"
    );
    assert_eq!(count(&pg.db, "SELECT count(*) FROM items").await, 2);
    assert_eq!(
        count(&pg.db, "SELECT count(*) FROM _txova_migrations").await,
        2
    );
    let version = migrator
        .version(&pg.db)
        .await
        .expect("version")
        .expect("some");
    assert_eq!((version.version, version.dirty), (2, false));
}

#[tokio::test]
async fn failed_migration_is_dirty_without_partial_schema_and_recovers() {
    let Some(pg) = support::postgres("failed_migration_dirty").await else {
        return;
    };
    let broken = Migrator::from_files([
        BASE[0],
        (
            "0002_two_tables.up.sql",
            "CREATE TABLE first_half (x INT); CREATE TABLE second_half (x INT); SELECT 1 / 0;",
        ),
    ])
    .expect("files");
    let err = broken.up(&pg.db).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Migration);
    assert!(
        matches!(
            migration_error(&err),
            MigrateError::Failed { version: 2, .. }
        ),
        "{err}"
    );
    let version = broken
        .version(&pg.db)
        .await
        .expect("version")
        .expect("some");
    assert_eq!((version.version, version.dirty), (2, true));
    assert_eq!(
        count(&pg.db, "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'first_half'").await,
        0,
        "the transactional file left nothing behind"
    );
    let refused = broken.up(&pg.db).await.unwrap_err();
    assert!(matches!(
        migration_error(&refused),
        MigrateError::Dirty { version: 2 }
    ));

    let fixed = Migrator::from_files([
        BASE[0],
        (
            "0002_two_tables.up.sql",
            "CREATE TABLE first_half (x INT); CREATE TABLE second_half (x INT);",
        ),
    ])
    .expect("files");
    fixed.force(&pg.db, 1).await.expect("force");
    let applied = fixed.up(&pg.db).await.expect("up after the fix");
    assert_eq!(applied.iter().map(|a| a.version).collect::<Vec<_>>(), [2]);
    let version = fixed.version(&pg.db).await.expect("version").expect("some");
    assert_eq!((version.version, version.dirty), (2, false));
}

#[tokio::test]
async fn create_index_concurrently_while_another_migrator_waits() {
    let Some(pg) = support::postgres("create_index_concurrently").await else {
        return;
    };
    let (first_name, second_name) = (
        support::unique_name("first"),
        support::unique_name("second"),
    );
    let first_db = named_db(&pg.url(), &first_name).await;
    let second_db = named_db(&pg.url(), &second_name).await;
    let migrator = Migrator::from_files([
        (
            "0001_events.up.sql",
            "CREATE TABLE events (id BIGINT PRIMARY KEY, kind TEXT NOT NULL);
             INSERT INTO events SELECT g, 'k' || (g % 10) FROM generate_series(1, 20000) g;",
        ),
        (
            "0002_index_events.up.sql",
            "-- txova:no-transaction\nCREATE INDEX CONCURRENTLY events_kind_idx ON events (kind);",
        ),
    ])
    .expect("files")
    .lock_timeout(Duration::from_secs(30));
    assert!(migrator.migrations()[1].no_transaction);

    // A repeatable-read transaction's snapshot holds CREATE INDEX CONCURRENTLY in its
    // last phase (it waits out older snapshots) until the gate opens.
    let (gate_taken, gate_is_taken) = tokio::sync::oneshot::channel::<()>();
    let (open_gate, gate_opened) = tokio::sync::oneshot::channel::<()>();
    let gate_signals = std::sync::Mutex::new(Some((gate_taken, gate_opened)));
    let gate_db = pg.db.clone();
    let gate = tokio::spawn(async move {
        let options = txova_db::TxOptions::new().isolation(txova_db::Isolation::RepeatableRead);
        gate_db
            .transaction_with(options, |_tx| {
                let db = gate_db.clone();
                let signals = gate_signals.lock().unwrap().take();
                async move {
                    db.execute("SELECT 1").await?;
                    let (taken, opened) = signals.expect("the gate runs once");
                    let _ = taken.send(());
                    let _ = opened.await;
                    Ok::<_, Error>(())
                }
            })
            .await
    });
    gate_is_taken.await.expect("the gate took its snapshot");

    let first = tokio::spawn({
        let migrator = migrator.clone();
        async move { migrator.up(&first_db).await }
    });
    wait_for_session(&pg.db, &first_name, "CREATE INDEX CONCURRENTLY").await;
    let second = tokio::spawn({
        let migrator = migrator.clone();
        async move { migrator.up(&second_db).await }
    });
    // The second migrator asked for the lock and was refused (it polls again), while the
    // first is still building the index.
    wait_for_session(&pg.db, &second_name, "pg_try_advisory_lock").await;
    assert!(!first.is_finished() && !second.is_finished());

    open_gate.send(()).expect("the gate waits");
    gate.await.expect("gate").expect("the gate commits");
    let first = first.await.expect("first").expect("first migrates");
    let second = second
        .await
        .expect("second")
        .expect("second waited, then found nothing to do");
    assert_eq!((first.len(), second.len()), (2, 0));
    assert_eq!(
        count(&pg.db, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'events_kind_idx'").await,
        1
    );
}

#[tokio::test]
async fn dropping_the_future_leaves_no_lock_behind() {
    let Some(pg) = support::postgres("dropped_future_releases_lock").await else {
        return;
    };
    let slow = Migrator::from_files([("0001_slow.up.sql", "SELECT pg_sleep(3);")]).expect("files");
    let interrupted = tokio::time::timeout(Duration::from_millis(500), slow.up(&pg.db)).await;
    assert!(
        interrupted.is_err(),
        "the migration was still running when dropped"
    );
    let other = Db::connect(&pg.url()).await.expect("second handle");
    let started = std::time::Instant::now();
    // force takes the lock: it must be free at once, not after the sleep.
    slow.clone()
        .lock_timeout(Duration::from_secs(2))
        .force(&other, 0)
        .await
        .expect("the lock was released with the dropped future");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn lock_timeout_names_the_holder() {
    let Some(pg) = support::postgres("lock_timeout_names_holder").await else {
        return;
    };
    let slow =
        Migrator::from_files([("0001_slow.up.sql", "SELECT pg_sleep(1.5);")]).expect("files");
    let impatient = slow.clone().lock_timeout(Duration::from_millis(300));
    let holder_name = support::unique_name("holder");
    let holder = named_db(&pg.url(), &holder_name).await;
    let other = Db::connect(&pg.url()).await.expect("second handle");
    let (held, refused) = tokio::join!(slow.up(&holder), async {
        // The holder runs its migration only under the lock.
        wait_for_session(&pg.db, &holder_name, "pg_sleep(1.5)").await;
        impatient.up(&other).await
    });
    held.expect("the holder finishes");
    let err = refused.unwrap_err();
    match migration_error(&err) {
        MigrateError::LockTimeout {
            holder: Some(holder),
            ..
        } => {
            assert!(holder.contains("pid"), "{holder}");
        }
        other => panic!("expected a lock timeout naming the holder: {other:?}"),
    }
}

#[tokio::test]
async fn sqlite_up_down_steps_status_dry_run_and_checksums() {
    let file = SqliteFile::new();
    let db = Db::connect(&file.url()).await.expect("sqlite");
    let files = [
        BASE[0],
        BASE[1],
        BASE[2],
        ("0002_seed_items.down.sql", "DELETE FROM items;"),
        (
            "0003_add_price.up.sql",
            "ALTER TABLE items ADD COLUMN price INTEGER;",
        ),
        (
            "0003_add_price.down.sql",
            "ALTER TABLE items DROP COLUMN price;",
        ),
    ];
    let migrator = Migrator::from_files(files)
        .expect("files")
        .table("schema_history");

    let plan = migrator
        .clone()
        .dry_run(true)
        .up(&db)
        .await
        .expect("dry run");
    assert_eq!(plan.len(), 3);
    assert!(plan[0].sql.contains("CREATE TABLE items"));
    assert_eq!(
        migrator.version(&db).await.expect("version"),
        None,
        "a dry run changes nothing"
    );

    assert_eq!(migrator.steps(&db, 2).await.expect("two steps").len(), 2);
    assert_eq!(
        migrator.version(&db).await.expect("v").map(|v| v.version),
        Some(2)
    );
    let status = migrator.status(&db).await.expect("status");
    assert!(status[0].applied_at.is_some() && status[2].applied_at.is_none());
    assert_eq!(migrator.up(&db).await.expect("rest").len(), 1);
    assert_eq!(
        count(&db, "SELECT count(*) FROM items WHERE price IS NULL").await,
        2
    );

    let back = migrator.steps(&db, -2).await.expect("two down");
    assert_eq!(
        back.iter().map(|a| (a.version, a.step)).collect::<Vec<_>>(),
        [(3, Step::Down), (2, Step::Down)]
    );
    assert_eq!(count(&db, "SELECT count(*) FROM items").await, 0);
    migrator.up(&db).await.expect("up again");

    // An applied file edited in a way that matters is refused; whitespace is not.
    let mut edited = files;
    edited[0].1 = "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT);";
    let changed = Migrator::from_files(edited)
        .expect("files")
        .table("schema_history");
    let err = changed.up(&db).await.unwrap_err();
    assert!(matches!(
        migration_error(&err),
        MigrateError::ChecksumMismatch { version: 1, .. }
    ));
    assert!(changed.status(&db).await.expect("status")[0].checksum_mismatch);
    assert_eq!(changed.repair(&db).await.expect("repair"), 1);
    changed.up(&db).await.expect("accepted after repair");
    let mut crlf = edited;
    crlf[0].1 = "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT);\r\n\r\n";
    Migrator::from_files(crlf)
        .expect("files")
        .table("schema_history")
        .up(&db)
        .await
        .expect("CRLF and trailing blank lines do not change the checksum");

    // A version applied but no longer on disk.
    let missing = Migrator::from_files([edited[0], BASE[2]])
        .expect("files")
        .table("schema_history");
    let err = missing.up(&db).await.unwrap_err();
    assert!(matches!(
        migration_error(&err),
        MigrateError::MissingFile { version: 3 }
    ));

    let all = migrator.down_all(&db).await.unwrap_err();
    assert!(
        matches!(migration_error(&all), MigrateError::ChecksumMismatch { .. }),
        "{all}"
    );
}

#[tokio::test]
async fn sqlite_file_lock_serializes_migrators() {
    let file = SqliteFile::new();
    let a = Db::connect(&file.url()).await.expect("a");
    let b = Db::connect(&file.url()).await.expect("b");
    let migrator = Migrator::from_files(BASE).expect("files");
    let (ra, rb) = tokio::join!(migrator.up(&a), migrator.up(&b));
    assert_eq!(ra.expect("a").len() + rb.expect("b").len(), 2);
    assert_eq!(count(&a, "SELECT count(*) FROM items").await, 2);
}

#[tokio::test]
async fn rides_migrations_apply_and_revert() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/sqlite");
    let migrator = Migrator::from_dir(&dir).expect("the repository's migrations parse");
    let db = Db::connect("sqlite::memory:").await.expect("sqlite");
    assert_eq!(
        migrator.up(&db).await.expect("up").len(),
        migrator.migrations().len()
    );
    migrator.down_all(&db).await.expect("down_all");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sqlite_master WHERE name = 'rides'"
        )
        .await,
        0
    );
}

/// MariaDB's lock is `GET_LOCK` on the server: a second migrator, here another `Db` of
/// this process, waits for it, times out naming the holding connection, and takes it
/// once the holder is done.
#[cfg(feature = "mysql")]
#[tokio::test]
async fn mariadb_lock_names_the_holder_and_each_file_runs_once() {
    let Some(my) = support::mysql("mariadb_lock_names_the_holder").await else {
        return;
    };
    let slow = Migrator::from_files([
        (
            "0001_slow.up.sql",
            "CREATE TABLE slow (id INT PRIMARY KEY); DO SLEEP(1.5);",
        ),
        ("0002_seed.up.sql", "INSERT INTO slow VALUES (1);"),
    ])
    .expect("files");
    let impatient = slow.clone().lock_timeout(Duration::from_millis(300));
    let other = Db::connect(&my.url()).await.expect("second handle");
    let (held, refused) = tokio::join!(slow.up(&my.db), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        impatient.up(&other).await
    });
    assert_eq!(held.expect("the holder finishes").len(), 2);
    let err = refused.unwrap_err();
    match migration_error(&err) {
        MigrateError::LockTimeout {
            holder: Some(holder),
            ..
        } => assert!(holder.contains("connection"), "{holder}"),
        other => panic!("expected a lock timeout naming the holder: {other:?}"),
    }
    assert!(slow.up(&other).await.expect("nothing left").is_empty());
    assert_eq!(count(&other, "SELECT count(*) FROM slow").await, 1);
}

/// The rides service's MySQL migrations apply, and revert to an empty database.
#[cfg(feature = "mysql")]
#[tokio::test]
async fn rides_mysql_migrations_apply_and_revert() {
    let Some(my) = support::mysql("rides_mysql_migrations").await else {
        return;
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/mysql");
    let migrator = Migrator::from_dir(&dir).expect("the repository's migrations parse");
    assert_eq!(
        migrator.up(&my.db).await.expect("up").len(),
        migrator.migrations().len()
    );
    migrator.down_all(&my.db).await.expect("down_all");
    assert_eq!(
        count(
            &my.db,
            "SELECT count(*) FROM information_schema.TABLES
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('users', 'drivers', 'rides')"
        )
        .await,
        0
    );
}

/// Version 1 a file, 2 Rust code (a backfill, with a down), 3 a file that reads what
/// 2 wrote; `fail` makes the code fail after its first insert.
fn mixed(fail: bool, description: &str) -> Migrator {
    use txova_db::migrate::CodeMigration;
    let backfill = CodeMigration::new(2, description, move |tx| async move {
        let insert = match tx.backend() {
            txova_db::Backend::Postgres => "INSERT INTO fares (id, cents) VALUES ($1, $2)",
            _ => "INSERT INTO fares (id, cents) VALUES (?, ?)",
        };
        for (id, cents) in [(1_i64, 700_i64), (2, 1300)] {
            query(insert).bind(id).bind(cents).execute(&tx).await?;
            if fail {
                return Err(Error::InvalidQuery {
                    reason: "the backfill gave up".into(),
                });
            }
        }
        Ok(())
    })
    .down(|tx| async move { query("DELETE FROM fares").execute(&tx).await.map(drop) });
    Migrator::from_files_and_code(
        [
            (
                "0001_fares.up.sql",
                "CREATE TABLE fares (id BIGINT PRIMARY KEY, cents BIGINT NOT NULL)",
            ),
            ("0001_fares.down.sql", "DROP TABLE fares"),
            (
                "0003_totals.up.sql",
                "CREATE TABLE totals AS SELECT SUM(cents) AS cents FROM fares",
            ),
            ("0003_totals.down.sql", "DROP TABLE totals"),
        ],
        [backfill],
    )
    .expect("a valid set")
}

/// Code migrations among SQL files: ordered with them, recorded, reverted, checked
/// against a renamed version, atomic when they fail, listed by a dry run.
async fn code_migrations(db: &Db) {
    let planned = mixed(false, "backfill_fares")
        .dry_run(true)
        .up(db)
        .await
        .unwrap();
    assert_eq!(
        planned.iter().map(|a| a.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        planned[1].sql.starts_with("-- code migration 2"),
        "{}",
        planned[1].sql
    );

    // A failing backfill: on Postgres and SQLite nothing of it stays and its row is
    // dirty; the next run refuses until it is forced.
    let failing = mixed(true, "backfill_fares");
    let err = failing.up(db).await.unwrap_err();
    assert!(
        matches!(
            migration_error(&err),
            MigrateError::Failed { version: 2, .. }
        ),
        "{err}"
    );
    if db.backend() != txova_db::Backend::MySql {
        assert_eq!(count(db, "SELECT COUNT(*) FROM fares").await, 0);
    }
    let dirty = failing.up(db).await.unwrap_err();
    assert!(
        matches!(migration_error(&dirty), MigrateError::Dirty { version: 2 }),
        "{dirty}"
    );
    query("DELETE FROM fares").execute(db).await.unwrap();
    failing.force(db, 1).await.unwrap();

    let migrator = mixed(false, "backfill_fares");
    let applied = migrator.up(db).await.unwrap();
    assert_eq!(
        applied.iter().map(|a| a.version).collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(count(db, "SELECT COUNT(*) FROM fares").await, 2);
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM totals WHERE cents = 2000").await,
        1
    );
    let status = migrator.status(db).await.unwrap();
    assert!(status.iter().all(|s| s.applied_at.is_some()), "{status:?}");

    // Renamed, version 2 no longer matches what was applied.
    let renamed = mixed(false, "backfill_all_fares").up(db).await.unwrap_err();
    assert!(
        matches!(
            migration_error(&renamed),
            MigrateError::ChecksumMismatch { version: 2, .. }
        ),
        "{renamed}"
    );

    let reverted = migrator.down(db, 2).await.unwrap();
    assert_eq!(
        reverted.iter().map(|a| a.version).collect::<Vec<_>>(),
        [3, 2]
    );
    assert_eq!(count(db, "SELECT COUNT(*) FROM fares").await, 0);
    migrator.down_all(db).await.unwrap();
    assert!(migrator.version(db).await.unwrap().is_none());
}

#[tokio::test]
async fn code_migrations_run_among_sql_files_on_every_backend() {
    let file = SqliteFile::new();
    let sqlite = Db::connect(&file.url()).await.unwrap();
    code_migrations(&sqlite).await;
    if let Some(pg) = support::postgres("code_migrations_postgres").await {
        code_migrations(&pg.db).await;
    }
    #[cfg(feature = "mysql")]
    if let Some(my) = support::mysql("code_migrations_mariadb").await {
        code_migrations(&my.db).await;
    }
}

#[test]
fn code_migrations_are_validated_with_the_files() {
    use txova_db::migrate::CodeMigration;
    let noop = |version, description: &str| {
        CodeMigration::new(version, description, |_tx| async { Ok(()) })
    };
    let file = [("0001_a.up.sql", "SELECT 1")];
    let taken = Migrator::from_files_and_code(file, [noop(1, "b")]).unwrap_err();
    assert!(
        matches!(
            migration_error(&taken),
            MigrateError::DuplicateVersion { version: 1, .. }
        ),
        "{taken}"
    );
    let gap = Migrator::from_files_and_code(file, [noop(3, "c")]).unwrap_err();
    assert!(
        matches!(
            migration_error(&gap),
            MigrateError::Gap { after: 1, next: 3 }
        ),
        "{gap}"
    );
    let unnamed = Migrator::from_files_and_code(file, [noop(2, " ")]).unwrap_err();
    assert!(
        matches!(migration_error(&unnamed), MigrateError::BadFileName { .. }),
        "{unnamed}"
    );
    let ok = Migrator::from_files_and_code(file, [noop(2, "b")]).unwrap();
    assert!(ok.migrations()[1].is_code() && !ok.migrations()[0].is_code());
}
