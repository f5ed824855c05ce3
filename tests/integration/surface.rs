//! The small public surface the scenario tests pass by: raw sqlx pools as executors,
//! column and row accessors, page requests read from query strings, and how driver
//! errors met outside a `Db` are classified. Each test states what a caller relies on.

use txova_db::column::AnyColumn;
use txova_db::{
    Backend, Db, Direction, ErrorKind, Executor, KeysetRequest, PageRequest, Table, query,
};

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "drivers")]
struct Driver {
    #[column(primary_key)]
    id: i64,
    #[column(sortable)]
    name: String,
    #[column(name = "vehicle_plate")]
    plate: String,
    rating: Option<f64>,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "trips")]
struct Trip {
    #[column(primary_key)]
    id: i64,
    driver_id: i64,
}

const SCHEMA: &str = "
    CREATE TABLE drivers (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                          vehicle_plate TEXT NOT NULL, rating REAL);
    CREATE TABLE trips (id INTEGER PRIMARY KEY, driver_id INTEGER NOT NULL);
    INSERT INTO drivers VALUES (1, 'Rui', 'MZ-01', 4.5), (2, 'Ana', 'MZ-02', NULL);
    INSERT INTO trips VALUES (10, 1), (11, 1), (12, 2), (2, 2);
";

#[tokio::test]
async fn a_raw_sqlx_pool_is_an_executor_for_queries_and_repositories() {
    let pool = sqlx::SqlitePool::connect("sqlite::memory:")
        .await
        .expect("a sqlx pool");
    sqlx::raw_sql(SCHEMA).execute(&pool).await.expect("schema");
    assert_eq!(pool.backend(), Backend::Sqlite);

    let rui = Driver::find(&pool, 1_i64)
        .await
        .expect("find")
        .expect("Rui");
    assert_eq!(rui.plate, "MZ-01");
    let everyone = Driver::select()
        .order_by(Driver::name.asc())
        .fetch_all(&pool)
        .await
        .expect("select");
    assert_eq!(everyone.len(), 2);
    let renamed = query("UPDATE drivers SET name = ? WHERE id = ?")
        .bind("Rui M.")
        .bind(1_i64)
        .execute(&pool)
        .await
        .expect("update");
    assert_eq!(renamed, 1);
    let rows = query("SELECT name FROM drivers ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("rows");
    assert_eq!(rows[0].try_get::<String>("name").expect("name"), "Rui M.");
    let as_table: Vec<Driver> = query("SELECT * FROM drivers WHERE rating IS NULL")
        .fetch_all_as(&pool)
        .await
        .expect("decoded as they stream");
    assert_eq!(as_table[0].name, "Ana");
    let missing = query("SELECT 1 WHERE 0").fetch_optional(&pool).await;
    assert!(missing.expect("a query").is_none());
}

#[tokio::test]
async fn columns_describe_themselves_and_runtime_names_are_allowlisted() {
    assert_eq!(format!("{:?}", Driver::plate), "drivers.vehicle_plate");
    assert_eq!(Driver::plate.index(), 2);
    let info = Driver::plate.info();
    assert_eq!((info.name, info.field), ("vehicle_plate", "plate"));
    assert!(info.rust_type().ends_with("String"), "{}", info.rust_type());
    assert!(!info.primary_key && !info.generated && !info.sortable);
    assert!(Driver::rating.info().nullable());

    let erased: AnyColumn<Driver> = Driver::name.erase();
    assert_eq!(erased.name(), "name");
    assert_eq!(format!("{erased:?}"), "drivers.name");
    assert_eq!(erased.info().field, "name");

    // A name from outside is accepted only from the list the caller allows.
    let allowed = [Driver::name.erase(), Driver::plate.erase()];
    let by_field = AnyColumn::named_among("plate", &allowed).expect("by field name");
    assert_eq!(by_field.name(), "vehicle_plate");
    let refused = AnyColumn::named_among("rating", &allowed).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::InvalidColumn);
    let hostile = Driver::column_named("name; DROP TABLE drivers").unwrap_err();
    assert_eq!(hostile.kind(), ErrorKind::InvalidColumn);
    assert!(Driver::column_named("name").is_ok(), "sortable");

    let order = Driver::name.order(Direction::Desc);
    assert_eq!(format!("{order:?}"), "drivers.name DESC");
}

#[tokio::test]
async fn joins_and_column_comparisons() {
    let db = Db::connect("sqlite::memory:").await.expect("sqlite");
    db.execute_script(SCHEMA).await.expect("schema");
    let ruis: Vec<i64> = Trip::select()
        .inner_join(Trip::driver_id, Driver::id)
        .filter(Driver::name.eq("Rui"))
        .columns(Trip::id)
        .order_by(Trip::id.asc())
        .fetch_all(&db)
        .await
        .expect("joined");
    assert_eq!(ruis, [10, 11]);
    // A condition between two columns of one row.
    let own_number: Vec<i64> = Trip::select()
        .filter(Trip::id.eq_column(Trip::driver_id))
        .columns(Trip::id)
        .fetch_all(&db)
        .await
        .expect("column = column");
    assert_eq!(own_number, [2]);
}

