//! [`BreakerConfig`]: the circuit breaker the crate puts around its own backends (the
//! store's Redis, the database's connects), which recovers through a background probe
//! instead of a caller's request.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{BreakerState, CircuitBreaker};
use crate::error::{Error, ErrorKind};

/// How long an open breaker waits for a successful probe before it lets callers' trial
/// calls through itself: a backstop for when no probe can run (no Tokio runtime).
const OPEN_BACKSTOP: Duration = Duration::from_secs(30);

/// Circuit-breaker settings for a backend txova-db calls on the service's behalf:
/// [`RedisConfig::breaker`](crate::store::RedisConfig::breaker) and
/// [`DbConfig::breaker`](crate::DbConfig::breaker).
///
/// After `failures` calls in a row fail with a sign of a sick backend (no connection, no
/// reply in time: [`ErrorKind::Connection`](crate::ErrorKind::Connection) or
/// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout)), the breaker
/// opens: calls fail at once with [`ErrorKind::CircuitOpen`](crate::ErrorKind::CircuitOpen)
/// without touching the network, so a Redis outage costs a cached call a few
/// microseconds instead of a command timeout. A background task then checks the backend
/// every `probe_interval`; the first check that succeeds closes the breaker. No caller's
/// request is ever spent as the trial.
///
/// ```
/// use std::time::Duration;
/// use txova_db::resilience::BreakerConfig;
///
/// let config = BreakerConfig::default();
/// assert!(config.enabled);
/// assert_eq!(config.failures, 3);
/// assert_eq!(config.probe_interval, Duration::from_millis(250));
///
/// let off: BreakerConfig = serde_json::from_str(r#"{"enabled": false}"#).unwrap();
/// assert!(!off.enabled);
/// let slower: BreakerConfig = serde_json::from_str(r#"{"probe_interval": "1s"}"#).unwrap();
/// assert_eq!(slower.probe_interval, Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Whether there is a breaker at all.
    pub enabled: bool,
    /// Failed calls in a row that open it (0 means 1).
    pub failures: u32,
    /// How often an open breaker checks whether the backend is back.
    #[serde(with = "humantime_serde")]
    pub probe_interval: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            failures: 3,
            probe_interval: Duration::from_millis(250),
        }
    }
}

impl BreakerConfig {
    /// No breaker: every call goes to the backend.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }
}

/// A [`CircuitBreaker`] built from a [`BreakerConfig`], with its probe task.
#[derive(Debug)]
pub(crate) struct ProbedBreaker {
    breaker: CircuitBreaker,
    probe_interval: Duration,
    /// Whether a probe task is running.
    probing: Arc<AtomicBool>,
}

impl ProbedBreaker {
    /// The breaker `config` describes, named `name`; `None` when it is disabled.
    pub(crate) fn new(name: impl Into<String>, config: &BreakerConfig) -> Option<Self> {
        if !config.enabled {
            return None;
        }
        let failures = config.failures.max(1);
        let breaker = CircuitBreaker::builder(name)
            .ready_to_trip(move |counts| counts.consecutive_failures >= failures)
            .timeout(OPEN_BACKSTOP)
            .max_requests(1)
            .dropped_call_fails(false)
            .is_successful(|err| !means_down(err))
            .build();
        Some(Self {
            breaker,
            probe_interval: config.probe_interval.max(Duration::from_millis(1)),
            probing: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The breaker's state now.
    pub(crate) fn state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Runs `call` through the breaker. When that leaves the breaker open and no probe
    /// is running, starts one: `probe()` is called every interval for a check of the
    /// backend, until a check closes the breaker or `probe()` says the backend is gone
    /// (`None`, e.g. its last handle was dropped).
    pub(crate) async fn call<T, Fut, Probe, Check>(
        &self,
        call: Fut,
        probe: impl FnOnce() -> Probe,
    ) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, Error>>,
        Probe: FnMut() -> Option<Check> + Send + 'static,
        Check: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let result = self.breaker.call(|| call).await;
        if result.is_err()
            && self.breaker.state() == BreakerState::Open
            && !self.probing.swap(true, Ordering::AcqRel)
        {
            self.start_probe(probe());
        }
        result
    }

    fn start_probe<Probe, Check>(&self, mut probe: Probe)
    where
        Probe: FnMut() -> Option<Check> + Send + 'static,
        Check: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let running = Running(self.probing.clone());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Without a runtime the open timeout lets callers' trials through instead.
            return;
        };
        let breaker = self.breaker.clone();
        let interval = self.probe_interval;
        runtime.spawn(async move {
            let _running = running;
            loop {
                tokio::time::sleep(interval).await;
                if breaker.state() == BreakerState::Closed {
                    return;
                }
                let Some(check) = probe() else { return };
                if let Err(err) = breaker.probe(|| check).await {
                    tracing::debug!(breaker = %breaker.name(), error = %err, "probe failed; still open");
                }
                if breaker.state() == BreakerState::Closed {
                    tracing::info!(breaker = %breaker.name(), "backend answered a probe; breaker closed");
                    return;
                }
            }
        });
    }
}

