//! What every statement leaves behind: a `tracing` span with OpenTelemetry's database
//! attributes, the latency histogram, the slow-query warning and the N+1 count.
//!
//! The span (target `txova_db::query`, name `db.query`) covers waiting for a connection
//! and running the statement. Its attributes follow the OpenTelemetry semantic
//! conventions for database client spans: `db.system.name`, `db.namespace`,
//! `db.operation.name`, `db.collection.name`, `db.query.text` (placeholders, never
//! values; inline literals of raw SQL become `?`), `server.address`, `server.port`,
//! `db.response.returned_rows`, `db.response.status_code` (the SQLSTATE), `error.type`,
//! plus `otel.name` (`SELECT users`), `otel.kind` and `otel.status_code` as
//! `tracing-opentelemetry` reads them. With no subscriber interested the span is never
//! built and only the metric is recorded.

use std::future::Future;
use std::time::{Duration, Instant};

use metrics::Key;
use tracing::Span;
use tracing::field::Empty;

use super::Db;
use super::ambient::AmbientTx;
use crate::error::{Backend, Error};
use crate::row::Row;
use crate::sql::summary::{self, redact};

/// Where the statements go, as OpenTelemetry names it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Peer {
    pub(crate) address: Option<String>,
    pub(crate) port: Option<u16>,
    /// The database name, or the SQLite file.
    pub(crate) namespace: Option<String>,
}

/// OpenTelemetry's `db.system.name` for a backend.
pub(crate) fn system_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgresql",
        Backend::Sqlite => "sqlite",
        Backend::MySql => "mysql",
    }
}

/// A metric key whose name and labels are literals, built at compile time: a key
/// built per call collects its labels in a `Vec` and hashes them, which cost as much
/// as the rest of observing a statement.
macro_rules! static_key {
    ($name:literal $(, $label:literal => $value:literal)+ $(,)?) => {{
        static LABELS: &[metrics::Label] = &[$(metrics::Label::from_static_parts($label, $value)),+];
        static KEY: metrics::Key = metrics::Key::from_static_parts($name, LABELS);
        &KEY
    }};
}

pub(crate) use static_key;

/// Records `$value` in the histogram `$key` (a `&'static metrics::Key`) with the
/// recorder installed, as `metrics::histogram!` at this call site would.
macro_rules! record_histogram {
    ($key:expr, $value:expr) => {{
        static METADATA: metrics::Metadata<'static> =
            metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));
        metrics::with_recorder(|recorder| recorder.register_histogram($key, &METADATA))
            .record($value)
    }};
}

pub(crate) use record_histogram;

/// `txova_db_query_duration_seconds`'s key for one statement's backend
/// ([`system_name`]), [`Operation`](summary::Operation) and outcome (`ok` or `error`).
fn query_duration_key(backend: Backend, operation: summary::Operation, ok: bool) -> &'static Key {
    use summary::Operation;
    macro_rules! by_outcome {
        ($backend:literal, $operation:literal) => {
            if ok {
                static_key!("txova_db_query_duration_seconds", "backend" => $backend, "operation" => $operation, "outcome" => "ok")
            } else {
                static_key!("txova_db_query_duration_seconds", "backend" => $backend, "operation" => $operation, "outcome" => "error")
            }
        };
    }
    macro_rules! by_operation {
        ($backend:literal) => {
            match operation {
                Operation::Select => by_outcome!($backend, "select"),
                Operation::Insert => by_outcome!($backend, "insert"),
                Operation::Update => by_outcome!($backend, "update"),
                Operation::Delete => by_outcome!($backend, "delete"),
                Operation::Other => by_outcome!($backend, "other"),
            }
        };
    }
    match backend {
        Backend::Postgres => by_operation!("postgresql"),
        Backend::Sqlite => by_operation!("sqlite"),
        Backend::MySql => by_operation!("mysql"),
    }
}

/// How many rows a statement's result holds, for `db.response.returned_rows`.
pub(crate) trait ReturnedRows {
    fn returned_rows(&self) -> Option<usize>;
}

impl ReturnedRows for u64 {
    fn returned_rows(&self) -> Option<usize> {
        None
    }
}

impl ReturnedRows for crate::executor::ExecuteResult {
    fn returned_rows(&self) -> Option<usize> {
        None
    }
}

impl ReturnedRows for () {
    fn returned_rows(&self) -> Option<usize> {
        None
    }
}

/// A streamed fetch: how many rows went to the caller, unless the caller stopped it.
impl ReturnedRows for Result<usize, Error> {
    fn returned_rows(&self) -> Option<usize> {
        self.as_ref().ok().copied()
    }
}

impl ReturnedRows for Vec<u8> {
    fn returned_rows(&self) -> Option<usize> {
        None
    }
}

impl ReturnedRows for Vec<Row> {
    fn returned_rows(&self) -> Option<usize> {
        Some(self.len())
    }
}

impl ReturnedRows for Option<Row> {
    fn returned_rows(&self) -> Option<usize> {
        Some(usize::from(self.is_some()))
    }
}

