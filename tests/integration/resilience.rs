//! Resilience against real servers that go away (behind a proxy the test stops) and
//! come back: the circuit breaker fails fast while open and closes again once a trial
//! call succeeds; connecting with retry waits for a server that is not up yet; the
//! pool recovers from a restart under load and the health monitor reports it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use txova_db::health::{HealthAlert, HealthConfig, HealthMonitor, HealthStatus, Problem};

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
        url.port().unwrap_or(match service {
            Service::Postgres => 5432,
            _ => 6379,
        })
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

/// Postgres goes away (every connection cut, new ones refused) for a second under a
/// steady query load, then comes back: the same `Db` serves again without a restart
/// of the process, and the health monitor saw the outage start and end.
#[tokio::test]
async fn the_pool_recovers_from_a_postgres_restart_under_steady_load() {
    let Some((proxy, url)) = proxied(Service::Postgres, "restart_under_load").await else {
        return;
    };
    let db = Db::connect_with(DbConfig {
        max_connections: 4,
        min_connections: 2,
        acquire_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        ..DbConfig::new(url.as_str())
    })
    .await
    .unwrap();
    let alerts = Arc::new(Mutex::new(Vec::<HealthAlert>::new()));
    let monitor = HealthMonitor::builder()
        .database("postgres", db.clone())
        .config(HealthConfig {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(300),
            ..HealthConfig::default()
        })
        .on_alert({
            let alerts = alerts.clone();
            move |alert| alerts.lock().unwrap().push(alert.clone())
        })
        .start();

    // Four workers, each running a query every 5 ms and noting when and how it went.
    let outcomes = Arc::new(Mutex::new(Vec::<(Instant, bool)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let (db, outcomes, stop) = (db.clone(), outcomes.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let ok = txova_db::query("SELECT $1::int")
                        .bind(worker)
                        .fetch_one(&db)
                        .await
                        .is_ok();
                    outcomes.lock().unwrap().push((Instant::now(), ok));
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(500)).await;
    let cut = Instant::now();
    proxy.stop();
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.restart().await;
    let back = Instant::now();
    // Wait until every worker has succeeded again several times.
    let recovered = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let all_ok = {
                let outcomes = outcomes.lock().unwrap();
                let tail: Vec<bool> = outcomes.iter().rev().take(40).map(|(_, ok)| *ok).collect();
                tail.len() == 40 && tail.iter().all(|ok| *ok) && outcomes.last().unwrap().0 > back
            };
            if all_ok && monitor.report().status == HealthStatus::Up {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    let recovered_at = back.elapsed();
    let report = monitor.report();
    monitor.stop().await;
    assert!(recovered.is_ok(), "no recovery within 15 s: {report:#?}");

    let outcomes = outcomes.lock().unwrap();
    let before: Vec<bool> = outcomes
        .iter()
        .filter(|(t, _)| *t < cut)
        .map(|(_, ok)| *ok)
        .collect();
    let during = outcomes
        .iter()
        .filter(|(t, ok)| *t > cut && *t < back && !ok)
        .count();
    assert!(
        before.len() > 100 && before.iter().all(|ok| *ok),
        "steady before the cut"
    );
    assert!(during > 0, "queries failed while the server was away");
    eprintln!(
        "restart under load: {} queries before the cut, {during} failed during the 1 s outage, \
         recovered {recovered_at:?} after the server came back",
        before.len()
    );

    let postgres = report.component("postgres").unwrap();
    assert_eq!(postgres.status, HealthStatus::Up, "{report:#?}");
    assert_eq!(postgres.outages, 1, "{report:#?}");
    let outage = postgres
        .last_outage
        .as_ref()
        .expect("the outage is reported");
    assert!(outage.ended.is_some(), "{outage:?}");
    assert!(outage.failed_checks >= 2, "{outage:?}");
    assert!(
        outage.duration() >= Duration::from_millis(500),
        "{outage:?}"
    );
    let pool = postgres.pool.expect("pool statistics");
    assert!(
        pool.connections_closed >= 2,
        "the cut connections were closed: {pool:?}"
    );
    assert!(
        pool.connections_created > pool.connections_closed,
        "{pool:?}"
    );

    let alerts = alerts.lock().unwrap();
    let transitions: Vec<(HealthStatus, HealthStatus)> =
        alerts.iter().map(|a| (a.from, a.to)).collect();
    assert!(
        transitions.contains(&(HealthStatus::Degraded, HealthStatus::Down)),
        "{transitions:?}"
    );
    assert_eq!(
        transitions.last().map(|t| t.1),
        Some(HealthStatus::Up),
        "{transitions:?}"
    );
    let down = alerts.iter().find(|a| a.to == HealthStatus::Down).unwrap();
    assert!(
        matches!(down.problems[0], Problem::PingFailed { .. }),
        "{down:?}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["components"][0]["last_outage"]["failed_checks"],
        outage.failed_checks
    );
}

/// Redis behind a proxy goes away and comes back: the store component goes degraded,
/// then down, and up again once the client has reconnected.
#[cfg(feature = "redis")]
#[tokio::test]
async fn the_health_monitor_follows_redis_going_away_and_coming_back() {
    let Some((proxy, url)) = proxied(Service::Redis, "health_redis").await else {
        return;
    };
    let mut config = RedisConfig::new(url.as_str());
    config.connect_timeout = Duration::from_millis(300);
    config.command_timeout = Duration::from_millis(300);
    config.max_reconnect_delay = Duration::from_millis(200);
    let store: txova_db::store::Store = RedisClient::connect_with(config).await.unwrap().into();
    let monitor = HealthMonitor::builder()
        .store("redis", store)
        .config(HealthConfig {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(300),
            ..HealthConfig::default()
        })
        .start();
    let wait_for = |status: HealthStatus| {
        let monitor = &monitor;
        async move {
            tokio::time::timeout(Duration::from_secs(10), async {
                while monitor.report().status != status {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("not {status:?} within 10 s: {:#?}", monitor.report()))
        }
    };
    assert_eq!(monitor.check_now().await.status, HealthStatus::Up);
    proxy.stop();
    wait_for(HealthStatus::Down).await;
    let down = monitor.report();
    let redis = down.component("redis").unwrap();
    assert!(!down.is_ready());
    assert!(redis.consecutive_failures >= 2, "{redis:?}");
    assert!(redis.latency.is_none() && redis.pool.is_none(), "{redis:?}");
    // Three failed pings in a row opened the store's breaker; later pings fail at once.
    let opened = tokio::time::timeout(Duration::from_secs(10), async {
        while monitor.report().component("redis").unwrap().breaker != Some(BreakerState::Open) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(opened.is_ok(), "{:#?}", monitor.report());
    proxy.restart().await;
    wait_for(HealthStatus::Up).await;
    let up = monitor.report();
    assert_eq!(
        up.component("redis").unwrap().breaker,
        Some(BreakerState::Closed)
    );
    let outage = up.component("redis").unwrap().last_outage.clone().unwrap();
    assert!(outage.ended.is_some(), "{outage:?}");
    monitor.stop().await;
    assert!(!monitor.is_running());
}

/// A Postgres that stops answering (the proxy swallows every byte and every new
/// connection): with `DbConfig::breaker` on, three acquires wait out their timeouts,
/// then every call fails at once with `CircuitOpen` and makes no connection attempt;
/// the health report shows the breaker open. Once the server answers again a probe's
/// connect closes the breaker and queries run.
#[tokio::test]
async fn the_database_breaker_fails_fast_while_postgres_is_unreachable_and_closes_on_return() {
    use txova_db::resilience::BreakerConfig;

    let Some((proxy, url)) = proxied(Service::Postgres, "db_breaker").await else {
        return;
    };
    let probe_interval = Duration::from_millis(500);
    let db = Db::connect_with(DbConfig {
        max_connections: 2,
        acquire_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(300),
        test_after_idle: Duration::ZERO,
        breaker: BreakerConfig {
            probe_interval,
            ..BreakerConfig::default()
        },
        ..DbConfig::new(url.as_str())
    })
    .await
    .unwrap();
    // Checked by hand (its first scheduled check may fail once too, and count).
    let monitor = HealthMonitor::builder()
        .database("postgres", db.clone())
        .config(HealthConfig {
            interval: Duration::from_secs(3600),
            ..HealthConfig::default()
        })
        .start();
    monitor.check_now().await;
    db.ping().await.unwrap();
    assert_eq!(db.breaker_state(), Some(BreakerState::Closed));

    proxy.blackhole();
    let mut waited = Vec::new();
    while db.breaker_state() != Some(BreakerState::Open) {
        let started = Instant::now();
        let err = db.ping().await.unwrap_err();
        waited.push(started.elapsed());
        assert!(
            matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout),
            "{err}"
        );
        assert!(waited.len() <= 3, "still closed after {waited:?}");
    }

    // Open: no call reaches the network, each fails in microseconds.
    let connections = proxy.client_bytes().len();
    let started = Instant::now();
    for _ in 0..200 {
        let err = txova_db::query("SELECT 1").execute(&db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CircuitOpen, "{err}");
    }
    let two_hundred = started.elapsed();
    assert!(two_hundred < Duration::from_millis(100), "{two_hundred:?}");
    // The probe tries one connection per interval; the callers none.
    let probes = u32::try_from(proxy.client_bytes().len() - connections).unwrap();
    let allowed = two_hundred.as_millis() / probe_interval.as_millis() + 1;
    assert!(
        u128::from(probes) <= allowed,
        "{probes} connects in {two_hundred:?}"
    );
    let report = monitor.check_now().await;
    let postgres = report.component("postgres").unwrap();
    assert_eq!(postgres.breaker, Some(BreakerState::Open), "{postgres:?}");
    assert_eq!(postgres.status, HealthStatus::Down, "{postgres:?}");

    proxy.resume();
    let resumed = Instant::now();
    loop {
        match txova_db::query("SELECT 1").execute(&db).await {
            Ok(_) => break,
            Err(err) => assert!(
                resumed.elapsed() < Duration::from_secs(5),
                "still failing 5 s after the server returned: {err}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recovered = resumed.elapsed();
    assert_eq!(db.breaker_state(), Some(BreakerState::Closed));
    assert_eq!(
        monitor
            .check_now()
            .await
            .component("postgres")
            .unwrap()
            .breaker,
        Some(BreakerState::Closed)
    );
    eprintln!(
        "opened after {waited:?}; 200 calls while open took {two_hundred:?}; served again \
         {recovered:?} after the server returned"
    );
    monitor.stop().await;
}

/// Degraded, not down, and saying why: a ping slower than its threshold, and a pool
/// with the configured share of its connections in use (here one of two, held by a
/// caller). Both go once the cause does.
#[tokio::test]
async fn a_slow_ping_and_a_busy_pool_degrade_the_database_and_say_why() {
    use txova_db::health::HealthThresholds;

    let db = Db::connect_with(DbConfig {
        max_connections: 2,
        ..DbConfig::new("sqlite::memory:")
    })
    .await
    .unwrap();
    let thresholds = |slow_ping| HealthThresholds {
        slow_ping,
        pool_usage: 0.5,
        ..HealthThresholds::default()
    };
    let monitor_with = |slow_ping| {
        HealthMonitor::builder()
            .database("db", db.clone())
            .config(HealthConfig {
                interval: Duration::from_secs(3_600),
                thresholds: thresholds(slow_ping),
                ..HealthConfig::default()
            })
            .start()
    };

    // Every ping takes longer than nothing at all.
    let monitor = monitor_with(Duration::ZERO);
    let report = monitor.check_now().await;
    let db_health = &report.components[0];
    assert_eq!(db_health.status, HealthStatus::Degraded, "{report:?}");
    assert!(
        matches!(
            db_health.problems.as_slice(),
            [Problem::SlowPing { latency, threshold }] if *threshold == Duration::ZERO && *latency > Duration::ZERO
        ),
        "{report:?}"
    );
    monitor.stop().await;

    let monitor = monitor_with(Duration::from_secs(10));
    assert_eq!(monitor.check_now().await.status, HealthStatus::Up);
    let held = db.acquire().await.unwrap();
    let report = monitor.check_now().await;
    assert_eq!(report.status, HealthStatus::Degraded, "{report:?}");
    assert_eq!(
        report.components[0].problems,
        [Problem::PoolSaturated { in_use: 1, max: 2 }],
        "{report:?}"
    );
    drop(held);
    assert_eq!(monitor.check_now().await.status, HealthStatus::Up);
    monitor.stop().await;
}
