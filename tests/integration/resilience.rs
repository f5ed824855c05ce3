//! Resilience against real servers that go away (behind a proxy the test stops) and
//! come back: the circuit breaker fails fast while open and closes again once a trial
//! call succeeds; connecting with retry waits for a server that is not up yet.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use txova_db::resilience::{Backoff, BreakerState, CircuitBreaker};
use txova_db::store::{RedisClient, RedisConfig};
use txova_db::{Db, DbConfig, ErrorKind};

use crate::support::{Service, server_url};
use crate::tcp_proxy::TcpProxy;

/// A proxy in front of `service`, and the service's URL pointing at the proxy.
async fn proxied(service: Service, test: &str) -> Option<(TcpProxy, url::Url)> {
    let mut url = url::Url::parse(&server_url(service, test)?).unwrap();
    let target: SocketAddr = format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap_or(6379)
    )
    .parse()
    .unwrap();
    let proxy = TcpProxy::start(target).await;
    url.set_port(Some(proxy.port)).unwrap();
    Some((proxy, url))
}

#[tokio::test]
async fn connecting_with_retry_waits_for_servers_that_come_up_late() {
    let backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(100))
        .max_elapsed(Duration::from_secs(10));
    if let Some((proxy, url)) = proxied(Service::Postgres, "connecting_with_retry_postgres").await {
        proxy.stop();
        let mut config = DbConfig::new(url.as_str());
        config.connect_timeout = Duration::from_secs(1);
        let restart = async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            proxy.restart().await;
        };
        let started = Instant::now();
        let (db, ()) = tokio::join!(Db::connect_with_retry(config.clone(), &backoff), restart);
        db.unwrap().ping().await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(400));
        // Without retry, a refused connect is an error at once; with a bounded
        // backoff, the last error comes back when the limit is reached.
        proxy.stop();
        let err = Db::connect_with_retry(config, &backoff.max_elapsed(Duration::from_millis(300)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    }
    if let Some((proxy, url)) = proxied(Service::Redis, "connecting_with_retry_redis").await {
        proxy.stop();
        let mut config = RedisConfig::new(url.as_str());
        config.connect_timeout = Duration::from_millis(500);
        let restart = async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            proxy.restart().await;
        };
        let (client, ()) = tokio::join!(RedisClient::connect_with_retry(config, &backoff), restart);
        client.unwrap().ping().await.unwrap();
    }
}

#[tokio::test]
async fn a_breaker_fails_fast_while_postgres_is_down_and_closes_when_it_returns() {
    let Some(url) = server_url(
        Service::Postgres,
        "a_breaker_fails_fast_while_postgres_is_down",
    ) else {
        return;
    };
    let parsed = url::Url::parse(&url).unwrap();
    let target: SocketAddr = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port().unwrap_or(5432)
    )
    .parse()
    .unwrap();
    let proxy = TcpProxy::start(target).await;
    let mut proxied = parsed.clone();
    proxied.set_port(Some(proxy.port)).unwrap();
    let mut config = DbConfig::new(proxied.as_str());
    config.connect_timeout = Duration::from_secs(1);
    config.acquire_timeout = Duration::from_secs(1);
    let db = Db::connect_with(config).await.unwrap();
    let breaker = CircuitBreaker::builder("postgres")
        .ready_to_trip(|counts| counts.consecutive_failures >= 3)
        .timeout(Duration::from_millis(500))
        .build();
    let reached = AtomicUsize::new(0);
    let query = || async {
        reached.fetch_add(1, Ordering::SeqCst);
        db.ping().await
    };

    breaker.call(query).await.unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);

    proxy.stop();
    let mut failures = 0;
    while breaker.state() == BreakerState::Closed {
        let err = breaker.call(query).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout),
            "{err}"
        );
        failures += 1;
        assert!(failures <= 3, "trips on the third failure in a row");
    }
    assert_eq!(breaker.state(), BreakerState::Open);

    // While open, calls are refused at once and never reach the database.
    let before = reached.load(Ordering::SeqCst);
    let started = Instant::now();
    for _ in 0..100 {
        let err = breaker.call(query).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CircuitOpen);
    }
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(reached.load(Ordering::SeqCst), before);

    // Still down at the timeout: the trial call fails and the breaker reopens.
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    breaker.call(query).await.unwrap_err();
    assert_eq!(breaker.state(), BreakerState::Open);

    // The server is back: the next trial succeeds and closes it.
    proxy.restart().await;
    tokio::time::sleep(Duration::from_millis(550)).await;
    breaker.call(query).await.unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
    breaker.call(query).await.unwrap();
}
