//! Every error kind the issue lists, provoked on a real Postgres server.

use std::time::Duration;

use txova_db::sqlx::{self, Connection as _, Executor as _, PgConnection};
use txova_db::{Backend, Error, ErrorKind, query};

use crate::support::{self, PgSchema};

async fn with_schema(test: &str) -> Option<PgSchema> {
    let pg = support::postgres(test).await?;
    pg.db
        .execute_script(
            "CREATE TABLE users (
                id BIGINT PRIMARY KEY,
                email TEXT NOT NULL CONSTRAINT users_email_unique UNIQUE,
                age INT CONSTRAINT users_age_positive CHECK (age > 0)
            );
            CREATE TABLE rides (
                id BIGINT PRIMARY KEY,
                user_id BIGINT NOT NULL CONSTRAINT rides_user_fk REFERENCES users(id)
            );
            INSERT INTO users (id, email, age) VALUES (1, 'ana@example.com', 30);",
        )
        .await
        .expect("schema");
    Some(pg)
}

fn assert_kind(err: &Error, kind: ErrorKind, code: &str, constraint: Option<&str>) {
    assert_eq!(err.kind(), kind, "{err:?}");
    assert_eq!(err.code(), Some(code), "{err:?}");
    assert_eq!(err.constraint(), constraint, "{err:?}");
    assert_eq!(
        err.as_database().map(|d| d.backend()),
        Some(Backend::Postgres)
    );
}

