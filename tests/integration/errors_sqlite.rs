//! The same error kinds from SQLite, which needs no server.

use std::time::{Duration, Instant};

use txova_db::sqlx::{self, Connection as _, Executor as _, SqliteConnection};
use txova_db::{Backend, Db, DbConfig, Error, ErrorKind, query};

use crate::support::SqliteFile;

async fn db_with_schema(file: &SqliteFile) -> Db {
    let db = Db::connect_with(DbConfig {
        lock_timeout: Some(Duration::from_millis(50)),
        ..DbConfig::new(file.url())
    })
    .await
    .expect("open sqlite file");
    db.execute_script(
        "CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            age INTEGER CONSTRAINT age_positive CHECK (age > 0)
        );
        CREATE TABLE rides (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id));
        INSERT INTO users (id, email, age) VALUES (1, 'ana@example.com', 30);",
    )
    .await
    .expect("schema");
    db
}

fn assert_sqlite(err: &Error, kind: ErrorKind, code: &str) {
    assert_eq!(err.kind(), kind, "{err:?}");
    assert_eq!(err.code(), Some(code), "{err:?}");
    assert_eq!(
        err.as_database().map(|d| d.backend()),
        Some(Backend::Sqlite)
    );
}

#[tokio::test]
async fn sqlite_constraint_kinds() {
    let file = SqliteFile::new();
    let db = db_with_schema(&file).await;

    let dup = query("INSERT INTO users (email) VALUES (?)")
        .bind("ana@example.com")
        .execute(&db)
        .await
        .unwrap_err();
    assert_sqlite(&dup, ErrorKind::Duplicate, "2067");
    assert_eq!(dup.constraint(), Some("users.email"));
    assert_eq!(dup.as_database().and_then(|d| d.table()), Some("users"));

    let pk = db
        .execute("INSERT INTO users (id, email) VALUES (1, 'x@example.com')")
        .await
        .unwrap_err();
    assert_sqlite(&pk, ErrorKind::Duplicate, "1555");

    let fk = query("INSERT INTO rides (user_id) VALUES (?)")
        .bind(42_i64)
        .execute(&db)
        .await
        .unwrap_err();
    assert_sqlite(&fk, ErrorKind::ForeignKey, "787");

    let null = query("INSERT INTO users (email) VALUES (?)")
        .bind(None::<String>)
        .execute(&db)
        .await
        .unwrap_err();
    assert_sqlite(&null, ErrorKind::NotNull, "1299");
    assert_eq!(null.constraint(), Some("users.email"));

    let check = db
        .execute("UPDATE users SET age = -1 WHERE id = 1")
        .await
        .unwrap_err();
    assert_sqlite(&check, ErrorKind::Check, "275");
    assert_eq!(check.constraint(), Some("age_positive"));
}

#[tokio::test]
async fn sqlite_busy_when_another_connection_holds_the_write_lock() {
    let file = SqliteFile::new();
    let db = db_with_schema(&file).await;
    let mut holder = SqliteConnection::connect(&file.url())
        .await
        .expect("holder");
    holder
        .execute("BEGIN IMMEDIATE")
        .await
        .expect("take the write lock");

    let started = Instant::now();
    let err = db
        .execute("INSERT INTO users (email) VALUES ('rui@example.com')")
        .await
        .unwrap_err();
    assert_sqlite(&err, ErrorKind::Busy, "5");
    assert!(err.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "lock_timeout bounds the wait: {:?}",
        started.elapsed()
    );

    holder.execute("ROLLBACK").await.expect("release");
    db.execute("INSERT INTO users (email) VALUES ('rui@example.com')")
        .await
        .expect("free again");
    let _ = sqlx::Connection::close(holder).await;
}
