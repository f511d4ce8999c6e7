//! The agent's own metrics, on the global OpenTelemetry meter: exported over OTLP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the collector in deploy/observability), free
//! otherwise. Its memory and CPU time (read from /proc/self on Linux; absent
//! elsewhere), every SQL query's and connection's duration by instance, query name and
//! outcome, the failed ones by SQL Server's error number,
//! every command's duration by kind and outcome, and its outbox backlog (the control
//! plane also shows it, from the heartbeats, with the agent's [`vitals`]). Every label
//! takes a fixed set of values.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::metrics::{Counter, Histogram, ObservableCounter, ObservableGauge};
use opentelemetry::KeyValue;

struct Instruments {
    sql: Histogram<f64>,
    sql_errors: Counter<u64>,
    commands: Histogram<f64>,
}

fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = opentelemetry::global::meter("ferry-agent");
        let seconds = vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0];
        Instruments {
            sql: meter
                .f64_histogram("ferry.agent.sql.duration")
                .with_unit("s")
                .with_description("SQL Server queries and connections, by instance, query name and outcome (ok, timeout, server_error, connect_error, error)")
                .with_boundaries(seconds.clone())
                .build(),
            sql_errors: meter
                .u64_counter("ferry.agent.sql.errors")
                .with_unit("{error}")
                .with_description("Failed SQL Server queries and connections, by instance, query name and error (SQL Server's error number; timeout, connect, other)")
                .build(),
            commands: meter
                .f64_histogram("ferry.agent.command.duration")
                .with_unit("s")
                .with_description("Commands from the control plane, by kind and outcome (ok, failed)")
                .with_boundaries(seconds)
                .build(),
        }
    })
}

/// SQL Server queries and connections failed since the agent started (for
/// [`vitals`]).
static SQL_ERRORS: AtomicU64 = AtomicU64::new(0);

/// What the heartbeat carries of the agent's own health, for fleets without a
/// collector.
pub struct Vitals {
    pub resident_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub sql_errors: u64,
}

pub fn vitals() -> Vitals {
    Vitals {
        resident_bytes: resident_bytes(),
        cpu_seconds: cpu_seconds(),
        sql_errors: SQL_ERRORS.load(Ordering::Relaxed),
    }
}

/// How a query or connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlOutcome {
    Ok,
    Timeout,
    /// SQL Server answered with this error number.
    Server(u32),
    Connect,
    Other,
}

impl SqlOutcome {
    fn as_str(self) -> &'static str {
        match self {
            SqlOutcome::Ok => "ok",
            SqlOutcome::Timeout => "timeout",
            SqlOutcome::Server(_) => "server_error",
            SqlOutcome::Connect => "connect_error",
            SqlOutcome::Other => "error",
        }
    }

    /// The error's label: SQL Server's number (a documented, bounded set), or its kind.
    fn error_type(self) -> Option<String> {
        match self {
            SqlOutcome::Ok => None,
            SqlOutcome::Server(number) => Some(number.to_string()),
            SqlOutcome::Timeout => Some("timeout".into()),
            SqlOutcome::Connect => Some("connect".into()),
            SqlOutcome::Other => Some("other".into()),
        }
    }
}

/// One query (or connection) named `query` on `instance` (its configured name, a
/// fixed set per host) ended as `outcome` after `took`.
pub fn sql((instance, query): (&str, &str), outcome: SqlOutcome, took: Duration) {
    // A connection's name carries its address: counted under one name.
    let query = if query.starts_with("connecting to ") {
        "connect"
    } else {
        query
    };
    let labels = [
        KeyValue::new("instance", instance.to_string()),
        KeyValue::new("query", query.to_string()),
    ];
    let m = instruments();
    if outcome != SqlOutcome::Ok {
        SQL_ERRORS.fetch_add(1, Ordering::Relaxed);
    }
    let mut with_outcome = labels.to_vec();
    with_outcome.push(KeyValue::new("outcome", outcome.as_str()));
    m.sql.record(took.as_secs_f64(), &with_outcome);
    if let Some(error) = outcome.error_type() {
        let mut with_error = labels.to_vec();
        with_error.push(KeyValue::new("error.type", error));
        m.sql_errors.add(1, &with_error);
    }
}

/// One command of `kind` ended (`ok` or not) after `took`.
pub fn command(kind: &'static str, ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "failed" };
    instruments().commands.record(
        took.as_secs_f64(),
        &[
            KeyValue::new("kind", kind),
            KeyValue::new("outcome", outcome),
        ],
    );
}

/// The process's gauges; keep it alive for as long as the agent runs.
pub struct ProcessMetrics {
    backlog: Arc<AtomicU64>,
    _memory: ObservableGauge<u64>,
    _cpu: ObservableCounter<f64>,
    _backlog: ObservableGauge<u64>,
}

impl ProcessMetrics {
    pub fn register() -> Self {
        let meter = opentelemetry::global::meter("ferry-agent");
        let backlog = Arc::new(AtomicU64::new(0));
        let read = backlog.clone();
        Self {
            backlog,
            _memory: meter
                .u64_observable_gauge("process.memory.usage")
                .with_unit("By")
                .with_description("The agent's resident memory")
                .with_callback(|o| {
                    if let Some(rss) = resident_bytes() {
                        o.observe(rss, &[]);
                    }
                })
                .build(),
            _cpu: meter
                .f64_observable_counter("process.cpu.time")
                .with_unit("s")
                .with_description("CPU time the agent has used (user and system)")
                .with_callback(|o| {
                    if let Some(cpu) = cpu_seconds() {
                        o.observe(cpu, &[]);
                    }
                })
                .build(),
            _backlog: meter
                .u64_observable_gauge("ferry.agent.outbox.reports")
                .with_unit("{report}")
                .with_description("Reports in the agent's outbox not yet acknowledged")
                .with_callback(move |o| o.observe(read.load(Ordering::Relaxed), &[]))
                .build(),
        }
    }

    /// The outbox's backlog as last counted.
    pub fn backlog(&self, reports: u64) {
        self.backlog.store(reports, Ordering::Relaxed);
    }
}

/// Resident set size from /proc/self/statm (pages × page size; 4 KiB pages assumed
/// where the page size cannot be asked without libc).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// User and system CPU seconds from /proc/self/stat (clock ticks of 1/100 s, Linux's
/// USER_HZ).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces), from its closing paren.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (utime, stime): (u64, u64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
    Some((utime + stime) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn the_process_reads_its_memory_and_cpu() {
        assert!(resident_bytes().is_some_and(|rss| rss > 1024 * 1024));
        assert!(cpu_seconds().is_some_and(|cpu| cpu >= 0.0));
    }
}