impl Db {
    /// The span one statement runs in; disabled (and free) when no subscriber wants it.
    pub(crate) fn statement_span(&self, sql: &str) -> Span {
        let span = tracing::info_span!(
            target: "txova_db::query",
            "db.query",
            otel.name = Empty,
            otel.kind = "client",
            otel.status_code = Empty,
            db.system.name = system_name(self.backend()),
            db.namespace = Empty,
            db.operation.name = Empty,
            db.collection.name = Empty,
            db.query.text = Empty,
            db.response.returned_rows = Empty,
            db.response.status_code = Empty,
            server.address = Empty,
            server.port = Empty,
            error.type = Empty,
        );
        if span.is_disabled() {
            return span;
        }
        let statement = summary::summarize(sql);
        match statement.collection {
            Some(table) => span.record(
                "otel.name",
                tracing::field::display(format_args!("{} {table}", statement.keyword)),
            ),
            None => span.record("otel.name", statement.keyword),
        };
        span.record("db.operation.name", statement.keyword);
        if let Some(table) = statement.collection {
            span.record("db.collection.name", table);
        }
        span.record("db.query.text", redact(sql, self.backend()).as_ref());
        let peer = &self.inner.peer;
        if let Some(namespace) = &peer.namespace {
            span.record("db.namespace", namespace.as_str());
        }
        if let Some(address) = &peer.address {
            span.record("server.address", address.as_str());
        }
        if let Some(port) = peer.port {
            span.record("server.port", port);
        }
        span
    }

    /// Runs a statement that does not go through the pooled path (BEGIN, COMMIT,
    /// ROLLBACK, SAVEPOINT) in its span, and observes it like any other.
    pub(crate) async fn observed<T>(
        &self,
        sql: &str,
        statement: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, Error> {
        use tracing::Instrument as _;
        let span = self.statement_span(sql);
        let started = Instant::now();
        let result = statement
            .instrument(span.clone())
            .await
            .map_err(|e| self.error(e));
        let outcome = result.as_ref().map(|_| None);
        self.observe(&span, sql, started.elapsed(), outcome, None);
        result
    }

    /// Records a finished statement: the latency histogram, the span's outcome, the
    /// slow-query warning and, inside a transaction or scope, the N+1 count.
    /// `outcome` is the rows returned, where the statement returns rows, or the error.
    pub(crate) fn observe(
        &self,
        span: &Span,
        sql: &str,
        elapsed: Duration,
        outcome: Result<Option<usize>, &Error>,
        tx: Option<&AmbientTx>,
    ) {
        crate::testing::record(
            sql,
            self.backend(),
            elapsed,
            outcome.as_ref().ok().copied().flatten(),
            outcome.as_ref().err().map(|err| err.kind()),
            tx.is_some(),
        );
        let (_, operation) = summary::operation(sql);
        let key = query_duration_key(self.backend(), operation, outcome.is_ok());
        record_histogram!(key, elapsed.as_secs_f64());

        if !span.is_disabled() {
            match outcome {
                Ok(rows) => {
                    if let Some(rows) = rows {
                        span.record("db.response.returned_rows", rows);
                    }
                }
                Err(err) => {
                    span.record("otel.status_code", "ERROR");
                    span.record("error.type", tracing::field::debug(err.kind()));
                    if let Some(code) = err.code() {
                        span.record("db.response.status_code", code);
                    }
                }
            }
        }

        let config = &self.inner.config;
        if let Some(threshold) = config.slow_query_threshold
            && elapsed >= threshold
        {
            tracing::warn!(
                target: "txova_db::slow_query",
                statement = %redact(sql, self.backend()),
                elapsed_ms = elapsed.as_secs_f64() * 1e3,
                threshold_ms = threshold.as_secs_f64() * 1e3,
                "slow query"
            );
        }

        if let Some(threshold) = config.n_plus_one_threshold {
            match tx {
                Some(tx) => tx.statements().note(sql, self.backend(), threshold),
                None => {
                    if let Some(scope) = crate::n_plus_one::current() {
                        scope.note(sql, self.backend(), threshold);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::summary::Operation;

    fn labels(key: &Key) -> Vec<(&str, &str)> {
        key.labels().map(|l| (l.key(), l.value())).collect()
    }

    #[test]
    fn every_statement_is_recorded_under_its_own_labels() {
        let operations = [
            (Operation::Select, "select"),
            (Operation::Insert, "insert"),
            (Operation::Update, "update"),
            (Operation::Delete, "delete"),
            (Operation::Other, "other"),
        ];
        for backend in [Backend::Postgres, Backend::Sqlite, Backend::MySql] {
            for (operation, label) in operations {
                for (ok, outcome) in [(true, "ok"), (false, "error")] {
                    let key = query_duration_key(backend, operation, ok);
                    assert_eq!(key.name(), "txova_db_query_duration_seconds");
                    assert_eq!(
                        labels(key),
                        [
                            ("backend", system_name(backend)),
                            ("operation", label),
                            ("outcome", outcome)
                        ]
                    );
                }
            }
        }
    }
}
