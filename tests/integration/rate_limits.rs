//! Rate limits on every store: exact admission under concurrency for each algorithm,
//! the decision's numbers and headers, and the failure modes with Redis down.

use std::time::Duration;

use txova_db::ErrorKind;
use txova_db::rate_limit::{FailureMode, RateLimit, RateLimiter};
use txova_db::store::Store;
use txova_db_test_support::RedisServer;

use crate::support::{stores, unique_name};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_checks_admit_exactly_the_limit() {
    for (name, store) in stores("five_hundred_concurrent_checks").await {
        let limiter = RateLimiter::new(store);
        // Long windows, so the burst of checks cannot straddle a window boundary or
        // see a token refill. Fixed windows are aligned to the clock: an hour's
        // boundary is every hour (a run at 23:59:59 once admitted 150 of 100), a
        // 30-day one every 30 days since the epoch.
        let window = Duration::from_secs(30 * 86_400);
        for limit in [
            RateLimit::fixed_window(100, window),
            RateLimit::sliding_window(100, window),
            RateLimit::token_bucket(100, window),
        ] {
            let key = unique_name("rider");
            let checks = (0..500).map(|_| {
                let (limiter, key) = (limiter.clone(), key.clone());
                tokio::spawn(async move { limiter.check(&limit, &key).await.unwrap() })
            });
            let decisions = futures_util::future::join_all(checks).await;
            let decisions: Vec<_> = decisions.into_iter().map(Result::unwrap).collect();
            let allowed = decisions.iter().filter(|d| d.allowed()).count();
            assert_eq!(allowed, 100, "{name} {limit:?}");
            let mut remaining: Vec<u32> = decisions
                .iter()
                .filter(|d| d.allowed())
                .map(|d| d.remaining())
                .collect();
            remaining.sort_unstable();
            assert_eq!(remaining, (0..100).collect::<Vec<_>>(), "{name} {limit:?}");
            for refused in decisions.iter().filter(|d| !d.allowed()) {
                let retry = refused
                    .retry_after()
                    .expect("refused calls say when to retry");
                assert!(
                    retry > Duration::ZERO && retry <= 2 * limit.window,
                    "{name} {limit:?}: {retry:?}"
                );
                assert_eq!(refused.remaining(), 0);
                assert!(!refused.is_degraded());
            }
        }
    }
}

#[tokio::test]
async fn decisions_render_the_standard_headers() {
    for (name, store) in stores("decisions_render_the_standard_headers").await {
        let limiter = RateLimiter::new(store);
        let limit = RateLimit::token_bucket(2, Duration::from_secs(10)).burst(3);
        let key = unique_name("ip");
        for expected_remaining in [2, 1, 0] {
            let decision = limiter.check(&limit, &key).await.unwrap();
            assert!(decision.allowed(), "{name}");
            assert_eq!(decision.remaining(), expected_remaining, "{name}");
            assert_eq!(decision.limit(), 3);
        }
        let refused = limiter.check(&limit, &key).await.unwrap();
        assert!(!refused.allowed(), "{name}");
        // One token every 5 s.
        let retry = refused.retry_after().unwrap();
        assert!(
            retry > Duration::from_secs(4) && retry <= Duration::from_secs(5),
            "{name}: {retry:?}"
        );
        let headers: Vec<(&str, String)> = refused.headers().collect();
        assert_eq!(
            headers,
            vec![
                ("RateLimit-Limit", "3".to_owned()),
                ("RateLimit-Remaining", "0".to_owned()),
                ("RateLimit-Reset", "15".to_owned()),
                ("RateLimit-Policy", "3;w=10".to_owned()),
                ("Retry-After", "5".to_owned()),
            ],
            "{name}"
        );
        let err = limiter.enforce(&limit, &key).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{name}");
        match err {
            txova_db::Error::RateLimited {
                key: limited,
                retry_after,
            } => {
                assert_eq!(limited, key, "{name}: the key, without the store's prefix");
                assert!(
                    retry_after > Duration::from_secs(4) && retry_after <= Duration::from_secs(5),
                    "{name}: {retry_after:?}"
                );
            }
            other => panic!("{name}: {other:?}"),
        }
        // Under the limit, `enforce` passes the decision through.
        let passed = limiter
            .enforce(&limit, &unique_name("ip"))
            .await
            .expect("a fresh key is under the limit");
        assert!(passed.allowed(), "{name}");
        assert_eq!(passed.remaining(), 2, "{name}");
        let err = limiter.check(&limit, "").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        let err = limiter
            .check(&RateLimit::fixed_window(0, Duration::from_secs(1)), &key)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
    }
}

#[tokio::test]
async fn with_redis_down_the_failure_mode_decides() {
    let Some(mut server) = RedisServer::start("with_redis_down_the_failure_mode_decides") else {
        return;
    };
    let store = Store::redis(&server.url).await.unwrap();
    let limit = RateLimit::fixed_window(5, Duration::from_secs(60));
    let open = RateLimiter::new(store.clone());
    let closed = RateLimiter::new(store).failure_mode(FailureMode::Closed);
    assert!(!open.check(&limit, "k").await.unwrap().is_degraded());
    server.kill();
    let decision = open.check(&limit, "k").await.unwrap();
    assert!(decision.allowed() && decision.is_degraded(), "{decision:?}");
    let decision = closed.check(&limit, "k").await.unwrap();
    assert!(
        !decision.allowed() && decision.is_degraded(),
        "{decision:?}"
    );
    assert!(decision.headers().any(|(name, _)| name == "Retry-After"));
}
