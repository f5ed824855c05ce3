//! Durations in reports as numbers of seconds (`0.000116735`), the unit Prometheus and
//! most dashboards parse, rather than humantime text (`"116us 735ns"`). Configuration
//! keeps humantime, which people write; reports are read by programs.

use std::time::Duration;

use serde::Serializer;

/// `#[serde(serialize_with = "crate::seconds::serialize")]`.
pub(crate) fn serialize<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// The same for an `Option<Duration>`: `null` for `None`.
pub(crate) fn serialize_option<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serialize(duration, serializer),
        None => serializer.serialize_none(),
    }
}
