//! What statements leave behind: spans with OpenTelemetry's database attributes, the
//! slow-query warning without values, the N+1 warning, the metrics, and the pool
//! statistics pgxpool users expect.

use std::time::Duration;

use txova_db::{Db, DbConfig, ErrorKind, Table, n_plus_one, query};

use crate::support::{self, SqliteFile};
use crate::telemetry_capture::{Metrics, Traces};

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "riders")]
struct Rider {
    #[column(primary_key)]
    id: i64,
    email: String,
}

async fn riders(db: &Db) {
    db.execute("CREATE TABLE riders (id BIGINT PRIMARY KEY, email TEXT NOT NULL)")
        .await
        .expect("table");
    let rows: Vec<Rider> = (1..=3)
        .map(|id| Rider {
            id,
            email: format!("rider{id}@example.com"),
        })
        .collect();
    Rider::insert_many(&rows).execute(db).await.expect("riders");
}

/// A SQLite file of the test's own and a `Db` on it with `configure`'s settings.
async fn sqlite_with(configure: impl FnOnce(DbConfig) -> DbConfig) -> (SqliteFile, Db) {
    let file = SqliteFile::new();
    let db = Db::connect_with(configure(DbConfig::new(file.url())))
        .await
        .expect("connect");
    (file, db)
}

#[tokio::test]
async fn postgres_statement_spans_carry_database_attributes() {
    let Some(pg) = support::postgres("statement_spans").await else {
        return;
    };
    riders(&pg.db).await;
    let traces = Traces::default();
    let _tracing = traces.install();

    let found = Rider::select()
        .filter(Rider::id.le(2))
        .fetch_all(&pg.db)
        .await
        .expect("select");
    assert_eq!(found.len(), 2);
    let duplicate = Rider::insert(&Rider {
        id: 1,
        email: "again@example.com".into(),
    })
    .execute(&pg.db)
    .await
    .unwrap_err();
    assert_eq!(duplicate.kind(), ErrorKind::Duplicate);

    let spans = traces.spans("db.query");
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let select = &spans[0].fields;
    assert_eq!(spans[0].target, "txova_db::query");
    assert_eq!(select["otel.name"], "SELECT riders");
    assert_eq!(select["otel.kind"], "client");
    assert_eq!(select["db.system.name"], "postgresql");
    assert_eq!(select["db.operation.name"], "SELECT");
    assert_eq!(select["db.collection.name"], "riders");
    // Wherever the test server is: its database, host and port.
    let server = url::Url::parse(&pg.base_url).unwrap();
    assert_eq!(
        select["db.namespace"],
        server.path().trim_start_matches('/')
    );
    assert_eq!(select["server.address"], server.host_str().unwrap());
    assert_eq!(
        select["server.port"],
        server.port().unwrap_or(5432).to_string()
    );
    assert_eq!(select["db.response.returned_rows"], "2");
    assert!(select["db.query.text"].contains("$1"), "{select:?}");
    assert!(!select.contains_key("error.type"));

    let insert = &spans[1].fields;
    assert_eq!(insert["otel.name"], "INSERT riders");
    assert_eq!(insert["otel.status_code"], "ERROR");
    assert_eq!(insert["error.type"], "Duplicate");
    assert_eq!(insert["db.response.status_code"], "23505");
    assert!(
        !insert["db.query.text"].contains("again@example.com"),
        "values never reach the span: {insert:?}"
    );
}

#[tokio::test]
async fn slow_query_warning_names_the_statement_without_its_values() {
    let (_file, db) = sqlite_with(|c| DbConfig {
        slow_query_threshold: Some(Duration::from_millis(100)),
        ..c
    })
    .await;
    riders(&db).await;
    let traces = Traces::default();
    let _tracing = traces.install();

    // A recursive CTE that takes ~300 ms here, with a literal a log must not show.
    db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) \
         SELECT count(*) FROM n WHERE 'secret@example.com' <> ''",
    )
    .await
    .expect("slow statement");
    Rider::get(&db, 1).await.expect("fast statement");

    let warnings = traces.events("txova_db::slow_query");
    // A loaded machine may make the point query slow too: then it may warn, but no
    // warning may be under the threshold.
    for warning in &warnings {
        let elapsed: f64 = warning.fields["elapsed_ms"].parse().unwrap();
        assert!(
            elapsed >= 100.0,
            "a warning under the threshold: {warning:?}"
        );
    }
    let warning = warnings
        .iter()
        .find(|w| w.fields["statement"].starts_with("WITH RECURSIVE"))
        .unwrap_or_else(|| panic!("the slow statement warns: {warnings:#?}"));
    assert_eq!(warning.level, tracing::Level::WARN);
    let statement = &warning.fields["statement"];
    assert!(
        statement.starts_with("WITH RECURSIVE n(i) AS (SELECT ? UNION ALL"),
        "{statement}"
    );
    assert!(!statement.contains("secret"), "{statement}");
    assert_eq!(warning.fields["threshold_ms"], "100.0");
}

