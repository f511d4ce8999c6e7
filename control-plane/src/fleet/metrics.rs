//! The fleet's metrics counted as things happen, on the global OpenTelemetry meter
//! (scraped or exported when configured, free otherwise): connected sessions,
//! heartbeats, reports, enrollments, and each connected agent's outbox backlog (only
//! agents with one, so the series stay few).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use opentelemetry::metrics::{Counter, Histogram, ObservableGauge};
use opentelemetry::KeyValue;

use super::identity::AgentId;
use super::sessions::SessionRegistry;

pub struct FleetMetrics {
    pub heartbeats: Counter<u64>,
    pub reports: Counter<u64>,
    pub enrollments: Counter<u64>,
    /// From a report's production on its host to its storing here (host clocks may
    /// differ from this one; negative lags count as zero).
    pub report_lag: Histogram<f64>,
    backlogs: Arc<Mutex<HashMap<AgentId, u32>>>,
    _sessions: ObservableGauge<u64>,
    _backlogs: ObservableGauge<u64>,
}

impl FleetMetrics {
    pub fn new(sessions: Arc<SessionRegistry>) -> Self {
        let meter = opentelemetry::global::meter("ferry-control");
        let backlogs: Arc<Mutex<HashMap<AgentId, u32>>> = Arc::default();
        let read = backlogs.clone();
        Self {
            report_lag: meter
                .f64_histogram("ferry.agent.report.lag")
                .with_unit("s")
                .with_description("From a report's production on its host to its storing, by kind (an outbox backlog shows here)")
                .with_boundaries(vec![0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0])
                .build(),
            backlogs,
            _backlogs: meter
                .u64_observable_gauge("ferry.agent.outbox.reports")
                .with_unit("{report}")
                .with_description("Reports waiting in a connected agent's outbox, as its last heartbeat said (agents with none are not listed)")
                .with_callback(move |observer| {
                    let backlogs = read.lock().unwrap_or_else(|p| p.into_inner());
                    for (agent, n) in backlogs.iter() {
                        observer.observe(u64::from(*n), &[KeyValue::new("agent", agent.to_string())]);
                    }
                })
                .build(),
            heartbeats: meter
                .u64_counter("ferry.agent.heartbeats")
                .with_unit("{heartbeat}")
                .with_description("Heartbeats received from agents")
                .build(),
            reports: meter
                .u64_counter("ferry.agent.reports")
                .with_unit("{report}")
                .with_description("Reports stored, by kind")
                .build(),
            enrollments: meter
                .u64_counter("ferry.agent.enrollments")
                .with_unit("{enrollment}")
                .with_description("Enrollment attempts, by outcome")
                .build(),
            _sessions: meter
                .u64_observable_gauge("ferry.agent.sessions")
                .with_unit("{session}")
                .with_description("Agent sessions connected to this replica")
                .with_callback(move |observer| observer.observe(sessions.connected() as u64, &[]))
                .build(),
        }
    }

    /// `agent`'s outbox backlog as its heartbeat said; 0 also when its session ends.
    pub fn backlog(&self, agent: AgentId, reports: u32) {
        let mut backlogs = self.backlogs.lock().unwrap_or_else(|p| p.into_inner());
        if reports == 0 {
            backlogs.remove(&agent);
        } else {
            backlogs.insert(agent, reports);
        }
    }

    pub fn enrollment(&self, outcome: &'static str) {
        self.enrollments
            .add(1, &[KeyValue::new("outcome", outcome)]);
    }
}
