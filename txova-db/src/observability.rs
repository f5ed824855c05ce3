//! Every metric txova-db records, with its help text and unit, in one catalogue.
//!
//! txova-db records through the [`metrics`] facade, so the numbers go to whatever
//! recorder the service installs (Prometheus, StatsD, OpenTelemetry …). A recorder
//! shows help text and units only for metrics that were *described* to it: call
//! [`describe_metrics`] once, after installing the recorder, and Prometheus' exposition
//! carries a `# HELP` line for every `txova_db_*` series (`promtool check metrics`
//! passes on it).
//!
//! ```
//! // After installing the service's recorder, e.g. PrometheusBuilder::install_recorder:
//! txova_db::observability::describe_metrics();
//!
//! let pool_wait = txova_db::observability::METRICS
//!     .iter()
//!     .find(|m| m.name == "txova_db_pool_acquire_wait_seconds")
//!     .expect("catalogued");
//! assert_eq!(pool_wait.kind, txova_db::observability::MetricKind::Histogram);
//! ```

use metrics::Unit;

/// What kind of series a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Only ever increases; its name ends in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution of observations; its name ends in its unit (`_seconds`).
    Histogram,
}

/// One metric txova-db records: its name, kind, unit, labels and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricInfo {
    /// The series name, `txova_db_…`.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The unit of its values.
    pub unit: Unit,
    /// The label keys it carries, if any.
    pub labels: &'static [&'static str],
    /// What it counts or measures: the help text a recorder shows.
    pub help: &'static str,
}

