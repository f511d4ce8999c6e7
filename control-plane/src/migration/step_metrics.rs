//! How long the journal's steps take (`ferry.migration.step.duration`, seconds), by
//! step name and how it ended (done, failed, blocked, skipped): the failover's and the
//! verification's durations among them. Step names are the journal's, a fixed set.

use std::sync::OnceLock;

use opentelemetry::metrics::Histogram;
use opentelemetry::KeyValue;

use super::StepState;

/// Step `name` ended as `state` after `duration_ms` (None when it never started).
pub fn finished(name: &str, state: StepState, duration_ms: Option<i64>) {
    static DURATION: OnceLock<Histogram<f64>> = OnceLock::new();
    let Some(duration_ms) = duration_ms else {
        return;
    };
    let histogram = DURATION.get_or_init(|| {
        opentelemetry::global::meter("ferry-control")
            .f64_histogram("ferry.migration.step.duration")
            .with_unit("s")
            .with_description("How long migration steps took, by step and outcome")
            .with_boundaries(vec![
                0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0,
            ])
            .build()
    });
    histogram.record(
        duration_ms.max(0) as f64 / 1000.0,
        &[
            KeyValue::new("step", name.to_string()),
            KeyValue::new("outcome", state.as_str()),
        ],
    );
}
