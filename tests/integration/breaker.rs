//! The circuit breaker around a real Postgres that goes away (behind a proxy the test
//! stops) and comes back: calls fail fast while open, and the breaker closes again once
//! a trial call succeeds.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use txova_db::resilience::{BreakerState, CircuitBreaker};
use txova_db::{Db, DbConfig, ErrorKind};

use crate::support::{Service, server_url};
use crate::tcp_proxy::TcpProxy;

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
