//! `Db::listen`: Postgres notifications as a stream that survives its connection being
//! killed (it reconnects, subscribes again and says so); `Unsupported` elsewhere.

use std::time::Duration;

use futures_util::StreamExt as _;
use proptest::prelude::*;
use txova_db::{Db, DbConfig, ErrorKind, ListenEvent, Listener, Notification, query};

use crate::support::{self, unique_name};

/// The next event, within 10 s.
async fn next(listener: &mut Listener) -> ListenEvent {
    tokio::time::timeout(Duration::from_secs(10), listener.next())
        .await
        .expect("an event within 10 s")
        .expect("the stream does not end")
}

async fn notification(listener: &mut Listener) -> Notification {
    match next(listener).await {
        ListenEvent::Notification(n) => n,
        other => panic!("expected a notification, got {other:?}"),
    }
}

#[tokio::test]
async fn notifications_arrive_and_survive_the_listeners_backend_being_killed() {
    let app = unique_name("listen");
    let Some(pg) = support::postgres_with("listen_reconnects", |config| DbConfig {
        application_name: Some(app.clone()),
        ..config
    })
    .await
    else {
        return;
    };
    let (fares, zones) = (unique_name("fares"), unique_name("Zones"));
    let mut listener = pg.db.listen([fares.clone(), zones.clone()]).await.unwrap();
    assert_eq!(listener.channels(), [fares.clone(), zones.clone()]);

    pg.db.notify(&fares, "zone:7").await.unwrap();
    pg.db.notify(&zones, "").await.unwrap();
    let first = notification(&mut listener).await;
    assert_eq!(
        (first.channel.as_str(), first.payload.as_str()),
        (fares.as_str(), "zone:7")
    );
    let second = notification(&mut listener).await;
    assert_eq!(
        (second.channel.as_str(), second.payload.as_str()),
        (zones.as_str(), "")
    );

    // Inside a transaction: delivered at COMMIT, never on rollback.
    let tx = pg.db.begin().await.unwrap();
    query("SELECT pg_notify($1, 'rolled back')")
        .bind(fares.clone())
        .execute(&tx)
        .await
        .unwrap();
    tx.rollback().await;
    let tx = pg.db.begin().await.unwrap();
    query("SELECT pg_notify($1, 'committed')")
        .bind(fares.clone())
        .execute(&tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(notification(&mut listener).await.payload, "committed");

    // Kill the listening session from outside.
    let observer = Db::connect(&pg.base_url).await.unwrap();
    let killed: i64 = query(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1 AND query LIKE 'LISTEN%') AS t",
    )
    .bind(app.clone())
    .fetch_one(&observer)
    .await
    .unwrap()
    .try_get(0)
    .unwrap();
    assert_eq!(killed, 1, "one listening session");
    match next(&mut listener).await {
        ListenEvent::Resubscribed { after } => assert!(after < Duration::from_secs(5), "{after:?}"),
        other => panic!("expected a resubscription, got {other:?}"),
    }
    // Subscribed again on both channels.
    pg.db.notify(&zones, "after").await.unwrap();
    pg.db.notify(&fares, "after").await.unwrap();
    assert_eq!(notification(&mut listener).await.channel, zones);
    assert_eq!(notification(&mut listener).await.channel, fares);

    // Dropped, it lets go of its session.
    drop(listener);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let listening: i64 = query(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1 \
             AND query LIKE 'LISTEN%'",
        )
        .bind(app.clone())
        .fetch_one(&observer)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
        if listening == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the listening session outlived its listener"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    observer.close().await;
}

/// Through a proxy that cuts the connection (a network failure, not a goodbye from the
/// server): the listener comes back once the server can be reached again.
#[tokio::test]
async fn the_listener_comes_back_after_the_network_is_cut() {
    let Some(pg) = support::postgres("listen_network_cut").await else {
        return;
    };
    let (proxy, url) = support::proxy_for(&pg).await;
    let db = Db::connect(&url).await.unwrap();
    let channel = unique_name("cut");
    let mut listener = db.listen([channel.clone()]).await.unwrap();
    proxy.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.restart().await;
    match next(&mut listener).await {
        ListenEvent::Resubscribed { .. } => {}
        other => panic!("expected a resubscription, got {other:?}"),
    }
    pg.db.notify(&channel, "back").await.unwrap();
    assert_eq!(notification(&mut listener).await.payload, "back");
}

#[tokio::test]
async fn listen_and_notify_are_unsupported_on_sqlite_and_mysql() {
    let sqlite = Db::connect("sqlite::memory:").await.unwrap();
    assert_eq!(
        sqlite.listen(["x"]).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        sqlite.notify("x", "y").await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    #[cfg(feature = "mysql")]
    if let Some(my) = support::mysql("listen_unsupported_mariadb").await {
        assert_eq!(
            my.db.listen(["x"]).await.unwrap_err().kind(),
            ErrorKind::Unsupported
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any channel name is either refused before reaching the server or delivered
    /// exactly as written: quotes, case, spaces and SQL in it change nothing else.
    #[test]
    fn any_channel_name_is_refused_or_round_trips(name in "[a-zA-Z0-9 \"';_\\-é\\\\]{0,70}") {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let Some(pg) = support::postgres("listen_channel_names").await else {
                return;
            };
            match pg.db.listen([name.clone()]).await {
                Err(err) => {
                    assert_eq!(err.kind(), ErrorKind::InvalidKey, "{name:?}: {err}");
                    assert!(name.is_empty() || name.len() > 63, "{name:?} refused: {err}");
                }
                Ok(mut listener) => {
                    pg.db.notify(&name, "payload").await.unwrap();
                    let got = notification(&mut listener).await;
                    assert_eq!(got.channel, name);
                    assert_eq!(got.payload, "payload");
                }
            }
        });
    }
}
