//! [`CircuitBreaker`]: sony/gobreaker's state machine — closed, open, half-open, with
//! counting intervals, a half-open request cap and generations — around any call that
//! returns `Result<T, txova_db::Error>`.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

pub use crate::error::BreakerState;
use crate::error::{Error, ErrorKind};

/// Request and outcome counts of the current generation (cleared on every state change,
/// and every `interval` while closed).
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::resilience::CircuitBreaker;
///
/// let breaker = CircuitBreaker::builder("geocoder").build();
/// breaker.call(|| async { Ok::<_, txova_db::Error>(()) }).await?;
/// let counts = breaker.counts();
/// assert_eq!((counts.requests, counts.total_successes), (1, 1));
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Calls let through.
    pub requests: u32,
    /// Calls that succeeded.
    pub total_successes: u32,
    /// Calls that failed.
    pub total_failures: u32,
    /// Successes since the last failure.
    pub consecutive_successes: u32,
    /// Failures since the last success.
    pub consecutive_failures: u32,
}

impl Counts {
    fn on_success(&mut self) {
        self.total_successes = self.total_successes.saturating_add(1);
        self.consecutive_successes = self.consecutive_successes.saturating_add(1);
        self.consecutive_failures = 0;
    }

    fn on_failure(&mut self) {
        self.total_failures = self.total_failures.saturating_add(1);
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.consecutive_successes = 0;
    }
}

type TripFn = dyn Fn(&Counts) -> bool + Send + Sync;
type SuccessFn = dyn Fn(&Error) -> bool + Send + Sync;
type ChangeFn = dyn Fn(&str, BreakerState, BreakerState) + Send + Sync;

/// How a [`CircuitBreaker`] behaves; built with [`CircuitBreaker::builder`].
///
/// ```
/// use std::time::Duration;
/// use txova_db::resilience::CircuitBreaker;
///
/// let breaker = CircuitBreaker::builder("redis")
///     .ready_to_trip(|counts| counts.requests >= 20 && counts.total_failures * 2 >= counts.requests)
///     .timeout(Duration::from_secs(10)) // open for 10 s, then half-open
///     .max_requests(3) // trial calls while half-open
///     .on_state_change(|name, from, to| eprintln!("breaker {name}: {from} -> {to}"))
///     .build();
/// assert_eq!(breaker.name(), "redis");
/// ```
#[must_use = "call `build()` to get the breaker"]
pub struct BreakerBuilder {
    name: String,
    max_requests: u32,
    interval: Duration,
    timeout: Duration,
    ready_to_trip: Arc<TripFn>,
    is_successful: Arc<SuccessFn>,
    on_state_change: Option<Arc<ChangeFn>>,
    dropped_call_fails: bool,
}

impl BreakerBuilder {
    /// Trial calls let through while half-open, and successes in a row that close the
    /// breaker again (default 1; 0 means 1).
    pub fn max_requests(mut self, max_requests: u32) -> Self {
        self.max_requests = max_requests.max(1);
        self
    }

    /// While closed, counts are cleared every `interval` (default zero: never, counts
    /// only reset on a state change).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// How long the breaker stays open before letting trial calls through (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether a failure in the closed state opens the breaker, given the counts
    /// including it (default: more than 5 consecutive failures).
    pub fn ready_to_trip(mut self, trip: impl Fn(&Counts) -> bool + Send + Sync + 'static) -> Self {
        self.ready_to_trip = Arc::new(trip);
        self
    }

    /// Whether an error still means the backend is healthy (default:
    /// [`counts_as_success`]: a not-found, a constraint violation or a bad query is
    /// the caller's problem, not the server's).
    pub fn is_successful(mut self, ok: impl Fn(&Error) -> bool + Send + Sync + 'static) -> Self {
        self.is_successful = Arc::new(ok);
        self
    }

    /// Whether a call whose future is dropped before it finished counts as a failure
    /// (default `true`: around a database call, a drop is usually a caller's timeout).
    /// With `false` it counts as nothing, and a half-open trial gives its slot back: for
    /// backends whose calls carry their own timeout, where a drop means the caller went
    /// away, not that the backend is sick.
    pub fn dropped_call_fails(mut self, fails: bool) -> Self {
        self.dropped_call_fails = fails;
        self
    }