#[tokio::test]
async fn unique_violation_is_duplicate_with_constraint() {
    let Some(pg) = with_schema("unique_violation_is_duplicate_with_constraint").await else {
        return;
    };
    let err = query("INSERT INTO users (id, email) VALUES ($1, $2)")
        .bind(2_i64)
        .bind("ana@example.com")
        .execute(&pg.db)
        .await
        .unwrap_err();
    assert_kind(
        &err,
        ErrorKind::Duplicate,
        "23505",
        Some("users_email_unique"),
    );
    assert_eq!(err.as_database().and_then(|d| d.table()), Some("users"));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn foreign_key_violation() {
    let Some(pg) = with_schema("foreign_key_violation").await else {
        return;
    };
    let err = query("INSERT INTO rides (id, user_id) VALUES (1, $1)")
        .bind(999_i64)
        .execute(&pg.db)
        .await
        .unwrap_err();
    assert_kind(&err, ErrorKind::ForeignKey, "23503", Some("rides_user_fk"));
}

#[tokio::test]
async fn not_null_violation() {
    let Some(pg) = with_schema("not_null_violation").await else {
        return;
    };
    let err = query("INSERT INTO users (id, email) VALUES (5, $1)")
        .bind(None::<String>)
        .execute(&pg.db)
        .await
        .unwrap_err();
    assert_kind(&err, ErrorKind::NotNull, "23502", None);
}

#[tokio::test]
async fn check_violation() {
    let Some(pg) = with_schema("check_violation").await else {
        return;
    };
    let err = query("UPDATE users SET age = $1 WHERE id = 1")
        .bind(-3_i32)
        .execute(&pg.db)
        .await
        .unwrap_err();
    assert_kind(&err, ErrorKind::Check, "23514", Some("users_age_positive"));
}

/// Two raw connections into the test's schema, for interleaving transactions by hand
/// (the transaction API comes later; this checks only how errors are classified).
async fn two_connections(pg: &PgSchema) -> (PgConnection, PgConnection) {
    let a = PgConnection::connect(&pg.url())
        .await
        .expect("connection a");
    let b = PgConnection::connect(&pg.url())
        .await
        .expect("connection b");
    (a, b)
}

#[tokio::test]
async fn serialization_failure_between_concurrent_serializable_transactions() {
    let Some(pg) = with_schema("serialization_failure").await else {
        return;
    };
    pg.db
        .execute("CREATE TABLE doctors (id INT PRIMARY KEY, on_call BOOL NOT NULL)")
        .await
        .expect("table");
    pg.db
        .execute("INSERT INTO doctors VALUES (1, true), (2, true)")
        .await
        .expect("rows");
    let (mut a, mut b) = two_connections(&pg).await;
    // Write skew: each transaction reads both rows, then takes a different one off call.
    for conn in [&mut a, &mut b] {
        conn.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
            .await
            .expect("begin");
        conn.execute("SELECT count(*) FROM doctors WHERE on_call")
            .await
            .expect("read");
    }
    a.execute("UPDATE doctors SET on_call = false WHERE id = 1")
        .await
        .expect("a writes");
    b.execute("UPDATE doctors SET on_call = false WHERE id = 2")
        .await
        .expect("b writes");
    a.execute("COMMIT").await.expect("the first committer wins");
    let err = Error::from(b.execute("COMMIT").await.unwrap_err());
    assert_eq!(err.kind(), ErrorKind::Serialization, "{err:?}");
    assert_eq!(err.code(), Some("40001"));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn deadlock_between_two_transactions() {
    let Some(pg) = with_schema("deadlock_between_two_transactions").await else {
        return;
    };
    pg.db
        .execute("INSERT INTO users (id, email) VALUES (2, 'rui@example.com')")
        .await
        .expect("second row");
    let (mut a, mut b) = two_connections(&pg).await;
    for conn in [&mut a, &mut b] {
        // Detect quickly; the setting is superuser-only, so fall back on the default.
        let _ = conn.execute("SET deadlock_timeout = '100ms'").await;
        conn.execute("BEGIN").await.expect("begin");
    }
    a.execute("UPDATE users SET age = 1 WHERE id = 1")
        .await
        .expect("a locks 1");
    b.execute("UPDATE users SET age = 2 WHERE id = 2")
        .await
        .expect("b locks 2");
    let a_wants_2 = async {
        let result = a.execute("UPDATE users SET age = 1 WHERE id = 2").await;
        (result, a)
    };
    // Whichever asks first, the second closes the cycle and one is the victim.
    let b_wants_1 = async {
        let result = b.execute("UPDATE users SET age = 2 WHERE id = 1").await;
        (result, b)
    };
    let ((ra, _a), (rb, _b)) = tokio::join!(a_wants_2, b_wants_1);
    let failures: Vec<Error> = [ra.err(), rb.err()]
        .into_iter()
        .flatten()
        .map(Error::from)
        .collect();
    assert_eq!(
        failures.len(),
        1,
        "exactly one side is the victim: {failures:?}"
    );
    assert_eq!(failures[0].kind(), ErrorKind::Deadlock, "{:?}", failures[0]);
    assert_eq!(failures[0].code(), Some("40P01"));
    assert!(failures[0].is_retryable());
}

#[tokio::test]
async fn statement_timeout_is_timeout() {
    let Some(pg) = support::postgres_with("statement_timeout_is_timeout", |c| txova_db::DbConfig {
        statement_timeout: Some(Duration::from_millis(100)),
        ..c
    })
    .await
    else {
        return;
    };
    let started = std::time::Instant::now();
    let err = pg.db.execute("SELECT pg_sleep(5)").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_eq!(err.code(), Some("57014"));
    assert!(started.elapsed() < Duration::from_secs(2));
    // The connection survives a cancelled statement.
    pg.db.ping().await.expect("pool still usable");
}

#[tokio::test]
async fn lock_timeout_is_busy() {
    let Some(pg) = support::postgres_with("lock_timeout_is_busy", |c| txova_db::DbConfig {
        lock_timeout: Some(Duration::from_millis(100)),
        ..c
    })
    .await
    else {
        return;
    };
    pg.db
        .execute("CREATE TABLE slots (id INT PRIMARY KEY)")
        .await
        .expect("table");
    let mut holder = PgConnection::connect(&pg.url()).await.expect("holder");
    holder.execute("BEGIN").await.expect("begin");
    holder
        .execute("LOCK TABLE slots IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let err = pg.db.execute("SELECT * FROM slots").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy, "{err:?}");
    assert_eq!(err.code(), Some("55P03"));
    assert!(err.is_retryable());
    holder.execute("ROLLBACK").await.expect("release");
}

#[tokio::test]
async fn terminated_backend_is_connection_error() {
    let Some(pg) = support::postgres("terminated_backend_is_connection_error").await else {
        return;
    };
    let mut victim = PgConnection::connect(&pg.url()).await.expect("victim");
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut victim)
        .await
        .expect("pid");
    query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&pg.db)
        .await
        .expect("terminate");
    let err = Error::from(victim.execute("SELECT 1").await.unwrap_err());
    assert_eq!(err.kind(), ErrorKind::Connection, "{err:?}");
}

#[tokio::test]
async fn syntax_error_is_database_kind_with_sqlstate() {
    let Some(pg) = support::postgres("syntax_error_is_database_kind").await else {
        return;
    };
    let err = pg.db.execute("SELEKT 1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Database);
    assert_eq!(err.code(), Some("42601"));
}
