//! The raw passthrough: parameters of every common type in and out, on Postgres,
//! SQLite and MariaDB, with values checked.

use txova_db::{Db, ErrorKind, query};

use crate::support::{self, SqliteFile};

const PG_TABLE: &str = "CREATE TABLE samples (
    id BIGINT PRIMARY KEY, small INT NOT NULL, ratio DOUBLE PRECISION NOT NULL,
    flag BOOL NOT NULL, label TEXT, payload BYTEA NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL, ref_id UUID NOT NULL, doc JSONB NOT NULL)";

const SQLITE_TABLE: &str = "CREATE TABLE samples (
    id INTEGER PRIMARY KEY, small INTEGER NOT NULL, ratio REAL NOT NULL,
    flag BOOLEAN NOT NULL, label TEXT, payload BLOB NOT NULL,
    seen_at TEXT NOT NULL, ref_id BLOB NOT NULL, doc TEXT NOT NULL)";

const MYSQL_TABLE: &str = "CREATE TABLE samples (
    id BIGINT PRIMARY KEY, small INT NOT NULL, ratio DOUBLE NOT NULL,
    flag BOOLEAN NOT NULL, label VARCHAR(50), payload VARBINARY(50) NOT NULL,
    seen_at DATETIME(6) NOT NULL, ref_id BINARY(16) NOT NULL, doc JSON NOT NULL)";

/// `strict`: the backend checks column types on decode (Postgres does; SQLite's
/// dynamic typing lets sqlx read an INTEGER as text).
async fn round_trip(db: &Db, insert: &str, select: &str, strict: bool) {
    let seen_at = chrono::DateTime::from_timestamp(1_700_000_000, 123_000_000).expect("time");
    let ref_id = uuid::Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
    let doc = serde_json::json!({ "pickup": [1.5, 2.5], "notes": null });
    for (id, label) in [(1_i64, Some("first")), (2, None)] {
        let affected = query(insert)
            .bind(id)
            .bind(7_i32)
            .bind(0.25_f64)
            .bind(true)
            .bind(label)
            .bind(vec![0_u8, 159, 255])
            .bind(seen_at)
            .bind(ref_id)
            .bind(sqlx::types::Json(&doc))
            .execute(db)
            .await
            .expect("insert");
        assert_eq!(affected, 1);
    }
    let rows = query(select).fetch_all(db).await.expect("select");
    assert_eq!(rows.len(), 2);
    let row = &rows[0];
    assert_eq!(row.try_get::<i64>("id").expect("id"), 1);
    assert_eq!(row.try_get::<i32>("small").expect("small"), 7);
    assert_eq!(row.try_get::<f64>("ratio").expect("ratio"), 0.25);
    assert!(row.try_get::<bool>("flag").expect("flag"));
    assert_eq!(
        row.try_get::<Option<String>>("label")
            .expect("label")
            .as_deref(),
        Some("first")
    );
    assert_eq!(
        row.try_get::<Vec<u8>>("payload").expect("payload"),
        [0, 159, 255]
    );
    assert_eq!(
        row.try_get::<chrono::DateTime<chrono::Utc>>("seen_at")
            .expect("seen_at"),
        seen_at
    );
    assert_eq!(row.try_get::<uuid::Uuid>("ref_id").expect("ref_id"), ref_id);
    assert_eq!(
        row.try_get::<sqlx::types::Json<serde_json::Value>>("doc")
            .expect("doc")
            .0,
        doc
    );
    assert_eq!(
        rows[1].try_get::<Option<String>>(4).expect("null label"),
        None
    );

    // Decoding into the wrong type, or a column that is not there, is a Decode error.
    if strict {
        assert_eq!(
            row.try_get::<String>("id").unwrap_err().kind(),
            ErrorKind::Decode
        );
    }
    assert_eq!(
        row.try_get::<i64>("nope").unwrap_err().kind(),
        ErrorKind::Decode
    );
    assert_eq!(
        rows[1].try_get::<String>("label").unwrap_err().kind(),
        ErrorKind::Decode
    );
}

use txova_db::sqlx;

#[tokio::test]
async fn postgres_round_trips_every_common_type() {
    let Some(pg) = support::postgres("postgres_round_trips").await else {
        return;
    };
    pg.db.execute(PG_TABLE).await.expect("table");
    round_trip(
        &pg.db,
        "INSERT INTO samples VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        "SELECT * FROM samples ORDER BY id",
        true,
    )
    .await;
}