    /// Called on every state change with the breaker's name, the old and the new state
    /// (under the breaker's lock: keep it short, and do not call the breaker from it).
    pub fn on_state_change(
        mut self,
        change: impl Fn(&str, BreakerState, BreakerState) + Send + Sync + 'static,
    ) -> Self {
        self.on_state_change = Some(Arc::new(change));
        self
    }

    /// The breaker, closed.
    pub fn build(self) -> CircuitBreaker {
        let now = Instant::now();
        let mut machine = Machine {
            state: BreakerState::Closed,
            generation: 0,
            counts: Counts::default(),
            expiry: None,
        };
        machine.new_generation(now, self.interval, self.timeout);
        machine.generation = 0;
        metrics::gauge!("txova_db_circuit_state", "name" => self.name.clone()).set(0.0);
        CircuitBreaker {
            inner: Arc::new(Inner {
                settings: self,
                machine: Mutex::new(machine),
            }),
        }
    }
}

/// The default [`BreakerBuilder::is_successful`]: only errors that say the backend is
/// unwell count as failures — connection failures, timeouts, an unknown COMMIT outcome,
/// a closed pool, and errors nothing more is known of.
///
/// ```
/// use txova_db::Error;
/// use txova_db::resilience::counts_as_success;
///
/// assert!(counts_as_success(&Error::NotFound));
/// assert!(!counts_as_success(&Error::PoolTimeout { after: std::time::Duration::from_secs(1) }));
/// ```
pub fn counts_as_success(err: &Error) -> bool {
    !matches!(
        err.kind(),
        ErrorKind::Connection
            | ErrorKind::Timeout
            | ErrorKind::AmbiguousCommit
            | ErrorKind::PoolClosed
            | ErrorKind::Other
    )
}

/// A circuit breaker: after enough failures it stops calling a sick backend for a
/// while, so callers fail fast instead of queueing on timeouts, then lets a few trial
/// calls through to see whether it recovered. Cheap to clone; clones share the state.
///
/// The state machine is sony/gobreaker's: `ready_to_trip` opens it from closed; any
/// failure in half-open reopens it; `max_requests` successes in a row close it. Each
/// state change starts a new generation, and outcomes of calls started in an older
/// generation are ignored, so a slow call from before a trip cannot close or reopen
/// the breaker. A call whose future is dropped before it finishes counts as a failure
/// (a timeout, usually), so a half-open trial never holds its slot forever.
///
/// ```
/// # async fn demo(db: txova_db::Db) -> txova_db::Result<()> {
/// use std::time::Duration;
/// use txova_db::resilience::CircuitBreaker;
///
/// let breaker = CircuitBreaker::builder("postgres")
///     .ready_to_trip(|counts| counts.consecutive_failures >= 3)
///     .timeout(Duration::from_secs(10))
///     .build();
/// let round_trip = breaker.call(|| db.ping()).await?;
/// # let _ = round_trip; Ok(()) }
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

struct Inner {
    settings: BreakerBuilder,
    machine: Mutex<Machine>,
}

struct Machine {
    state: BreakerState,
    generation: u64,
    counts: Counts,
    /// When the closed interval or the open timeout ends.
    expiry: Option<Instant>,
}

impl Machine {
    fn new_generation(&mut self, now: Instant, interval: Duration, timeout: Duration) {
        self.generation += 1;
        self.counts = Counts::default();
        self.expiry = match self.state {
            BreakerState::Closed if interval.is_zero() => None,
            BreakerState::Closed => Some(now + interval),
            BreakerState::Open => Some(now + timeout),
            BreakerState::HalfOpen => None,
        };
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.settings.name)
            .field("state", &self.state())
            .field("counts", &self.counts())
            .finish()
    }
}

