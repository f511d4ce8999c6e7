//! The fleet's metrics counted as things happen, on the global OpenTelemetry meter
//! (scraped or exported when configured, free otherwise): connected sessions,
//! heartbeats, reports, enrollments, each connected agent's outbox backlog (only
//! agents with one, so the series stay few), and what the agents' heartbeats say of
//! their health, summarised ([`super::vitals`]): the heaviest agent's memory and CPU,
//! and the SQL errors they counted.

use std::sync::{Arc, Mutex};

use ferry_proto::agent::v1::Heartbeat;
use opentelemetry::metrics::{Counter, Histogram, ObservableGauge};
use opentelemetry::KeyValue;

use super::identity::AgentId;
use super::sessions::SessionRegistry;
use super::vitals::Vitals;

pub struct FleetMetrics {
    heartbeats: Counter<u64>,
    pub reports: Counter<u64>,
    pub enrollments: Counter<u64>,
    /// From a report's production on its host to its storing here (host clocks may
    /// differ from this one; negative lags count as zero).
    pub report_lag: Histogram<f64>,
    heartbeat_latency: Histogram<f64>,
    sql_errors: Counter<u64>,
    vitals: Arc<Mutex<Vitals>>,
    _sessions: ObservableGauge<u64>,
    _backlogs: ObservableGauge<u64>,
    _memory: ObservableGauge<u64>,
    _cpu: ObservableGauge<f64>,
}

impl FleetMetrics {
    pub fn new(sessions: Arc<SessionRegistry>) -> Self {
        let meter = opentelemetry::global::meter("ferry-control");
        let vitals: Arc<Mutex<Vitals>> = Arc::default();
        let summary = {
            let vitals = vitals.clone();
            move || vitals.lock().unwrap_or_else(|p| p.into_inner()).summary()
        };
        let (backlogs, memory, cpu) = (summary.clone(), summary.clone(), summary);
        let metrics = Self {
            heartbeat_latency: meter
                .f64_histogram("ferry.agent.heartbeat.latency")
                .with_unit("s")
                .with_description("Heartbeat round trips as the agents measured them (sent to acknowledged)")
                .with_boundaries(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
                .build(),
            report_lag: meter
                .f64_histogram("ferry.agent.report.lag")
                .with_unit("s")
                .with_description("From a report's production on its host to its storing, by kind (an outbox backlog shows here)")
                .with_boundaries(vec![0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0])
                .build(),
            vitals,
            _backlogs: meter
                .u64_observable_gauge("ferry.agent.outbox.reports")
                .with_unit("{report}")
                .with_description("Reports waiting in a connected agent's outbox, as its last heartbeat said (agents with none are not listed)")
                .with_callback(move |observer| {
                    for (agent, n) in backlogs().backlogs {
                        observer.observe(u64::from(n), &[KeyValue::new("agent", agent.to_string())]);
                    }
                })
                .build(),
            _memory: meter
                .u64_observable_gauge("ferry.agent.memory.usage.max")
                .with_unit("By")
                .with_description("The largest resident memory among the agents connected to this replica, as their heartbeats said")
                .with_callback(move |observer| {
                    if let Some(bytes) = memory().max_resident_bytes {
                        observer.observe(bytes, &[]);
                    }
                })
                .build(),
            _cpu: meter
                .f64_observable_gauge("ferry.agent.cpu.utilization.max")
                .with_unit("1")
                .with_description("The busiest connected agent's CPU use between its two last heartbeats, as a fraction of one core")
                .with_callback(move |observer| {
                    if let Some(used) = cpu().max_cpu_utilization {
                        observer.observe(used, &[]);
                    }
                })
                .build(),
            sql_errors: meter
                .u64_counter("ferry.agent.sql.errors.reported")
                .with_unit("{error}")
                .with_description("Failed SQL Server queries and connections the agents counted, as their heartbeats said")
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
        };
        // Shown at zero from the start, not only after an agent's first error.
        metrics.sql_errors.add(0, &[]);
        metrics
    }

    /// `agent`'s heartbeat, received at `now_ms`.
    pub fn heartbeat(&self, agent: AgentId, beat: &Heartbeat, now_ms: i64) {
        self.heartbeats.add(1, &[]);
        if beat.round_trip_us > 0 {
            self.heartbeat_latency
                .record(f64::from(beat.round_trip_us) / 1e6, &[]);
        }
        let new_errors = self
            .vitals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .heartbeat(agent, beat, now_ms);
        self.sql_errors.add(new_errors, &[]);
    }

    /// `agent`'s session on this replica ended: its vitals leave the summary.
    pub fn session_ended(&self, agent: AgentId) {
        self.vitals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ended(agent);
    }

    pub fn enrollment(&self, outcome: &'static str) {
        self.enrollments
            .add(1, &[KeyValue::new("outcome", outcome)]);
    }
}
