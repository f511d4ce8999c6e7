//! The fleet's metrics, on the global OpenTelemetry meter (exported when OTLP is
//! configured, free otherwise): connected sessions, heartbeats, reports, enrollments.

use std::sync::Arc;

use opentelemetry::metrics::{Counter, ObservableGauge};
use opentelemetry::KeyValue;

use super::sessions::SessionRegistry;

pub struct FleetMetrics {
    pub heartbeats: Counter<u64>,
    pub reports: Counter<u64>,
    pub enrollments: Counter<u64>,
    _sessions: ObservableGauge<u64>,
}

impl FleetMetrics {
    pub fn new(sessions: Arc<SessionRegistry>) -> Self {
        let meter = opentelemetry::global::meter("ferry-control");
        Self {
            heartbeats: meter
                .u64_counter("ferry.agent.heartbeats")
                .with_description("Heartbeats received from agents")
                .build(),
            reports: meter
                .u64_counter("ferry.agent.reports")
                .with_description("Reports stored, by kind")
                .build(),
            enrollments: meter
                .u64_counter("ferry.agent.enrollments")
                .with_description("Enrollment attempts, by outcome")
                .build(),
            _sessions: meter
                .u64_observable_gauge("ferry.agent.sessions")
                .with_description("Agent sessions connected to this replica")
                .with_callback(move |observer| observer.observe(sessions.connected() as u64, &[]))
                .build(),
        }
    }

    pub fn enrollment(&self, outcome: &'static str) {
        self.enrollments
            .add(1, &[KeyValue::new("outcome", outcome)]);
    }
}
