//! The gates a cutover's failover waits for. Each is a pure function of what was
//! recorded — the link's newest observation (Azure's view with SQL Server's, and how
//! their LSNs moved across readings, [`Steady`]), the operator's intent, when the
//! commit mode was switched — and comes with its evidence (values and when they were
//! read) and, when closed, why and what would open it:
//!
//! - `workload`: the operator confirmed traffic stopped, or SQL Server's end of log
//!   stood still for `quiet_secs` and (`no_user_sessions`) no user session is
//!   connected to the database;
//! - `replication`: synchronous commit on both sides (SQL Server's distributed AG
//!   and Azure's `replicationMode`), and the MI's last hardened LSN equal to SQL
//!   Server's in `stable_readings` consecutive SQL Server readings taken after the
//!   switch (mi-link.md §4.2 step 3);
//! - `health`: the link healthy and connected on both sides, read recently, SQL
//!   Server's endpoint certificate valid;
//! - `turn`: no other failover to the same MI in flight (one at a time per MI), nor
//!   more than `max_failovers` in all or `max_failovers_per_host` from its host;
//! - `window`: now inside the cutover's maintenance window, when it has one;
//! - `approval`: `approvals` distinct approvers (the approver role), not only the
//!   requester (the cutover's or its wave's approvals, the larger need);
//! - `wave`: its wave, when it has one, neither paused nor halted by a failed member
//!   (`on_failure = "halt"`); the wave's window applies when the cutover has none;
//! - `validation`: the rows of every user table (or `validate_tables`) equal on both
//!   sides, counted once nothing more is written (`[cutover] validate`);
//! - `group`: for a member of a cutover group, every other member ready (its own
//!   gates open) or failed over already: all or none.
//!
//! A forced cutover (`allow_data_loss`) waits for none of the link's gates (SQL Server
//! may be gone), only for its turn, window, wave and approvers (at least one besides
//! its requester); its `data_loss` gate is always open and records, as evidence, the
//! LSN gap as last observed: the log SQL Server had that the MI had not hardened.
//!
//! [`decide`] is the planner's one decision at the failover step: fail over only when
//! every gate is open. Waiting for a turn, a window to open or people to approve is
//! expected (the gate is `queued`), not a stuck cutover: it does not count toward the
//! gates' timeout.
//!
//! - [`steady`]: how the LSNs moved across readings (folded into each observation).
//! - [`link`]: the gates that judge the link (workload, replication, health).
//! - [`schedule`]: the gates of when and by whose leave (turn, window, approval, wave).
//! - [`validation`]: the row counts of both sides, and which side to count next.
//! - [`group`]: a cutover group's members all ready, or none fails over.

#[cfg(test)]
mod decide_tests;
pub mod group;
mod link;
mod schedule;
mod steady;
#[cfg(test)]
mod tests;
pub mod validation;

use serde::{Deserialize, Serialize};

pub use steady::Steady;

use super::settings::CutoverSettings;
use super::Intent;
use crate::cutover::row_counts::RowCount;
use crate::cutover::wave::WaveRecord;
use crate::migration::observe::Observation;
use crate::rfc3339::format as rfc3339;

/// What the gates look at.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub now_ms: i64,
    /// The newest observation and when Azure's part was read.
    pub observation: Option<&'a Observation>,
    pub observed_at_ms: i64,
    pub intent: &'a Intent,
    /// When both sides were switched to synchronous commit (the later step's end).
    pub synchronous_since_ms: Option<i64>,
    /// Another migration whose failover to the same MI is in flight.
    pub other_failover: Option<&'a str>,
    /// The other failovers in flight: from this migration's host, and in all.
    pub in_flight: InFlight<'a>,
    /// Who approved this cutover request.
    pub approvers: &'a [String],
    /// Its wave, if any.
    pub wave: Option<WaveFacts<'a>>,
    /// Both sides' newest row counts (any cutover request's).
    pub counts: &'a [RowCount],
    /// Its cutover group, if any.
    pub group: Option<group::GroupFacts<'a>>,
}

/// Other failovers in flight (their migrations' ids).
#[derive(Debug, Clone, Copy, Default)]
pub struct InFlight<'a> {
    pub same_host: &'a [String],
    pub all: &'a [String],
}

/// What the gates look at of a migration's wave.
#[derive(Debug, Clone, Copy)]
pub struct WaveFacts<'a> {
    pub wave: &'a WaveRecord,
    /// Another member whose migration failed.
    pub failed_member: Option<&'a str>,
}

/// The settings the gates apply, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub stable_readings: u32,
    pub quiet_ms: i64,
    /// The measured workload gate also needs no user session on the database.
    pub no_user_sessions: bool,
    pub max_age_ms: i64,
    /// Distinct approvers a cutover needs (0: none).
    pub approvals: u32,
    /// Compare the row counts of both sides before the failover.
    pub validate: bool,
    /// Failovers in flight at once, in all and from one host (0: no limit; one
    /// per MI always).
    pub max_failovers: u32,
    pub max_failovers_per_host: u32,
}

