//! The pool's maintenance task: closes idle connections past `idle_timeout` (above
//! `min_connections`) or past `max_lifetime`, and keeps `min_connections` open.
//!
//! It holds the pool only weakly between rounds, so dropping every `Db` handle ends it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::ConnectOptions as _;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::conn::Live;
use super::{Close, Shared, lock};
use crate::db::driver::Driver;

/// Starts the task, if the settings leave it anything to do.
pub(super) fn spawn<D: Driver>(shared: &Arc<Shared<D>>, wake: Arc<Notify>) {
    let settings = &shared.settings;
    if settings.min_connections == 0
        && settings.idle_timeout.is_none()
        && settings.max_lifetime.is_none()
    {
        return;
    }
    // `Db::connect` is async, so this runs inside a runtime; without one there is no
    // maintenance, and acquire still refuses connections past their lifetime.
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let period = period(
        settings.idle_timeout,
        settings.max_lifetime,
        settings.min_connections,
    );
    runtime.spawn(run(Arc::downgrade(shared), wake, period));
}

async fn run<D: Driver>(pool: Weak<Shared<D>>, wake: Arc<Notify>, period: Duration) {
    loop {
        {
            let Some(shared) = pool.upgrade() else {
                return;
            };
            if shared.closed.load(Ordering::SeqCst) {
                return;
            }
            shared.reap(Instant::now());
            shared.replenish().await;
        }
        // Woken early when a connection closes (to replenish) or the pool closes.
        let _ = tokio::time::timeout(period, wake.notified()).await;
    }
}

/// How often to look: a quarter of the shortest timeout, within 50 ms and 30 s.
fn period(
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
    min_connections: u32,
) -> Duration {
    let shortest = [idle_timeout, max_lifetime].into_iter().flatten().min();
    let period = match shortest {
        Some(timeout) => timeout / 4,
        None if min_connections > 0 => Duration::from_secs(30),
        None => Duration::MAX,
    };
    period.clamp(Duration::from_millis(50), Duration::from_secs(30))
}

impl<D: Driver> Shared<D> {
    /// Closes idle connections past their lifetime, and those idle past `idle_timeout`
    /// while more than `min_connections` are open.
    fn reap(&self, now: Instant) {
        let mut expired = Vec::new();
        {
            let mut idle = lock(&self.idle);
            let mut open = self.size.load(Ordering::Acquire);
            let min = self.settings.min_connections;
            // Oldest first: those are the ones idle longest.
            let mut kept = Vec::with_capacity(idle.len());
            for entry in idle.drain(..) {
                let idle_too_long = self.settings.idle_timeout.is_some_and(|timeout| {
                    open > min && now.saturating_duration_since(entry.since) >= timeout
                });
                if idle_too_long || self.outlived(&entry.live, now) {
                    open = open.saturating_sub(1);
                    expired.push(entry.live);
                } else {
                    kept.push(entry);
                }
            }
            *idle = kept;
            self.idle_count.store(idle.len() as u32, Ordering::Relaxed);
        }
        for live in expired {
            self.discard(live, Close::Graceful);
        }
    }

    /// Opens connections until `min_connections` are open, while permits are free (a
    /// caller waiting for one goes first). A failure waits for the next round.
    async fn replenish(&self) {
        let min = self.settings.min_connections;
        while !self.closed.load(Ordering::SeqCst) {
            let Ok(_permit) = self.permits.try_acquire() else {
                return;
            };
            let Some(reservation) = self.reserve(min) else {
                return;
            };
            let opening = async {
                Live::identify(self.options.connect().await?, &self.settings.session).await
            };
            match tokio::time::timeout(self.settings.connect_timeout, opening).await {
                Ok(Ok(live)) => {
                    reservation.keep();
                    self.connection_created();
                    self.push_idle(live, Instant::now());
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "could not open a connection to keep min_connections");
                    return;
                }
                Err(_) => {
                    tracing::warn!(
                        timeout = ?self.settings.connect_timeout,
                        "opening a connection to keep min_connections timed out"
                    );
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_is_a_quarter_of_the_shortest_timeout_within_bounds() {
        let secs = Duration::from_secs;
        assert_eq!(period(Some(secs(60)), Some(secs(600)), 0), secs(15));
        assert_eq!(period(None, Some(secs(3600)), 0), secs(30));
        assert_eq!(
            period(Some(Duration::from_millis(100)), None, 0),
            Duration::from_millis(50)
        );
        assert_eq!(period(None, None, 2), secs(30));
    }
}
