//! Query plans on the three backends: `.explain` reads a full scan and its advice,
//! then the index once it exists; `.explain_analyze` reports what ran where the
//! backend can, and is `Unsupported` where it cannot.

use chrono::{DateTime, Utc};
use txova_db::{Backend, Db, ErrorKind, Table, query};

use crate::support;

#[derive(Table, Debug, Clone)]
#[table(name = "planned_rides")]
struct Ride {
    #[column(primary_key)]
    id: i64,
    rider_id: i64,
    status: String,
    created_at: DateTime<Utc>,
}

const SCHEMA: &str = "CREATE TABLE planned_rides (id BIGINT PRIMARY KEY, rider_id BIGINT NOT NULL, \
                      status VARCHAR(16) NOT NULL, created_at TIMESTAMP NOT NULL)";
const PG_SCHEMA: &str = "CREATE TABLE planned_rides (id BIGINT PRIMARY KEY, rider_id BIGINT NOT NULL, \
                         status VARCHAR(16) NOT NULL, created_at TIMESTAMPTZ NOT NULL)";

/// The rows of a recursive CTE over `planned_rides`.
#[derive(Table, Debug, Clone)]
#[table(name = "chained_rides", unchecked)]
struct ChainedRide {
    id: i64,
    rider_id: i64,
}

async fn seeded(db: &Db) {
    let base = DateTime::from_timestamp(1_780_000_000, 0).expect("a time");
    let rides: Vec<Ride> = (0..3_000)
        .map(|i| Ride {
            id: i,
            rider_id: i,
            status: ["open", "done", "cancelled"][i as usize % 3].into(),
            created_at: base + chrono::Duration::seconds(i),
        })
        .collect();
    Ride::insert_many(&rides).execute(db).await.expect("seed");
    let analyze = match db.backend() {
        Backend::Postgres => "ANALYZE planned_rides",
        Backend::Sqlite => "ANALYZE",
        _ => "ANALYZE TABLE planned_rides",
    };
    query(analyze).fetch_all(db).await.expect("analyze");
}

