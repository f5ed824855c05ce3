//! Bad input to `Db::connect`: every case a clear error of the right kind, in time.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use txova_db::{ConfigError, Db, DbConfig, Error, ErrorKind};

/// A loopback port where nothing listens.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test]
async fn malformed_url_is_config_error() {
    for url in [
        "postgres://user:pw@host:notaport/db",
        "no scheme at all",
        "sqlite://",
    ] {
        let err = Db::connect(url).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{url}: {err:?}");
        assert!(!err.to_string().contains("pw@"), "{err}");
    }
}

#[tokio::test]
async fn unknown_scheme_is_config_error() {
    let err = Db::connect("oracle://scott:tiger@localhost/orcl")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(ConfigError::UnsupportedScheme { scheme, .. }) if scheme == "oracle"),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("tiger"));
}

#[tokio::test]
async fn refused_connection_is_connection_error_at_once() {
    let url = format!("postgres://app:hunter2@127.0.0.1:{}/db", closed_port());
    let started = Instant::now();
    let err = Db::connect(&url).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("127.0.0.1"), "names the target: {shown}");
    assert!(!shown.contains("hunter2"), "leaks the password: {shown}");
}

#[tokio::test]
async fn silent_server_times_out_within_connect_timeout() {
    // Accepts TCP connections (the kernel does, into the backlog) but never answers the
    // startup message: a hung or unreachable server, without leaving the machine.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let config = DbConfig {
        connect_timeout: Duration::from_millis(300),
        ..DbConfig::new(format!("postgres://app@127.0.0.1:{port}/db"))
    };
    let started = Instant::now();
    let err = Db::connect_with(config).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(err, Error::ConnectTimeout { after, .. } if after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    drop(listener);
}

#[tokio::test]
async fn invalid_pool_settings_are_config_errors() {
    let zero = DbConfig {
        max_connections: 0,
        ..DbConfig::new("sqlite::memory:")
    };
    assert_eq!(
        Db::connect_with(zero).await.unwrap_err().kind(),
        ErrorKind::Config
    );
    let inverted = DbConfig {
        min_connections: 5,
        max_connections: 2,
        ..DbConfig::new("sqlite::memory:")
    };
    assert_eq!(
        Db::connect_with(inverted).await.unwrap_err().kind(),
        ErrorKind::Config
    );
}

#[tokio::test]
async fn sqlite_file_that_cannot_be_created_is_connection_error() {
    let err = Db::connect("sqlite:///nonexistent-dir-txova/sub/x.db")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err:?}");
}

#[tokio::test]
async fn in_memory_sqlite_needs_no_server_and_keeps_its_data_across_connections() {
    let db = Db::connect_with(DbConfig {
        max_connections: 3,
        ..DbConfig::default()
    })
    .await
    .expect("embedded default");
    db.execute("CREATE TABLE t (x INTEGER)")
        .await
        .expect("create");
    // Hold connections so later statements land on other pooled connections.
    let inserts = (0..6_i64).map(|i| {
        let db = db.clone();
        async move {
            txova_db::query("INSERT INTO t (x) VALUES (?)")
                .bind(i)
                .execute(&db)
                .await
        }
    });
    for done in futures_util::future::join_all(inserts).await {
        done.expect("insert");
    }
    let count: i64 = txova_db::query("SELECT count(*) FROM t")
        .fetch_one(&db)
        .await
        .and_then(|row| row.try_get(0))
        .expect("count");
    assert_eq!(count, 6);
}
