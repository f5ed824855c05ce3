//! Nothing leaks: credentials in the connection URL never reach a `Debug`, `Display`,
//! serialized config, error, span, log line or health report, and the literals of a
//! statement never reach a span or a log line (sqlx's own statement log included).

use std::time::Duration;

use txova_db::health::HealthMonitor;
use txova_db::{Db, DbConfig, ErrorKind};

use crate::support;
use crate::telemetry_capture::Traces;

#[tokio::test]
async fn credentials_and_literals_stay_out_of_every_output() {
    let Some(pg) = support::postgres("secrets_stay_out").await else {
        return;
    };
    // Trust authentication ignores the passwords: they only have to be carried.
    let mut url = url::Url::parse(&pg.url()).expect("url");
    url.set_password(Some("hunter2userinfo")).expect("password");
    let url = format!("{url}&password=hunter2query");
    let traces = Traces::default();
    let _capture = traces.install();
    let db = Db::connect_with(DbConfig {
        slow_query_threshold: Some(Duration::ZERO),
        n_plus_one_threshold: Some(1),
        ..DbConfig::new(url.as_str())
    })
    .await
    .expect("connect");

    let literal_statements = [
        "SELECT 'hunter2plain' AS a",
        "SELECT $$hunter2dollar$$ AS a",
        "SELECT $tag$hunter2tagged$tag$ AS a",
        r"SELECT E'it\'s hunter2escaped' AS a",
        "SELECT 1 AS a -- hunter2comment",
        "SELECT /* hunter2block */ 2 AS a",
    ];
    txova_db::n_plus_one::scope("secrets", async {
        for sql in literal_statements {
            for _ in 0..2 {
                db.execute(sql).await.expect(sql);
            }
        }
    })
    .await;
    let failed = db
        .execute("SELECT no_such_column FROM pg_class")
        .await
        .unwrap_err();
    assert_eq!(failed.kind(), ErrorKind::Database);

    let monitor = HealthMonitor::builder().database("db", db.clone()).start();
    let report = serde_json::to_string(&monitor.check_now().await).expect("report");
    monitor.stop().await;

    // A server that is not there: the error names where, never with what.
    let refused = Db::connect_with(DbConfig {
        connect_timeout: Duration::from_secs(2),
        ..DbConfig::new("postgres://app:hunter2userinfo@127.0.0.1:1/db?password=hunter2query")
    })
    .await
    .unwrap_err();

    let outputs = [
        ("Db's Debug", format!("{db:?}")),
        ("DbConfig's Debug", format!("{:?}", db.config())),
        ("the URL's Display", db.config().url.to_string()),
        (
            "the serialized config",
            serde_json::to_string(db.config()).expect("json"),
        ),
        ("the health report", report),
        (
            "a refused connect's error",
            format!("{refused} / {refused:?}"),
        ),
        ("the spans and log lines", traces.everything()),
    ];
    for (what, text) in &outputs {
        assert!(
            !text.contains("hunter2userinfo"),
            "{what} shows the password: {text}"
        );
        assert!(
            !text.contains("hunter2query"),
            "{what} shows ?password=: {text}"
        );
    }
    let logged = traces.everything();
    for literal in [
        "hunter2plain",
        "hunter2dollar",
        "hunter2tagged",
        "hunter2escaped",
        "hunter2comment",
        "hunter2block",
    ] {
        assert!(
            !logged.contains(literal),
            "{literal} reached a span or log line"
        );
    }
    // The statements did reach the logs, redacted: the slow-query warnings and N+1.
    assert!(!traces.events("txova_db::slow_query").is_empty());
    assert!(!traces.events("txova_db::n_plus_one").is_empty());
    // sqlx's own statement log is off.
    let sqlx_logged: Vec<String> = traces
        .event_targets()
        .into_iter()
        .filter(|target| target.starts_with("sqlx::query"))
        .collect();
    assert!(
        sqlx_logged.is_empty(),
        "sqlx logged statements: {sqlx_logged:?}"
    );
    db.close().await;
}