#[tokio::test]
async fn slow_queries_log_their_plan_without_values() {
    let Some(pg) = support::postgres_with("slow_query_plans", |c| DbConfig {
        slow_query_threshold: Some(Duration::ZERO),
        explain_slow_queries: true,
        ..c
    })
    .await
    else {
        return;
    };
    riders(&pg.db).await;
    let traces = Traces::default();
    let _tracing = traces.install();
    let found = Rider::select()
        .filter(Rider::email.eq("secret@example.com"))
        .order_by(Rider::id.desc())
        .fetch_all(&pg.db)
        .await
        .expect("select");
    assert!(found.is_empty());

    let plans: Vec<_> = traces
        .events("txova_db::slow_query")
        .into_iter()
        .filter(|event| event.fields.contains_key("plan"))
        .collect();
    // The select's plan, and no plan of the EXPLAIN itself.
    assert_eq!(plans.len(), 1, "{plans:#?}");
    let plan = &plans[0].fields["plan"];
    assert!(plan.contains("Seq Scan on riders"), "{plan}");
    assert!(plan.contains("where"), "the condition is shown: {plan}");
    assert!(
        !plan.contains("secret"),
        "a bound value reached the log: {plan}"
    );
    assert!(
        // The filtered column, then the sorted one.
        plans[0].fields["advice"].contains(r#"CREATE INDEX \"riders_email_id_idx\""#),
        "{:?}",
        plans[0].fields
    );
    assert!(!traces.everything().contains("secret@example.com"));
}

#[tokio::test]
async fn n_plus_one_warns_once_per_statement_per_scope() {
    let (_file, db) = sqlite_with(|c| DbConfig {
        n_plus_one_threshold: Some(3),
        ..c
    })
    .await;
    riders(&db).await;
    let traces = Traces::default();
    let _tracing = traces.install();
    let metrics = Metrics::default();
    let _metrics = metrics::set_default_local_recorder(&metrics);

    // Outside any scope: never counted.
    for id in [1, 2, 3, 1, 2, 3] {
        Rider::get(&db, id).await.expect("get");
    }
    assert!(traces.events("txova_db::n_plus_one").is_empty());

    // In a transaction: the 4th run of the same statement warns, once.
    db.transaction(|_| async {
        for id in [1, 2, 3, 1, 2, 3] {
            Rider::get(&db, id).await?;
        }
        // A different statement three times stays under the threshold.
        for _ in 0..3 {
            Rider::select().fetch_all(&db).await?;
        }
        Ok::<_, txova_db::Error>(())
    })
    .await
    .expect("transaction");
    let warnings = traces.events("txova_db::n_plus_one");
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(warnings[0].fields["scope"], "transaction");
    assert!(warnings[0].fields["statement"].contains("FROM \"riders\" WHERE"));
    assert!(warnings[0].fields["message"].contains("more than 3 times in one transaction"));

    // In a scope of the caller's own, counted afresh.
    n_plus_one::scope("GET /riders", async {
        for id in 1..=4 {
            query("SELECT email FROM riders WHERE id = ?")
                .bind(id)
                .fetch_optional(&db)
                .await
                .expect("raw");
        }
    })
    .await;
    let warnings = traces.events("txova_db::n_plus_one");
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert_eq!(warnings[1].fields["scope"], "GET /riders");
    assert_eq!(metrics.counter("txova_db_n_plus_one_total", &[]), 2);
}

#[tokio::test]
async fn queries_and_the_pool_are_measured() {
    let metrics = Metrics::default();
    let _metrics = metrics::set_default_local_recorder(&metrics);
    // The connection `connect` opens to check the server is the pool's first.
    let (_file, db) = sqlite_with(|c| c).await;
    riders(&db).await;
    for id in 1..=3 {
        Rider::get(&db, id).await.expect("get");
    }
    let _ = Rider::get(&db, 99).await.unwrap_err();
    let _ = db.execute("SELECT nope FROM nowhere").await.unwrap_err();

    let latency = |operation, outcome| {
        metrics.values(
            "txova_db_query_duration_seconds",
            &[
                ("backend", "sqlite"),
                ("operation", operation),
                ("outcome", outcome),
            ],
        )
    };
    // A row that is not there is a successful statement (the error is the caller's).
    assert_eq!(latency("select", "ok").len(), 4, "{:?}", metrics.keys());
    assert_eq!(latency("select", "error").len(), 1, "{:?}", metrics.keys());
    assert_eq!(latency("insert", "ok").len(), 1);
    assert_eq!(latency("other", "ok").len(), 1, "CREATE TABLE");
    assert!(latency("select", "ok").iter().all(|&s| s > 0.0 && s < 5.0));
    // Every acquire is measured, and the gauges follow `stats()`.
    let waits = metrics.values(
        "txova_db_pool_acquire_wait_seconds",
        &[("backend", "sqlite")],
    );
    assert_eq!(waits.len(), 7, "{:?}", metrics.keys());
    let stats = db.stats();
    assert_eq!(stats.acquires, 7);
    assert_eq!(stats.wait_histogram.total(), 7);
    let idle = metrics.values(
        "txova_db_pool_connections",
        &[("backend", "sqlite"), ("state", "idle")],
    );
    assert_eq!(idle.last().copied(), Some(f64::from(stats.idle)));
    assert_eq!(
        metrics
            .values("txova_db_pool_max_connections", &[])
            .last()
            .copied(),
        Some(10.0)
    );
    assert!(
        metrics.counter(
            "txova_db_pool_connections_created_total",
            &[("backend", "sqlite")]
        ) >= 1
    );
}

#[tokio::test]
async fn pool_statistics_count_pending_cancelled_created_and_closed() {
    let app = support::unique_name("pool_statistics");
    let Some(pg) = support::postgres_with("pool_statistics", |c| DbConfig {
        max_connections: 1,
        application_name: Some(app.clone()),
        acquire_timeout: Duration::from_millis(300),
        ..c
    })
    .await
    else {
        return;
    };
    let db = &pg.db;
    db.ping().await.expect("ping");
    let first = db.stats();
    assert_eq!(first.connections_created, 1);

    // One statement holds the only connection; a second waits, a third gives up.
    let holder = db.execute("SELECT pg_sleep(0.5)");
    let waiter = async {
        support::eventually("the holder has the connection", || db.stats().in_use == 1).await;
        let cancelled = tokio::time::timeout(Duration::from_millis(50), db.execute("SELECT 1"));
        assert!(cancelled.await.is_err(), "the pool is busy");
        let waiting = db.execute("SELECT 1");
        tokio::pin!(waiting);
        // Poll it once so it queues, then look at the pool from outside.
        assert!(futures_util::poll!(waiting.as_mut()).is_pending());
        let during = db.stats();
        waiting
            .await
            .expect_err("times out behind the 500 ms holder");
        during
    };
    let (held, during) = tokio::join!(holder, waiter);
    held.expect("holder");
    assert_eq!(during.pending_acquires, 1, "{during:?}");
    assert_eq!(during.in_use, 1, "{during:?}");
    let after = db.stats();
    assert_eq!(after.pending_acquires, 0, "{after:?}");
    assert_eq!(
        after.acquires_cancelled,
        first.acquires_cancelled + 1,
        "{after:?}"
    );
    assert_eq!(
        after.acquire_timeouts,
        first.acquire_timeouts + 1,
        "{after:?}"
    );
    assert!(after.wait_histogram.total() >= 3, "{after:?}");

    // A connection killed by the server is closed by the pool, and replaced.
    let admin = Db::connect(&pg.base_url).await.expect("admin");
    let killed =
        query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1")
            .bind(app.as_str())
            .execute(&admin)
            .await
            .expect("terminate");
    assert_eq!(killed, 1);
    // pg_terminate_backend only signals: wait for the backend to be gone.
    loop {
        let left: i64 = query("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
            .bind(app.as_str())
            .fetch_one(&admin)
            .await
            .and_then(|row| row.try_get(0))
            .expect("pg_stat_activity");
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    db.ping().await.expect("a fresh connection answers");
    let replaced = db.stats();
    assert_eq!(replaced.connections_created, 2, "{replaced:?}");
    assert_eq!(replaced.connections_closed, 1, "{replaced:?}");
    admin.close().await;
}

#[tokio::test]
async fn transactions_show_begin_statements_and_commit_or_rollback() {
    let (_file, db) = sqlite_with(|c| c).await;
    riders(&db).await;
    let traces = Traces::default();
    let _tracing = traces.install();

    db.transaction(|_| async {
        Rider::get(&db, 1).await?;
        Ok::<_, txova_db::Error>(())
    })
    .await
    .expect("commits");
    let failed: Result<(), txova_db::Error> = db
        .transaction(|_| async {
            Rider::insert(&Rider {
                id: 1,
                email: "twice@example.com".into(),
            })
            .execute(&db)
            .await?;
            Ok(())
        })
        .await;
    assert_eq!(failed.unwrap_err().kind(), ErrorKind::Duplicate);

    let names: Vec<String> = traces
        .spans("db.query")
        .iter()
        .map(|s| s.fields["otel.name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            "BEGIN",
            "SELECT riders",
            "COMMIT",
            "BEGIN",
            "INSERT riders",
            "ROLLBACK"
        ]
    );
}
