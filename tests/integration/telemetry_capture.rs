//! What a test needs to see txova-db's telemetry: a `tracing` subscriber that keeps
//! every span's fields and every event, and a `metrics` recorder that keeps every
//! value. Both are installed for the current thread only (the tests run on tokio's
//! current-thread runtime), so tests running in parallel do not see each other's.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};

pub type Fields = BTreeMap<String, String>;

#[derive(Debug, Clone)]
pub struct CapturedSpan {
    pub name: String,
    pub target: String,
    pub fields: Fields,
}

#[derive(Debug, Clone)]
pub struct CapturedEvent {
    pub target: String,
    pub level: Level,
    pub fields: Fields,
}

/// Keeps spans and events; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Traces {
    spans: Arc<Mutex<Vec<CapturedSpan>>>,
    events: Arc<Mutex<Vec<CapturedEvent>>>,
}

impl Traces {
    /// Captures on this thread until the guard drops.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.clone())
    }

    pub fn spans(&self, name: &str) -> Vec<CapturedSpan> {
        let spans = self.spans.lock().unwrap();
        spans.iter().filter(|s| s.name == name).cloned().collect()
    }

    /// Every span and event captured, as text: for checking what must never appear.
    pub fn everything(&self) -> String {
        let spans = self.spans.lock().unwrap();
        let events = self.events.lock().unwrap();
        format!("{spans:?}\n{events:?}")
    }

    /// The targets of every event captured.
    pub fn event_targets(&self) -> Vec<String> {
        let events = self.events.lock().unwrap();
        events.iter().map(|e| e.target.clone()).collect()
    }

    pub fn events(&self, target: &str) -> Vec<CapturedEvent> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| e.target == target)
            .cloned()
            .collect()
    }
}

struct FieldWriter<'a>(&'a mut Fields);

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for Traces {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::new();
        span.record(&mut FieldWriter(&mut fields));
        let mut spans = self.spans.lock().unwrap();
        spans.push(CapturedSpan {
            name: span.metadata().name().to_owned(),
            target: span.metadata().target().to_owned(),
            fields,
        });
        Id::from_u64(spans.len() as u64)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.spans.lock().unwrap();
        let index = usize::try_from(span.into_u64()).unwrap() - 1;
        values.record(&mut FieldWriter(&mut spans[index].fields));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::new();
        event.record(&mut FieldWriter(&mut fields));
        self.events.lock().unwrap().push(CapturedEvent {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields,
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// One recorded series: a counter's total, a gauge's last value, a histogram's values.
#[derive(Default)]
struct Series {
    counter: AtomicU64,
    values: Mutex<Vec<f64>>,
}

impl metrics::CounterFn for Series {
    fn increment(&self, value: u64) {
        self.counter.fetch_add(value, Ordering::Relaxed);
    }

    fn absolute(&self, value: u64) {
        self.counter.fetch_max(value, Ordering::Relaxed);
    }
}

impl metrics::GaugeFn for Series {
    fn increment(&self, value: f64) {
        let mut values = self.values.lock().unwrap();
        let last = values.last().copied().unwrap_or(0.0);
        values.push(last + value);
    }

    fn decrement(&self, value: f64) {
        metrics::GaugeFn::increment(self, -value);
    }

    fn set(&self, value: f64) {
        self.values.lock().unwrap().push(value);
    }
}

impl metrics::HistogramFn for Series {
    fn record(&self, value: f64) {
        self.values.lock().unwrap().push(value);
    }
}

/// Keeps every metric by `name{label=value,…}` (labels sorted).
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<String, Arc<Series>>>,
}

impl Metrics {
    fn series(&self, key: &Key) -> Arc<Series> {
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        self.series.lock().unwrap().entry(name).or_default().clone()
    }

    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<Arc<Series>> {
        let series = self.series.lock().unwrap();
        series
            .iter()
            .filter(|(key, _)| {
                key.split('{').next() == Some(name)
                    && labels
                        .iter()
                        .all(|(k, v)| key.contains(&format!("{k}={v}")))
            })
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// The sum of the counters named `name` whose labels include `labels`.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let found = self.find(name, labels);
        found
            .iter()
            .map(|s| s.counter.load(Ordering::Relaxed))
            .sum()
    }

    /// Every value recorded into the histograms (or set on the gauges) named `name`
    /// whose labels include `labels`.
    pub fn values(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        let found = self.find(name, labels);
        found
            .iter()
            .flat_map(|s| s.values.lock().unwrap().clone())
            .collect()
    }

    /// The names of every series, for failure messages.
    pub fn keys(&self) -> Vec<String> {
        self.series.lock().unwrap().keys().cloned().collect()
    }
}

impl Recorder for Metrics {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.series(key))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.series(key))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.series(key))
    }
}
