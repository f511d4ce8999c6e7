//! `[cutover]`: how a cutover's gates judge the link, and how the control plane signs
//! in to the target managed instance (TDS) to verify the database there after the
//! failover and to wait for the MI's first full backup.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CutoverSettings {
    /// Consecutive SQL Server readings in which the MI's last hardened LSN must equal
    /// SQL Server's (Microsoft's cutover cmdlet compares them every 7 s).
    pub stable_readings: u32,
    /// Without the operator's confirmation that traffic stopped, how long SQL Server's
    /// end of log must stand still to count the workload as stopped.
    pub quiet_secs: u64,
    /// Without that confirmation, whether the workload also counts as stopped only
    /// when no user session is connected to the database (the application gone, not
    /// merely idle).
    pub no_user_sessions: bool,
    /// How old a reading (Azure's or SQL Server's) may be for a gate to use it.
    pub max_reading_age_secs: u64,
    /// How long a cutover waits for its gates before it stops (before the failover;
    /// the link stays, in synchronous commit, until `ferry cutover cancel`).
    pub gate_timeout_secs: u64,
    /// How often the link is read from Azure while a cutover runs.
    pub observe_interval_ms: u64,
    /// While a cutover waits for its gates, the agent is asked to read SQL Server's
    /// side at once whenever the newest reading is older than this (rather than
    /// waiting for its `link_status_interval_secs`).
    pub sql_reading_interval_ms: u64,
    /// Distinct approvers (the approver role) a cutover needs before its failover;
    /// the operator who asked for it cannot be the only one. 0: none. One by default:
    /// a production cutover is two people's decision (a lab sets its own).
    pub approvals: u32,
    /// Failovers in flight at once: in all, and from one host (0: no limit). Failovers
    /// to one MI go one at a time whatever these say.
    pub max_failovers: u32,
    pub max_failovers_per_host: u32,
    /// What the validation gate compares before the failover: "rows" (COUNT_BIG of
    /// every user table, or of `validate_tables`, on both sides) or "off" (counting a
    /// very large database takes long inside the window).
    pub validate: Validate,
    /// The tables to count, as schema.name; empty: every user table.
    pub validate_tables: Vec<String>,
    /// Allow hooks' webhooks over plain http to this host's loopback address (a lab's
    /// receiver); https only otherwise.
    pub webhook_loopback_http: bool,
    pub mi_sql: MiSqlSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validate {
    Rows,
    Off,
}

impl Default for CutoverSettings {
    fn default() -> Self {
        Self {
            stable_readings: 3,
            quiet_secs: 60,
            no_user_sessions: true,
            max_reading_age_secs: 60,
            gate_timeout_secs: 900,
            observe_interval_ms: 2000,
            sql_reading_interval_ms: 2000,
            approvals: 1,
            max_failovers: 0,
            max_failovers_per_host: 0,
            validate: Validate::Rows,
            validate_tables: Vec::new(),
            webhook_loopback_http: false,
            mi_sql: MiSqlSettings::default(),
        }
    }
}

/// The SQL login the control plane uses on target MIs (read-only checks: the
/// database's state and msdb's backup history).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MiSqlSettings {
    /// Empty: no cutover can start (Ferry would fail over without being able to
    /// verify the result).
    pub login: String,
    /// A file holding the login's password, readable by the control plane only.
    pub password_file: Option<PathBuf>,
    /// The MI's TDS port: 1433 inside its virtual network, 3342 on its public endpoint.
    pub port: u16,
    /// Addresses for MI host names this host cannot resolve (like an /etc/hosts entry).
    pub hosts: BTreeMap<String, IpAddr>,
    /// More CA certificates (PEM) to trust for the MI's TLS certificate.
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate (only for a lab).
    pub trust_server_certificate: bool,
    /// Connecting and each query.
    pub timeout_secs: u64,
}

impl Default for MiSqlSettings {
    fn default() -> Self {
        Self {
            login: String::new(),
            password_file: None,
            port: 1433,
            hosts: BTreeMap::new(),
            ca_file: None,
            trust_server_certificate: false,
            timeout_secs: 15,
        }
    }
}

impl CutoverSettings {
    /// The first field that is out of range, and what to set.
    pub fn invalid(&self) -> Option<(&'static str, &'static str)> {
        let positive = [
            ("cutover.stable_readings", u64::from(self.stable_readings)),
            ("cutover.quiet_secs", self.quiet_secs),
            ("cutover.max_reading_age_secs", self.max_reading_age_secs),
            ("cutover.gate_timeout_secs", self.gate_timeout_secs),
            ("cutover.observe_interval_ms", self.observe_interval_ms),
            (
                "cutover.sql_reading_interval_ms",
                self.sql_reading_interval_ms,
            ),
            ("cutover.mi_sql.port", u64::from(self.mi_sql.port)),
            ("cutover.mi_sql.timeout_secs", self.mi_sql.timeout_secs),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Some((field, "must be greater than zero"));
        }
        let unqualified = |t: &String| {
            t.split_once('.')
                .is_none_or(|(schema, name)| schema.is_empty() || name.is_empty())
        };
        if self.validate_tables.iter().any(unqualified) {
            return Some((
                "cutover.validate_tables",
                "name each table as schema.name, like \"dbo.Orders\"",
            ));
        }
        if !self.mi_sql.login.is_empty() && self.mi_sql.password_file.is_none() {
            return Some((
                "cutover.mi_sql.password_file",
                "give the file holding the MI login's password",
            ));
        }
        None
    }

    /// Why no cutover can start, when the MI login is not configured.
    pub fn unusable(&self) -> Option<String> {
        self.mi_sql.login.is_empty().then(|| {
            "the control plane has no SQL login for the target MI, so it could not verify the database there after the failover: set [cutover.mi_sql] login and password_file in its configuration".to_string()
        })
    }
}