impl CircuitBreaker {
    /// A breaker named `name` (for errors, logs and metrics) with gobreaker's
    /// defaults: trips after more than 5 consecutive failures, stays open 60 s, lets 1
    /// trial call through, never clears counts while closed.
    pub fn builder(name: impl Into<String>) -> BreakerBuilder {
        BreakerBuilder {
            name: name.into(),
            max_requests: 1,
            interval: Duration::ZERO,
            timeout: Duration::from_secs(60),
            ready_to_trip: Arc::new(|counts| counts.consecutive_failures > 5),
            is_successful: Arc::new(counts_as_success),
            on_state_change: None,
            dropped_call_fails: true,
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.inner.settings.name
    }

    /// The state now (an open breaker whose timeout has passed reports half-open).
    pub fn state(&self) -> BreakerState {
        let mut machine = self.lock();
        self.current(&mut machine, Instant::now());
        machine.state
    }

    /// The counts of the current generation.
    pub fn counts(&self) -> Counts {
        let mut machine = self.lock();
        self.current(&mut machine, Instant::now());
        machine.counts
    }

    /// Runs `call` if the breaker lets it through, and counts its outcome;
    /// [`Error::CircuitOpen`] if it does not.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let generation = self.before()?;
        self.counted(generation, false, call()).await
    }

