//! Staying up when a backend is not: [`Backoff`] for retrying (connects, transactions,
//! lock waits), [`CircuitBreaker`] around the database or Redis.
//!
//! ```
//! # async fn demo() -> txova_db::Result<()> {
//! use txova_db::resilience::{BreakerState, CircuitBreaker};
//! use txova_db::store::Store;
//!
//! let store = Store::embedded();
//! let breaker = CircuitBreaker::builder("redis").build();
//! breaker.call(|| store.ping()).await?;
//! assert_eq!(breaker.state(), BreakerState::Closed);
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

mod backoff;
mod breaker;
mod probed;

pub use backoff::{Backoff, Delays, Jitter};
pub use breaker::{BreakerBuilder, BreakerState, CircuitBreaker, Counts, counts_as_success};
pub use probed::BreakerConfig;
pub(crate) use probed::ProbedBreaker;
