//! ARM's metrics: every request by method, status and ARM error code (a bounded set
//! ARM documents; `none` on success), its duration, and calls held back by ARM's own
//! Retry-After (`ferry.azure.paced`), and the tokens fetched from Entra ID
//! (`ferry.azure.token.refreshes`).

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::KeyValue;

struct ArmMetrics {
    requests: Counter<u64>,
    duration: Histogram<f64>,
    paced: Counter<u64>,
    tokens: Counter<u64>,
}

fn metrics() -> &'static ArmMetrics {
    static METRICS: OnceLock<ArmMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = opentelemetry::global::meter("ferry-control");
        let metrics = ArmMetrics {
            requests: meter
                .u64_counter("ferry.azure.requests")
                .with_unit("{request}")
                .with_description(
                    "ARM requests by method, HTTP status (0: no answer) and ARM error code",
                )
                .build(),
            duration: meter
                .f64_histogram("ferry.azure.request.duration")
                .with_unit("s")
                .with_description("How long ARM requests took, by method")
                .with_boundaries(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
                .build(),
            paced: meter
                .u64_counter("ferry.azure.paced")
                .with_unit("{request}")
                .with_description("ARM calls not made because ARM's Retry-After still held")
                .build(),
            tokens: meter
                .u64_counter("ferry.azure.token.refreshes")
                .with_unit("{token}")
                .with_description("Access tokens fetched from Entra ID, by outcome (ok, failed)")
                .build(),
        };
        // Shown at zero from the first request on, not only once ARM throttles.
        metrics.paced.add(0, &[]);
        metrics
    })
}

/// One request answered (`status` 0 when no answer came) after `took`.
pub fn request(method: &str, status: u16, code: &str, took: Duration) {
    let m = metrics();
    // ARM's codes are a documented, bounded set; whatever else comes is clipped.
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(64)
        .collect();
    let code = if code.is_empty() {
        "none".to_string()
    } else {
        code
    };
    let method = KeyValue::new("http.request.method", method.to_string());
    m.requests.add(
        1,
        &[
            method.clone(),
            KeyValue::new("http.response.status_code", i64::from(status)),
            KeyValue::new("error.type", code),
        ],
    );
    m.duration.record(took.as_secs_f64(), &[method]);
}

/// One token fetched from Entra ID (`ok`), or a failed attempt.
pub fn token_refresh(ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    metrics()
        .tokens
        .add(1, &[KeyValue::new("outcome", outcome)]);
}

/// One call held back by Retry-After.
pub fn paced() {
    metrics().paced.add(1, &[]);
}