impl From<&CutoverSettings> for Rules {
    fn from(s: &CutoverSettings) -> Self {
        Rules {
            stable_readings: s.stable_readings,
            quiet_ms: (s.quiet_secs * 1000) as i64,
            no_user_sessions: s.no_user_sessions,
            max_age_ms: (s.max_reading_age_secs * 1000) as i64,
            approvals: s.approvals,
            validate: s.validate == super::settings::Validate::Rows,
            max_failovers: s.max_failovers,
            max_failovers_per_host: s.max_failovers_per_host,
        }
    }
}

/// The gates, by name (as audited and shown: `workload`, `data_loss`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateName {
    Workload,
    Replication,
    Health,
    Turn,
    Window,
    Approval,
    Wave,
    Validation,
    Group,
    DataLoss,
}

impl GateName {
    pub fn as_str(self) -> &'static str {
        match self {
            GateName::Workload => "workload",
            GateName::Replication => "replication",
            GateName::Health => "health",
            GateName::Turn => "turn",
            GateName::Window => "window",
            GateName::Approval => "approval",
            GateName::Wave => "wave",
            GateName::Validation => "validation",
            GateName::Group => "group",
            GateName::DataLoss => "data_loss",
        }
    }
}

impl std::fmt::Display for GateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    pub name: GateName,
    pub open: bool,
    /// The values it judged and when they were read.
    pub evidence: String,
    /// When closed: why, and what would open it.
    pub reason: String,
    /// Closed, and waiting is expected (a turn, a window, people): not counted
    /// toward the gates' timeout.
    #[serde(default)]
    pub queued: bool,
}

impl Gate {
    fn new(name: GateName, evidence: String, closed: Option<String>) -> Gate {
        Gate {
            name,
            open: closed.is_none(),
            evidence,
            reason: closed.unwrap_or_default(),
            queued: false,
        }
    }

    /// Closed gates of this kind wait for something expected.
    fn queued(mut self) -> Gate {
        self.queued = !self.open;
        self
    }
}

pub fn evaluate(facts: &Facts, rules: &Rules) -> Vec<Gate> {
    // A forced failover does not wait for the link: SQL Server may be gone.
    if facts.intent.allow_data_loss {
        return vec![
            link::data_loss(facts),
            schedule::turn(facts, rules),
            schedule::window(facts),
            schedule::approval(facts, rules),
            schedule::wave(facts),
        ];
    }
    let Some(o) = facts.observation else {
        let none = || Some("Ferry has not read the link yet: wait for the next reading".into());
        return [
            GateName::Workload,
            GateName::Replication,
            GateName::Health,
            GateName::Validation,
        ]
        .into_iter()
        .map(|name| Gate::new(name, "no reading of the link".into(), none()))
        .chain([
            schedule::turn(facts, rules),
            schedule::window(facts),
            schedule::approval(facts, rules),
            schedule::wave(facts),
        ])
        .chain(facts.group.map(|g| group::gate(facts, &g)))
        .collect();
    };
    vec![
        link::workload(facts, o, rules),
        link::replication(facts, o, rules),
        link::health(facts, o, rules),
        schedule::turn(facts, rules),
        schedule::window(facts),
        schedule::approval(facts, rules),
        schedule::wave(facts),
        validation::gate(facts, o, rules),
    ]
    .into_iter()
    .chain(facts.group.map(|g| group::gate(facts, &g)))
    .collect()
}

/// The planner's decision at the failover step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    FailOver,
    /// Closed gates: why, and what would open them.
    Wait(String),
    /// Only queued gates are closed (a turn, a window, approvals); the timeout's
    /// clock starts again when they open.
    Queued(String),
    /// The gates stayed closed past the timeout: the cutover stops before failing over.
    Stop(String),
}

/// Fail over only when every gate is open; wait, or stop after `timeout_ms` of waiting.
pub fn decide(gates: &[Gate], waiting_since_ms: i64, now_ms: i64, timeout_ms: i64) -> Decision {
    let closed: Vec<String> = gates
        .iter()
        .filter(|g| !g.open)
        .map(|g| format!("{}: {}", g.name, g.reason))
        .collect();
    if closed.is_empty() {
        Decision::FailOver
    } else if gates.iter().all(|g| g.open || g.queued) {
        Decision::Queued(format!("queued: {}", closed.join("; ")))
    } else if now_ms - waiting_since_ms >= timeout_ms {
        Decision::Stop(format!(
            "the gates stayed closed for {} s ({}); the link is still up, in synchronous commit: `ferry cutover cancel` returns it to asynchronous, `ferry migrate retry` waits again",
            timeout_ms / 1000,
            closed.join("; ")
        ))
    } else {
        Decision::Wait(format!("waiting for the gates: {}", closed.join("; ")))
    }
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() {
        "--"
    } else {
        text
    }
}