#[tokio::test]
async fn rows_report_their_shape_and_backend() {
    let db = Db::connect("sqlite::memory:").await.expect("sqlite");
    let row = query("SELECT 1 AS one, 'two' AS two")
        .fetch_one(&db)
        .await
        .expect("a row");
    assert_eq!((row.len(), row.is_empty()), (2, false));
    assert!(row.as_sqlite().is_some());
    assert!(row.as_postgres().is_none());
    assert_eq!(format!("{row:?}"), r#"Row { columns: ["one", "two"], .. }"#);
    let out_of_range = row.try_get::<i64>(7).unwrap_err();
    assert_eq!(out_of_range.kind(), ErrorKind::Decode);
    assert!(out_of_range.to_string().contains("#7"), "{out_of_range}");
}

#[test]
fn page_requests_from_a_query_string_are_bounded() {
    // Missing fields take their defaults; out-of-range ones are clamped, not refused.
    let default: PageRequest = serde_json::from_str("{}").expect("defaults");
    assert_eq!(default, PageRequest::default());
    assert_eq!(
        (default.page(), default.per_page()),
        (1, PageRequest::DEFAULT_PER_PAGE)
    );
    let greedy: PageRequest =
        serde_json::from_str(r#"{"page": 0, "per_page": 1000000}"#).expect("clamped");
    assert_eq!(greedy.page(), 1);
    assert_eq!(greedy.per_page(), PageRequest::MAX_PER_PAGE);
    assert_eq!(greedy.capped_at(25).per_page(), 25);
    assert_eq!(PageRequest::new(1, 10).capped_at(0).per_page(), 1);

    let keyset: KeysetRequest<i64> =
        serde_json::from_str(r#"{"limit": 1000000}"#).expect("clamped");
    assert_eq!(
        (keyset.after, keyset.limit),
        (None, KeysetRequest::<i64>::MAX_LIMIT)
    );
    let after: KeysetRequest<i64> =
        serde_json::from_str(r#"{"after": 41, "limit": 0}"#).expect("clamped");
    assert_eq!((after.after, after.limit), (Some(41), 1));
    assert_eq!(KeysetRequest::<i64>::first(50).capped_at(20).limit, 20);
}

#[test]
fn driver_errors_met_outside_a_db_keep_their_meaning() {
    let cases = [
        (sqlx::Error::RowNotFound, ErrorKind::NotFound),
        (sqlx::Error::PoolClosed, ErrorKind::PoolClosed),
        (sqlx::Error::PoolTimedOut, ErrorKind::Timeout),
        (
            sqlx::Error::ColumnNotFound("fare".into()),
            ErrorKind::Decode,
        ),
        (
            sqlx::Error::ColumnIndexOutOfBounds { index: 3, len: 2 },
            ErrorKind::Decode,
        ),
        (
            sqlx::Error::Configuration("bad sslmode".into()),
            ErrorKind::Config,
        ),
        // The session is in an unknown state: a connection failure, never retried as is.
        (
            sqlx::Error::Protocol("unexpected message".into()),
            ErrorKind::Connection,
        ),
        (sqlx::Error::InvalidArgument("bad".into()), ErrorKind::Other),
    ];
    for (driver, kind) in cases {
        let shown = driver.to_string();
        let err = txova_db::Error::from(driver);
        assert_eq!(err.kind(), kind, "{shown}");
        assert!(!err.is_retryable(), "{shown}");
        assert_eq!(err.code(), None);
    }
}

/// A statement's future lives in its caller's future (an axum handler's, a test's),
/// and a debug build polls it with its full size on the stack: a test thread or a Tokio
/// worker has 2 MiB. Boxing or spawning a caller's future copies it whole (axum boxes
/// every handler's). Wrapping a statement twice over (an `async fn` that holds its
/// argument future and awaits a moved copy) once doubled them and overflowed a MariaDB
/// test. Connecting, sqlx's own pool acquire and the cancel of an abandoned statement
/// carried inline made a typed select's future ~10 KB in a release build (5.6 KB for a
/// query, 22 KB for a transaction in a debug one); they are boxed where they happen,
/// and a debug build now measures 1.3 KB, 2.0 KB and 4.8 KB.
#[tokio::test]
async fn statement_futures_stay_small() {
    let db = Db::connect("sqlite::memory:").await.unwrap();
    let fetch = query("SELECT 1")
        .timeout(std::time::Duration::from_secs(1))
        .fetch_one(&db);
    assert!(size_of_val(&fetch) < 3 * 1024, "{}", size_of_val(&fetch));
    let select = Driver::select().fetch_all(&db);
    assert!(size_of_val(&select) < 3 * 1024, "{}", size_of_val(&select));
    let transaction = db.transaction(|tx| async move { query("SELECT 1").execute(&tx).await });
    assert!(
        size_of_val(&transaction) < 8 * 1024,
        "{}",
        size_of_val(&transaction)
    );
}