#[tokio::test]
async fn sqlite_round_trips_every_common_type() {
    let file = SqliteFile::new();
    let db = Db::connect(&file.url()).await.expect("open");
    db.execute(SQLITE_TABLE).await.expect("table");
    round_trip(
        &db,
        "INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "SELECT * FROM samples ORDER BY id",
        false,
    )
    .await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mariadb_round_trips_every_common_type() {
    let Some(my) = support::mysql("mariadb_round_trips").await else {
        return;
    };
    my.db.execute(MYSQL_TABLE).await.expect("table");
    round_trip(
        &my.db,
        "INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "SELECT * FROM samples ORDER BY id",
        true,
    )
    .await;
}

#[tokio::test]
async fn fetch_one_optional_and_not_found() {
    let db = Db::connect("sqlite::memory:").await.expect("open");
    db.execute_script("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);")
        .await
        .expect("script");
    let missing = || query("SELECT x FROM t WHERE x = ?").bind(9_i64);
    assert!(
        format!("{:?}", missing()).contains('9'),
        "Debug shows parameters"
    );
    assert!(
        missing()
            .fetch_optional(&db)
            .await
            .expect("optional")
            .is_none()
    );
    assert_eq!(
        missing().fetch_one(&db).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let first = query("SELECT x FROM t ORDER BY x")
        .fetch_one(&db)
        .await
        .expect("one");
    assert_eq!(first.try_get::<i64>(0).expect("x"), 1);
    // A borrowed parameter needs no 'static lifetime.
    let wanted = String::from("2");
    let found = query("SELECT x FROM t WHERE CAST(x AS TEXT) = ?")
        .bind(wanted.as_str())
        .fetch_optional(&db)
        .await
        .expect("borrowed bind");
    assert!(found.is_some());
}

#[derive(txova_db::Table, Debug, Clone, PartialEq)]
#[table(name = "fares")]
struct Fare {
    #[column(primary_key)]
    id: i64,
    city: String,
    cents: i32,
    note: Option<String>,
}

async fn rows_as_tables(db: &Db) {
    db.execute("CREATE TABLE fares (id BIGINT PRIMARY KEY, city TEXT NOT NULL, cents INT NOT NULL, note TEXT)")
        .await
        .expect("table");
    db.execute("INSERT INTO fares VALUES (1, 'Maputo', 250, NULL), (2, 'Beira', 300, 'night')")
        .await
        .expect("rows");
    let expected = [
        Fare {
            id: 1,
            city: "Maputo".into(),
            cents: 250,
            note: None,
        },
        Fare {
            id: 2,
            city: "Beira".into(),
            cents: 300,
            note: Some("night".into()),
        },
    ];
    // The table's columns in order: decoded by position.
    let all: Vec<Fare> = query("SELECT * FROM fares ORDER BY id")
        .fetch_all_as(db)
        .await
        .expect("select *");
    assert_eq!(all, expected);
    // Another order and an extra column: by name.
    let placeholder = match db.backend() {
        txova_db::Backend::MySql => "?",
        _ => "$1",
    };
    let named: Fare = query(format!(
        "SELECT note, cents * 2 AS doubled, cents, city, id FROM fares WHERE id = {placeholder}"
    ))
    .bind(2_i64)
    .fetch_one_as(db)
    .await
    .expect("by name");
    assert_eq!(named, expected[1]);
    // Positions that match by count but not by name are not trusted.
    let swapped: Vec<Fare> = query("SELECT id, note, cents, city FROM fares ORDER BY id DESC")
        .fetch_all_as(db)
        .await
        .expect("swapped");
    assert_eq!(swapped, [expected[1].clone(), expected[0].clone()]);
    let missing = query("SELECT id, city FROM fares")
        .fetch_optional_as::<Fare>(db)
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Decode, "{missing:?}");
    assert!(missing.to_string().contains("cents"), "{missing}");
    let none = query("SELECT * FROM fares WHERE id = 99")
        .fetch_optional_as::<Fare>(db)
        .await
        .expect("no row");
    assert_eq!(none, None);
}

#[tokio::test]
async fn rows_decode_into_tables_by_position_or_by_name_on_postgres() {
    let Some(pg) = support::postgres("rows_as_tables").await else {
        return;
    };
    rows_as_tables(&pg.db).await;
}

#[tokio::test]
async fn rows_decode_into_tables_by_position_or_by_name_on_sqlite() {
    let file = SqliteFile::new();
    let db = Db::connect(&file.url()).await.expect("sqlite");
    rows_as_tables(&db).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn rows_decode_into_tables_by_position_or_by_name_on_mariadb() {
    let Some(my) = support::mysql("rows_as_tables_mariadb").await else {
        return;
    };
    rows_as_tables(&my.db).await;
}
