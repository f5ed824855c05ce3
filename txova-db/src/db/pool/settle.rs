//! The settle task: where a connection goes when its caller dropped it with a statement
//! in flight or a transaction open, to be made clean before anyone else can take it.
//!
//! In order, within [`SETTLE_WITHIN`] in all (else the connection is closed):
//!
//! 1. A statement in flight gets [`GRACE`] to finish on its own (most abandoned
//!    statements are short: the client went away, not the database). Inside a
//!    transaction it gets none: the transaction's locks are to be let go at once. On
//!    Postgres it gets none either: sqlx's drain reads a long result to its end in one
//!    poll, which no timer interrupts ([`Driver::DRAIN_UNDER_TIMER`]).
//! 2. If it is still running, it is cancelled on the server ([`Driver::cancel`]:
//!    `pg_cancel_backend` from a separate session on Postgres, `KILL CONNECTION` on
//!    MySQL, an interrupt on SQLite), and what is left of its reply is read.
//! 3. A transaction left open is rolled back; a connection lent whole
//!    ([`Db::acquire`](crate::Db::acquire)) has its session reset
//!    ([`Driver::reset_session`]).
//! 4. The connection goes back on the idle stack; if any step failed, it is closed
//!    instead (the server ends the session, and rolls back, when it sees the EOF).
//!
//! The connection keeps its place in the pool's size meanwhile but holds no permit, so
//! callers are not made to wait for it unless the pool has nothing else.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Close, Live, Shared, TxPhase};
use crate::db::driver::{AfterCancel, Driver};

/// How long an abandoned statement outside a transaction may keep running before it is
/// cancelled on the server.
pub(super) const GRACE: Duration = Duration::from_millis(10);

/// How long settling one connection may take in all before it is closed instead.
pub(super) const SETTLE_WITHIN: Duration = Duration::from_secs(3);

/// What a caller left behind on a connection it dropped.
#[derive(Debug, Clone, Copy)]
pub(super) struct Leftover {
    /// A statement (or a check) was in flight.
    pub(super) running: bool,
    pub(super) tx: TxPhase,
    /// The connection was lent whole: its session state is reset
    /// ([`Driver::reset_session`]).
    pub(super) reset: bool,
}

/// A connection being settled: if the task is dropped before it finishes (the runtime
/// shut down), the connection is closed and its place in the pool given back.
struct Settling<D: Driver> {
    shared: Arc<Shared<D>>,
    live: Option<Live<D>>,
}

impl<D: Driver> Settling<D> {
    fn finish(mut self, clean: bool) {
        if let Some(live) = self.live.take() {
            self.shared.settling.fetch_sub(1, Ordering::AcqRel);
            if clean {
                self.shared.release(live, tokio::time::Instant::now());
            } else {
                self.shared.discard(live, Close::Hard);
            }
        }
    }
}

impl<D: Driver> Drop for Settling<D> {
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            self.shared.settling.fetch_sub(1, Ordering::AcqRel);
            self.shared.discard(live, Close::Hard);
        }
    }
}

/// Settles `live` in a task of its own; without a runtime, closes it.
pub(super) fn spawn<D: Driver>(shared: &Arc<Shared<D>>, live: Live<D>, leftover: Leftover) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        shared.discard(live, Close::Hard);
        return;
    };
    shared.settling.fetch_add(1, Ordering::AcqRel);
    let mut settling = Settling {
        shared: Arc::clone(shared),
        live: Some(live),
    };
    runtime.spawn(async move {
        let outcome = match settling.live.as_mut() {
            Some(live) => {
                tokio::time::timeout(SETTLE_WITHIN, settle(&settling.shared, live, leftover)).await
            }
            None => return,
        };
        let clean = match outcome {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                tracing::debug!(%error, "an abandoned connection could not be settled; closing it");
                false
            }
            Err(_) => {
                tracing::debug!(
                    within = ?SETTLE_WITHIN,
                    "an abandoned connection did not settle in time; closing it"
                );
                false
            }
        };
        settling.finish(clean);
    });
}

/// Why settling failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum SettleError {
    #[error(transparent)]
    Driver(#[from] sqlx::Error),
    #[error("the statement was stopped by ending its session")]
    SessionEnded,
    #[error("the statement could not be cancelled in time")]
    CancelTimedOut,
}

async fn settle<D: Driver>(
    shared: &Shared<D>,
    live: &mut Live<D>,
    leftover: Leftover,
) -> Result<(), SettleError> {
    if leftover.running {
        let grace = if leftover.tx == TxPhase::Open {
            Duration::ZERO
        } else {
            GRACE
        };
        finish_statement(shared, live, grace).await?;
    }
    if leftover.reset {
        D::reset_session(&mut live.raw).await?;
    } else if leftover.tx == TxPhase::Open {
        D::rollback(&mut live.raw).await?;
    }
    Ok(())
}

/// Ends the statement left in flight on `live`: lets it run `grace` longer (a reply
/// already waiting is read even with none), then cancels it on the server and reads
/// what is left of its reply. The statement's own error, if it met one (a cancelled
/// statement's among them); an error when the connection must be closed instead.
pub(super) async fn finish_statement<D: Driver>(
    shared: &Shared<D>,
    live: &mut Live<D>,
    grace: Duration,
) -> Result<Option<sqlx::Error>, SettleError> {
    // `timeout` polls the drain once even with no grace. A backend that cannot drain
    // is cancelled (and closed) at once; one whose drain does not yield to a timer is
    // cancelled first.
    let finished = if D::DRAINS && D::DRAIN_UNDER_TIMER {
        tokio::time::timeout(grace, D::drain(&mut live.raw))
            .await
            .ok()
    } else {
        None
    };
    let met = match finished {
        Some(drained) => drained?,
        None => {
            let cancelled = tokio::time::timeout(
                shared.settings.connect_timeout,
                D::cancel(&shared.options, &live.key),
            )
            .await;
            match cancelled {
                Ok(Ok(AfterCancel::Drain)) => {
                    shared.counters.statement_cancelled();
                    metrics::counter!(
                        "txova_db_pool_statements_cancelled_total",
                        "backend" => shared.backend
                    )
                    .increment(1);
                    D::drain(&mut live.raw).await?
                }
                Ok(Ok(AfterCancel::Close)) => {
                    shared.counters.statement_cancelled();
                    return Err(SettleError::SessionEnded);
                }
                // No session to cancel from (the server is full or unreachable):
                // closing the connection is what is left.
                Ok(Err(error)) => return Err(error.into()),
                Err(_) => return Err(SettleError::CancelTimedOut),
            }
        }
    };
    D::cancel_done(&live.key);
    Ok(met)
}
