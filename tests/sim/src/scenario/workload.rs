//! A database's workload: the steady load it carries while the lab runs. It advances
//! the log (LSNs, log space), the performance counters and the file I/O statistics.
//! A running lab can change it ([`crate::Lab::set_workload`]), for example to stop the
//! application before a cutover.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Log generated, bytes per second (`Log Bytes Flushed/sec`).
    #[serde(default)]
    pub log_bytes_per_sec: f64,
    /// Committed transactions per second (`Transactions/sec`); each commit flushes the log.
    #[serde(default)]
    pub transactions_per_sec: f64,
    /// Data file reads per second, 8 KB pages each.
    #[serde(default)]
    pub reads_per_sec: f64,
    /// Data file writes per second, 8 KB pages each.
    #[serde(default)]
    pub writes_per_sec: f64,
    /// Average I/O latency, milliseconds (stall per read or write).
    #[serde(default = "default_latency")]
    pub io_latency_ms: f64,
    /// Application sessions connected to the database (`sys.dm_exec_sessions`).
    #[serde(default)]
    pub sessions: u32,
}

impl Default for WorkloadSpec {
    /// No load: an idle database.
    fn default() -> Self {
        WorkloadSpec {
            log_bytes_per_sec: 0.0,
            transactions_per_sec: 0.0,
            reads_per_sec: 0.0,
            writes_per_sec: 0.0,
            io_latency_ms: default_latency(),
            sessions: 0,
        }
    }
}

impl WorkloadSpec {
    pub fn is_idle(&self) -> bool {
        self.log_bytes_per_sec == 0.0
            && self.transactions_per_sec == 0.0
            && self.reads_per_sec == 0.0
            && self.writes_per_sec == 0.0
            && self.sessions == 0
    }

    /// The rates must be finite and not negative; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (field, value) in [
            ("log_bytes_per_sec", self.log_bytes_per_sec),
            ("transactions_per_sec", self.transactions_per_sec),
            ("reads_per_sec", self.reads_per_sec),
            ("writes_per_sec", self.writes_per_sec),
            ("io_latency_ms", self.io_latency_ms),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(format!(
                    "workload.{field}: {value} is not a rate (a number >= 0)"
                ));
            }
        }
        Ok(())
    }
}

fn default_latency() -> f64 {
    2.0
}