    /// Runs `call` as a health check from outside the traffic, never refused: while
    /// the breaker is open, a success moves it to half-open at once (without waiting
    /// for the open timeout) and counts as a trial there, so with `max_requests(1)` one
    /// good probe closes it; a failure restarts the open timeout without a state
    /// change. While closed or half-open it counts like any call.
    ///
    /// A background task probing a sick backend every few hundred milliseconds is how
    /// the store's breaker recovers without ever letting a caller's request be the
    /// trial (see [`BreakerConfig`](super::BreakerConfig)).
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// use txova_db::resilience::{BreakerState, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::builder("search")
    ///     .ready_to_trip(|counts| counts.consecutive_failures >= 1)
    ///     .build();
    /// let _ = breaker.call(|| async { Err::<(), _>(txova_db::Error::PoolClosed) }).await;
    /// assert_eq!(breaker.state(), BreakerState::Open);
    /// breaker.probe(|| async { Ok::<_, txova_db::Error>(()) }).await?;
    /// assert_eq!(breaker.state(), BreakerState::Closed);
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub async fn probe<T, F, Fut>(&self, call: F) -> Result<T, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let generation = {
            let mut machine = self.lock();
            self.current(&mut machine, Instant::now());
            machine.counts.requests = machine.counts.requests.saturating_add(1);
            machine.generation
        };
        self.counted(generation, true, call()).await
    }

    /// Awaits `call`, started in `generation`, and records its outcome.
    async fn counted<T>(
        &self,
        generation: u64,
        probe: bool,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let mut pending = Pending {
            breaker: self,
            generation,
            done: false,
        };
        let result = call.await;
        pending.done = true;
        let success = match &result {
            Ok(_) => true,
            Err(err) => (self.inner.settings.is_successful)(err),
        };
        if probe {
            self.after_probe(generation, success);
        } else {
            self.after(generation, success);
        }
        result
    }

    /// Whether a call may start now; its generation if so.
    fn before(&self) -> Result<u64, Error> {
        let mut machine = self.lock();
        let now = Instant::now();
        self.current(&mut machine, now);
        let refused = match machine.state {
            BreakerState::Open => true,
            BreakerState::HalfOpen => machine.counts.requests >= self.inner.settings.max_requests,
            BreakerState::Closed => false,
        };
        if refused {
            metrics::counter!("txova_db_circuit_rejections_total", "name" => self.inner.settings.name.clone())
                .increment(1);
            return Err(Error::CircuitOpen {
                name: self.inner.settings.name.clone(),
                state: machine.state,
            });
        }
        machine.counts.requests = machine.counts.requests.saturating_add(1);
        Ok(machine.generation)
    }

    fn after(&self, generation: u64, success: bool) {
        let mut machine = self.lock();
        let now = Instant::now();
        self.current(&mut machine, now);
        if machine.generation != generation {
            return;
        }
        let settings = &self.inner.settings;
        if success {
            machine.counts.on_success();
            if machine.state == BreakerState::HalfOpen
                && machine.counts.consecutive_successes >= settings.max_requests
            {
                self.set_state(&mut machine, BreakerState::Closed, now);
            }
        } else {
            machine.counts.on_failure();
            match machine.state {
                BreakerState::Closed if (settings.ready_to_trip)(&machine.counts) => {
                    self.set_state(&mut machine, BreakerState::Open, now);
                }
                BreakerState::HalfOpen => self.set_state(&mut machine, BreakerState::Open, now),
                _ => {}
            }
        }
    }

    /// A probe's outcome: from open, a success goes half-open and counts as its first
    /// trial, a failure restarts the open timeout; otherwise as any call.
    fn after_probe(&self, generation: u64, success: bool) {
        let mut machine = self.lock();
        let now = Instant::now();
        self.current(&mut machine, now);
        if machine.generation != generation || machine.state != BreakerState::Open {
            drop(machine);
            return self.after(generation, success);
        }
        if success {
            self.set_state(&mut machine, BreakerState::HalfOpen, now);
            machine.counts.requests = 1;
            machine.counts.on_success();
            if machine.counts.consecutive_successes >= self.inner.settings.max_requests {
                self.set_state(&mut machine, BreakerState::Closed, now);
            }
        } else {
            machine.counts.on_failure();
            machine.expiry = Some(now + self.inner.settings.timeout);
        }
    }

    /// A call dropped before it finished: a failure, or (when dropped calls do not
    /// fail) nothing but a half-open trial slot given back.
    fn abandoned(&self, generation: u64) {
        if self.inner.settings.dropped_call_fails {
            return self.after(generation, false);
        }
        let mut machine = self.lock();
        if machine.generation == generation && machine.state == BreakerState::HalfOpen {
            machine.counts.requests = machine.counts.requests.saturating_sub(1);
        }
    }

    /// Applies the clock: a closed interval that ended starts a new generation; an open
    /// timeout that ended moves to half-open.
    fn current(&self, machine: &mut Machine, now: Instant) {
        let settings = &self.inner.settings;
        match (machine.state, machine.expiry) {
            (BreakerState::Closed, Some(expiry)) if expiry <= now => {
                machine.new_generation(now, settings.interval, settings.timeout);
            }
            (BreakerState::Open, Some(expiry)) if expiry <= now => {
                self.set_state(machine, BreakerState::HalfOpen, now);
            }
            _ => {}
        }
    }

    fn set_state(&self, machine: &mut Machine, state: BreakerState, now: Instant) {
        if machine.state == state {
            return;
        }
        let settings = &self.inner.settings;
        let previous = std::mem::replace(&mut machine.state, state);
        machine.new_generation(now, settings.interval, settings.timeout);
        let level = match state {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        };
        metrics::gauge!("txova_db_circuit_state", "name" => settings.name.clone()).set(level);
        tracing::warn!(breaker = %settings.name, from = %previous, to = %state, "circuit breaker changed state");
        if let Some(change) = &settings.on_state_change {
            change(&settings.name, previous, state);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Machine> {
        // Every update leaves the machine consistent, so a poisoned lock (a panicking
        // `on_state_change`) is still usable.
        self.inner
            .machine
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Records a call dropped before it finished (see
/// [`BreakerBuilder::dropped_call_fails`]).
struct Pending<'a> {
    breaker: &'a CircuitBreaker,
    generation: u64,
    done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.abandoned(self.generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use super::*;

    fn failing() -> Error {
        Error::PoolTimeout {
            after: Duration::from_secs(1),
        }
    }

    async fn fail(breaker: &CircuitBreaker) -> Result<(), Error> {
        breaker.call(|| async { Err::<(), _>(failing()) }).await
    }

    async fn succeed(breaker: &CircuitBreaker) -> Result<(), Error> {
        breaker.call(|| async { Ok::<_, Error>(()) }).await
    }

    /// A call started through `breaker` that finishes with `outcome` once the sender
    /// is used.
    async fn in_flight(
        breaker: &CircuitBreaker,
        outcome: Result<(), Error>,
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<(), Error>>,
    ) {
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let breaker = breaker.clone();
        let call = tokio::spawn(async move {
            breaker
                .call(|| async move {
                    let _ = wait.await;
                    outcome
                })
                .await
        });
        tokio::task::yield_now().await;
        (release, call)
    }

    type Changes = Arc<StdMutex<Vec<(BreakerState, BreakerState)>>>;

    fn recorded() -> (Changes, BreakerBuilder) {
        let changes = Arc::new(StdMutex::new(Vec::new()));
        let sink = changes.clone();
        let builder = CircuitBreaker::builder("test")
            .max_requests(2)
            .interval(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .ready_to_trip(|counts| counts.consecutive_failures >= 3)
            .on_state_change(move |name, from, to| {
                assert_eq!(name, "test");
                sink.lock().unwrap().push((from, to));
            });
        (changes, builder)
    }

    #[tokio::test(start_paused = true)]
    async fn every_transition_on_a_fake_clock() {
        let (changes, builder) = recorded();
        let breaker = builder.build();
        // Closed: failures below the threshold keep it closed.
        fail(&breaker).await.unwrap_err();
        fail(&breaker).await.unwrap_err();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.counts().consecutive_failures, 2);
        // The counting interval clears the counts.
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(breaker.counts(), Counts::default());
        // Closed → open on the third failure in a row.
        for _ in 0..3 {
            fail(&breaker).await.unwrap_err();
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        let refused = succeed(&breaker).await.unwrap_err();
        assert!(
            matches!(
                refused,
                Error::CircuitOpen {
                    state: BreakerState::Open,
                    ..
                }
            ),
            "{refused}"
        );
        // Open → half-open after the timeout.
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(breaker.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        // Half-open → open on a trial failure.
        fail(&breaker).await.unwrap_err();
        assert_eq!(breaker.state(), BreakerState::Open);
        // Half-open → closed after max_requests successes.
        tokio::time::advance(Duration::from_secs(30)).await;
        succeed(&breaker).await.unwrap();
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        succeed(&breaker).await.unwrap();
        assert_eq!(breaker.state(), BreakerState::Closed);
        let (closed, open, half_open) = (
            BreakerState::Closed,
            BreakerState::Open,
            BreakerState::HalfOpen,
        );
        assert_eq!(
            *changes.lock().unwrap(),
            vec![
                (closed, open),
                (open, half_open),
                (half_open, open),
                (open, half_open),
                (half_open, closed)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_lets_only_max_requests_through() {
        let (_, builder) = recorded();
        let breaker = builder.build();
        for _ in 0..3 {
            fail(&breaker).await.unwrap_err();
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        // One trial in flight, one more allowed, the third refused.
        let (release, slow) = in_flight(&breaker, Ok(())).await;
        let (trial, second) = in_flight(&breaker, Ok(())).await;
        let refused = succeed(&breaker).await.unwrap_err();
        assert!(
            matches!(
                refused,
                Error::CircuitOpen {
                    state: BreakerState::HalfOpen,
                    ..
                }
            ),
            "{refused}"
        );
        release.send(()).unwrap();
        trial.send(()).unwrap();
        slow.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn outcomes_from_an_old_generation_are_ignored_and_healthy_errors_are_successes() {
        let (_, builder) = recorded();
        let breaker = builder.build();
        let (release, slow) = in_flight(&breaker, Err(failing())).await;
        for _ in 0..3 {
            fail(&breaker).await.unwrap_err();
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        // The call from the closed generation fails now: ignored, still half-open.
        release.send(()).unwrap();
        slow.await.unwrap().unwrap_err();
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        // A not-found is the caller's problem: it counts as a success.
        for _ in 0..2 {
            breaker
                .call(|| async { Err::<(), _>(Error::NotFound) })
                .await
                .unwrap_err();
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_call_counts_as_a_failure() {
        let (_, builder) = recorded();
        let breaker = builder.max_requests(1).build();
        for _ in 0..3 {
            fail(&breaker).await.unwrap_err();
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        let timed_out = tokio::time::timeout(
            Duration::from_secs(1),
            breaker.call(std::future::pending::<Result<(), Error>>),
        )
        .await;
        assert!(timed_out.is_err());
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "the trial's slot was not leaked"
        );
    }
}