async fn scenario(db: Db) {
    seeded(&db).await;
    let by_rider = || {
        Ride::select()
            .filter(Ride::rider_id.eq(7))
            .order_by(Ride::created_at.desc())
    };

    // No index on rider_id: the whole table is read, and the advice says what would
    // serve the filter and the order.
    let plan = by_rider().explain(&db).await.expect("explain");
    assert!(plan.scans_sequentially("planned_rides"), "{plan}");
    assert!(!plan.analyzed);
    let advice = plan.advice();
    assert_eq!(advice.len(), 1, "{plan}");
    assert_eq!(advice[0].table, "planned_rides");
    assert_eq!(advice[0].columns, ["rider_id", "created_at"], "{plan}");
    assert!(plan.to_string().contains("advice: CREATE INDEX"), "{plan}");

    // The advised index, and the plan uses it.
    db.execute(&advice[0].to_string())
        .await
        .expect("the advised index");
    let plan = by_rider().explain(&db).await.expect("explain");
    assert!(
        plan.uses_index("planned_rides_rider_id_created_at_idx"),
        "{plan}"
    );
    assert!(!plan.scans_sequentially("planned_rides"), "{plan}");
    assert!(plan.advice().is_empty(), "{plan}");

    // A full read asks for no index.
    let all = Ride::select().explain(&db).await.expect("explain");
    assert!(all.scans_sequentially("planned_rides"), "{all}");
    assert!(all.advice().is_empty(), "{all}");

    // Writes and raw SQL have plans too.
    let update = Ride::update()
        .set(Ride::status, "done")
        .filter(Ride::status.eq("open"))
        .explain(&db)
        .await
        .expect("explain update");
    assert!(update.scans_sequentially("planned_rides"), "{update}");
    let delete = Ride::delete()
        .filter(Ride::rider_id.eq(3))
        .explain(&db)
        .await
        .expect("explain delete");
    assert!(!delete.scans_sequentially("planned_rides"), "{delete}");
    let raw = query("SELECT count(*) FROM planned_rides WHERE status = $1")
        .bind("open")
        .explain(&db)
        .await;
    let raw = match db.backend() {
        // `$1` is Postgres' and SQLite's placeholder; MariaDB's is `?`.
        Backend::MySql => {
            query("SELECT count(*) FROM planned_rides WHERE status = ?")
                .bind("open")
                .explain(&db)
                .await
        }
        _ => raw,
    }
    .expect("explain raw");
    assert!(raw.scans_sequentially("planned_rides"), "{raw}");
    let one = Ride {
        id: -1,
        rider_id: -1,
        status: "open".into(),
        created_at: Utc::now(),
    };
    Ride::insert(&one)
        .explain(&db)
        .await
        .expect("explain insert");

    // EXPLAIN ANALYZE runs the statement.
    let analyzed = by_rider().explain_analyze(&db).await;
    if db.backend() == Backend::Sqlite {
        assert_eq!(analyzed.unwrap_err().kind(), ErrorKind::Unsupported);
    } else {
        let analyzed = analyzed.expect("explain analyze");
        assert!(analyzed.analyzed);
        assert!(analyzed.execution_time.is_some(), "{analyzed}");
        assert!(
            analyzed.nodes().any(|node| node.actual_rows.is_some()),
            "{analyzed}"
        );
        if db.backend() == Backend::Postgres {
            assert!(
                analyzed.nodes().any(|node| node.buffers.is_some()),
                "{analyzed}"
            );
        }
        // A write's effect happens, so one is analyzed inside a rolled-back transaction.
        let tx = db.begin().await.expect("begin");
        let deleted = Ride::delete()
            .filter(Ride::rider_id.lt(100))
            .explain_analyze(&tx)
            .await
            .expect("explain analyze delete");
        assert!(deleted.analyzed, "{deleted}");
        tx.rollback().await;
    }
    let count: i64 = query("SELECT count(*) FROM planned_rides")
        .fetch_one(&db)
        .await
        .expect("count")
        .try_get(0)
        .expect("count");
    assert_eq!(
        count, 3_000,
        "explain ran no write, and the analyzed one rolled back"
    );

    // A recursive CTE's rows are made by the statement: reading them whole is no
    // table scan an index could serve, so the advice never names the CTE.
    let chain = txova_db::select::Cte::<ChainedRide>::recursive_distinct(
        Ride::select()
            .columns((Ride::id, Ride::rider_id))
            .filter(Ride::rider_id.eq(7)),
        Ride::select()
            .inner_join(Ride::rider_id, ChainedRide::id)
            .columns((Ride::id, Ride::rider_id)),
    );
    let plan = ChainedRide::select()
        .with(chain)
        .filter(ChainedRide::rider_id.gt(3))
        .order_by(ChainedRide::id.desc())
        .explain(&db)
        .await
        .expect("explain a recursive CTE");
    assert!(
        plan.advice()
            .iter()
            .all(|advice| advice.table != "chained_rides"),
        "{plan}"
    );
    assert!(!plan.scans_sequentially("chained_rides"), "{plan}");
    assert!(
        plan.seq_scans().iter().all(|scan| !scan
            .relation
            .as_deref()
            .unwrap_or_default()
            .starts_with('<')),
        "MariaDB's derived tables are not table scans: {plan}"
    );
}

#[tokio::test]
async fn plans_on_postgres() {
    let Some(pg) = support::postgres("plans").await else {
        return;
    };
    pg.db.execute(PG_SCHEMA).await.expect("schema");
    scenario(pg.db.clone()).await;
}

#[tokio::test]
async fn plans_on_sqlite() {
    let file = support::SqliteFile::new();
    let db = Db::connect(&file.url()).await.expect("sqlite");
    db.execute(SCHEMA).await.expect("schema");
    scenario(db).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn plans_on_mariadb() {
    let Some(my) = support::mysql("plans").await else {
        return;
    };
    my.db.execute(SCHEMA).await.expect("schema");
    scenario(my.db.clone()).await;
}