/// Whether `err` says the backend is unreachable: no connection, or no answer in time.
/// Anything else (a closed pool, a server's error reply, a constraint) is an answer.
fn means_down(err: &Error) -> bool {
    matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout)
}

/// Clears the "a probe is running" flag when the probe task ends or is dropped (the
/// runtime shutting down), so a later trip can start another.
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    fn down() -> Error {
        Error::PoolTimeout {
            after: Duration::from_secs(1),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_failures_fails_fast_and_a_probe_closes_it() {
        let breaker = ProbedBreaker::new("backend", &BreakerConfig::default()).unwrap();
        let healthy = Arc::new(AtomicBool::new(false));
        let probes = Arc::new(AtomicU32::new(0));
        let probe = || {
            let (healthy, probes) = (healthy.clone(), probes.clone());
            move || {
                probes.fetch_add(1, Ordering::SeqCst);
                let up = healthy.load(Ordering::SeqCst);
                Some(async move { if up { Ok(()) } else { Err(down()) } })
            }
        };
        for _ in 0..3 {
            let err = breaker
                .call(async { Err::<(), _>(down()) }, probe)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Timeout);
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        // Open: refused without running the call.
        let ran = AtomicBool::new(false);
        let err = breaker
            .call(
                async {
                    ran.store(true, Ordering::SeqCst);
                    Ok(())
                },
                probe,
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CircuitOpen);
        assert!(!ran.load(Ordering::SeqCst));
        // Failed probes keep it open, well past the backstop.
        tokio::time::sleep(Duration::from_secs(40)).await;
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(probes.load(Ordering::SeqCst) >= 100, "{probes:?}");
        // The first good probe closes it.
        healthy.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(breaker.state(), BreakerState::Closed);
        let settled = probes.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(probes.load(Ordering::SeqCst), settled, "the probe stopped");
        assert!(!breaker.probing.load(Ordering::SeqCst));
        breaker.call(async { Ok(()) }, probe).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_stops_when_its_backend_is_gone_and_disabled_means_none() {
        assert!(ProbedBreaker::new("off", &BreakerConfig::disabled()).is_none());
        let breaker = ProbedBreaker::new(
            "backend",
            &BreakerConfig {
                failures: 1,
                ..BreakerConfig::default()
            },
        )
        .unwrap();
        let probe = || || None::<std::future::Ready<Result<(), Error>>>;
        breaker
            .call(async { Err::<(), _>(down()) }, probe)
            .await
            .unwrap_err();
        assert!(breaker.probing.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!breaker.probing.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_call_or_an_answer_is_not_a_failure() {
        let breaker = ProbedBreaker::new(
            "backend",
            &BreakerConfig {
                failures: 1,
                ..BreakerConfig::default()
            },
        )
        .unwrap();
        let probe = || || None::<std::future::Ready<Result<(), Error>>>;
        for _ in 0..5 {
            let dropped = tokio::time::timeout(
                Duration::from_millis(10),
                breaker.call(std::future::pending::<Result<(), Error>>(), probe),
            )
            .await;
            assert!(dropped.is_err());
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        // A closed pool, a missing row, a server's error reply: the backend answered.
        for err in [Error::PoolClosed, Error::NotFound] {
            breaker
                .call(async { Err::<(), _>(err) }, probe)
                .await
                .unwrap_err();
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
}
