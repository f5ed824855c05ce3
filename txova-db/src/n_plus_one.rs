//! N+1 detection: a warning when one statement runs many times in one unit of work.
//!
//! Loading a list and then each item's details one query at a time (`for ride in rides
//! { driver(ride.driver_id) }`) costs a round trip per item. With
//! [`DbConfig::n_plus_one_threshold`](crate::DbConfig::n_plus_one_threshold) set, txova-db
//! counts the statements of each transaction, and of each [`scope`] (an HTTP request,
//! say), by their SQL text, which holds placeholders and not values. The first time one
//! statement runs more often than the threshold it logs a WARN on target
//! `txova_db::n_plus_one` with the statement and the scope, and counts
//! `txova_db_n_plus_one_total`; once per statement per scope.
//!
//! ```
//! # async fn demo() -> txova_db::Result<()> {
//! use txova_db::{Db, DbConfig, n_plus_one};
//!
//! let db = Db::connect_with(DbConfig {
//!     n_plus_one_threshold: Some(10),
//!     ..DbConfig::new("sqlite::memory:")
//! })
//! .await?;
//! n_plus_one::scope("GET /rides", async {
//!     for id in 0..20 {
//!         // The 11th run of this statement logs the warning.
//!         txova_db::query("SELECT ?").bind(id).fetch_optional(&db).await?;
//!     }
//!     Ok::<_, txova_db::Error>(())
//! })
//! .await?;
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

tokio::task_local! {
    static SCOPE: Arc<Detector>;
}

/// Runs `work` as one scope for N+1 detection: statements it runs on this task (outside
/// a transaction, which is a scope of its own) are counted together under `label`.
/// Nested scopes count separately; work spawned onto other tasks is not counted.
pub async fn scope<F: Future>(label: &'static str, work: F) -> F::Output {
    SCOPE.scope(Arc::new(Detector::new(label)), work).await
}

/// The task's innermost [`scope`], if any.
pub(crate) fn current() -> Option<Arc<Detector>> {
    SCOPE.try_with(Arc::clone).ok()
}

/// Counts statements by their text within one scope.
#[derive(Debug)]
pub(crate) struct Detector {
    label: &'static str,
    counts: Mutex<HashMap<u64, u32>>,
}

impl Detector {
    pub(crate) fn new(label: &'static str) -> Self {
        Self {
            label,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one run of `sql`; warns when the count first passes `threshold`.
    pub(crate) fn note(&self, sql: &str, backend: crate::Backend, threshold: u32) {
        let mut hasher = DefaultHasher::new();
        sql.hash(&mut hasher);
        let runs = match self.counts.lock() {
            Ok(mut counts) => {
                let runs = counts.entry(hasher.finish()).or_insert(0);
                *runs = runs.saturating_add(1);
                *runs
            }
            Err(_) => return,
        };
        if runs == threshold.saturating_add(1) {
            metrics::counter!("txova_db_n_plus_one_total").increment(1);
            tracing::warn!(
                target: "txova_db::n_plus_one",
                statement = %crate::sql::summary::redact(sql, backend),
                scope = self.label,
                threshold,
                "the same statement ran more than {threshold} times in one {}: load the rows \
                 with one query (`is_in`, a join) instead",
                self.label,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_statement() {
        let detector = Detector::new("test");
        for _ in 0..5 {
            detector.note("SELECT a FROM t WHERE id = $1", crate::Backend::Postgres, 3);
            detector.note("SELECT b FROM t WHERE id = $1", crate::Backend::Postgres, 3);
        }
        let counts = detector.counts.lock().unwrap();
        assert_eq!(counts.len(), 2);
        assert!(counts.values().all(|&runs| runs == 5));
    }
}