const fn metric(
    name: &'static str,
    kind: MetricKind,
    unit: Unit,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricInfo {
    MetricInfo {
        name,
        kind,
        unit,
        labels,
        help,
    }
}

use MetricKind::{Counter, Gauge, Histogram};

/// Every metric txova-db records.
pub const METRICS: &[MetricInfo] = &[
    metric(
        "txova_db_query_duration_seconds",
        Histogram,
        Unit::Seconds,
        &["backend", "operation", "outcome"],
        "Time a statement ran, after it had its connection.",
    ),
    metric(
        "txova_db_pool_acquire_wait_seconds",
        Histogram,
        Unit::Seconds,
        &["backend"],
        "Time spent waiting for a pooled connection.",
    ),
    metric(
        "txova_db_pool_acquire_timeouts_total",
        Counter,
        Unit::Count,
        &["backend"],
        "Acquires that gave up after acquire_timeout.",
    ),
    metric(
        "txova_db_pool_connections_created_total",
        Counter,
        Unit::Count,
        &["backend"],
        "Connections the pool opened.",
    ),
    metric(
        "txova_db_pool_connections",
        Gauge,
        Unit::Count,
        &["backend", "state"],
        "Pooled connections by state (idle, in_use, settling), refreshed by Db::stats.",
    ),
    metric(
        "txova_db_pool_max_connections",
        Gauge,
        Unit::Count,
        &["backend"],
        "The pool's maximum number of connections.",
    ),
    metric(
        "txova_db_pool_pending_acquires",
        Gauge,
        Unit::Count,
        &["backend"],
        "Callers waiting for a pooled connection.",
    ),
    metric(
        "txova_db_pool_statements_cancelled_total",
        Counter,
        Unit::Count,
        &["backend"],
        "Statements cancelled on the server after their caller dropped them mid-flight.",
    ),
    metric(
        "txova_db_n_plus_one_total",
        Counter,
        Unit::Count,
        &[],
        "N+1 query patterns detected and logged.",
    ),
    metric(
        "txova_db_health_status",
        Gauge,
        Unit::Count,
        &["component"],
        "A health component's status: 0 up, 1 degraded, 2 down.",
    ),
    metric(
        "txova_db_health_ping_seconds",
        Histogram,
        Unit::Seconds,
        &["component"],
        "The health check's ping round trip.",
    ),
    metric(
        "txova_db_transaction_retries_total",
        Counter,
        Unit::Count,
        &["kind"],
        "Transactions run again after a serialization failure, deadlock or lock timeout.",
    ),
    metric(
        "txova_db_cache_hits_total",
        Counter,
        Unit::Count,
        &[],
        "Cache reads that found a value or a cached absence.",
    ),
    metric(
        "txova_db_cache_misses_total",
        Counter,
        Unit::Count,
        &[],
        "Cache reads that found nothing or could not reach the store.",
    ),
    metric(
        "txova_db_cache_errors_total",
        Counter,
        Unit::Count,
        &["op"],
        "Cache operations that failed and were degraded (get, set, decode, encode, evict).",
    ),
    metric(
        "txova_db_lock_wait_seconds",
        Histogram,
        Unit::Seconds,
        &[],
        "Time from a lock's first acquire attempt to holding it.",
    ),
    metric(
        "txova_db_lock_timeouts_total",
        Counter,
        Unit::Count,
        &[],
        "Lock acquires that gave up at their deadline.",
    ),
    metric(
        "txova_db_lock_lost_total",
        Counter,
        Unit::Count,
        &[],
        "Held locks lost before they were released.",
    ),
    metric(
        "txova_db_rate_limit_rejections_total",
        Counter,
        Unit::Count,
        &["algorithm"],
        "Calls a rate limit refused.",
    ),
    metric(
        "txova_db_rate_limit_degraded_total",
        Counter,
        Unit::Count,
        &[],
        "Rate-limit checks decided by the failure mode because the store was unreachable.",
    ),
    metric(
        "txova_db_circuit_state",
        Gauge,
        Unit::Count,
        &["name"],
        "A circuit breaker's state: 0 closed, 1 half-open, 2 open.",
    ),
    metric(
        "txova_db_circuit_rejections_total",
        Counter,
        Unit::Count,
        &["name"],
        "Calls a circuit breaker refused while open.",
    ),
];

/// Describes every metric in [`METRICS`] to the installed recorder: its help text and
/// unit. Call it once, after installing the recorder (describing to none is a no-op).
pub fn describe_metrics() {
    for info in METRICS {
        match info.kind {
            Counter => metrics::describe_counter!(info.name, info.unit, info.help),
            Gauge => metrics::describe_gauge!(info.name, info.unit, info.help),
            Histogram => metrics::describe_histogram!(info.name, info.unit, info.help),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeSet;
    use std::path::Path;

    /// Every `"txova_db_…"` literal in the crate's sources, outside this file.
    fn recorded_in_source() -> BTreeSet<String> {
        fn walk(dir: &Path, found: &mut BTreeSet<String>) {
            for entry in std::fs::read_dir(dir).expect("the source directory") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("observability.rs")
                {
                    let text = std::fs::read_to_string(&path).expect("a source file");
                    for piece in text.split("\"txova_db_").skip(1) {
                        let name: String = piece
                            .chars()
                            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                            .collect();
                        if piece[name.len()..].starts_with('"') {
                            found.insert(format!("txova_db_{name}"));
                        }
                    }
                }
            }
        }
        let mut found = BTreeSet::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        found
    }

    #[test]
    fn the_catalogue_is_every_metric_the_code_records() {
        let catalogued: BTreeSet<String> = METRICS.iter().map(|m| m.name.to_owned()).collect();
        assert_eq!(
            catalogued.len(),
            METRICS.len(),
            "a name is catalogued twice"
        );
        assert_eq!(recorded_in_source(), catalogued);
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        for info in METRICS {
            match info.kind {
                Counter => assert!(info.name.ends_with("_total"), "{}", info.name),
                Gauge => assert!(!info.name.ends_with("_total"), "{}", info.name),
                Histogram => {
                    assert!(info.name.ends_with("_seconds"), "{}", info.name);
                    assert_eq!(info.unit, Unit::Seconds, "{}", info.name);
                }
            }
            assert!(info.help.ends_with('.'), "{}", info.name);
        }
    }

    #[test]
    fn readme_lists_every_metric() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## Metrics")
            .nth(1)
            .expect("README has a Metrics section");
        let listed: BTreeSet<&str> = section
            .lines()
            .take_while(|line| !line.starts_with("## "))
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split('`').next())
            .collect();
        let catalogued: BTreeSet<&str> = METRICS.iter().map(|m| m.name).collect();
        assert_eq!(listed, catalogued);
    }
}
