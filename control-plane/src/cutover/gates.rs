//! The gates a cutover's failover waits for. Each is a pure function of what was
//! recorded — the link's newest observation (Azure's view with SQL Server's, and how
//! their LSNs moved across readings, [`Steady`]), the operator's intent, when the
//! commit mode was switched — and comes with its evidence (values and when they were
//! read) and, when closed, why and what would open it:
//!
//! - `workload`: the operator confirmed traffic stopped, or SQL Server's end of log
//!   stood still for `quiet_secs`;
//! - `replication`: synchronous commit on both sides (SQL Server's distributed AG
//!   and Azure's `replicationMode`), and the MI's last hardened LSN equal to SQL
//!   Server's in `stable_readings` consecutive SQL Server readings taken after the
//!   switch (mi-link.md §4.2 step 3);
//! - `health`: the link healthy and connected on both sides, read recently, SQL
//!   Server's endpoint certificate valid;
//! - `turn`: no other failover to the same MI in flight (one at a time per MI);
//! - `window`: now inside the cutover's maintenance window, when it has one;
//! - `approval`: `approvals` distinct approvers (the approver role), not only the
//!   requester (the cutover's or its wave's approvals, the larger need);
//! - `wave`: its wave, when it has one, neither paused nor halted by a failed member
//!   (`on_failure = "halt"`); the wave's window applies when the cutover has none.
//!
//! [`decide`] is the planner's one decision at the failover step: fail over only when
//! every gate is open. Waiting for a turn, a window to open or people to approve is
//! expected (the gate is `queued`), not a stuck cutover: it does not count toward the
//! gates' timeout.
//!
//! Not built yet (issue 7): the validation (row counts) gate.

use serde::{Deserialize, Serialize};

use super::settings::CutoverSettings;
use super::Intent;
use crate::migration::observe::Observation;
use crate::store::waves::WaveRecord;

/// How the two sides' LSNs moved across SQL Server's readings, folded into each
/// observation from the one before ([`Steady::follow`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Steady {
    /// The LSN both sides last had hardened alike, and in how many consecutive SQL
    /// Server readings they did (0: they differ, or SQL Server's reading is missing).
    pub equal_lsn: String,
    pub equal_readings: u32,
    /// SQL Server's end of log, and the first reading that showed it.
    pub end_of_log: String,
    pub end_of_log_since_ms: i64,
}

impl Steady {
    /// `now`'s LSN history, given the observation before it.
    pub fn follow(before: Option<&Observation>, now: &Observation) -> Steady {
        let Some(sql) = &now.sql else {
            return Steady::default();
        };
        let prior = before.map(|b| &b.steady);
        let new_reading = before.is_none_or(|b| b.sql_observed_ms != now.sql_observed_ms);
        let equal =
            !sql.local_hardened_lsn.is_empty() && sql.local_hardened_lsn == now.last_hardened_lsn;
        let equal_readings = match prior {
            _ if !equal => 0,
            Some(p) if p.equal_readings > 0 && p.equal_lsn == sql.local_hardened_lsn => {
                p.equal_readings + u32::from(new_reading)
            }
            _ => 1,
        };
        let end_of_log_since_ms = match prior {
            Some(p) if p.end_of_log == sql.end_of_log_lsn && p.end_of_log_since_ms > 0 => {
                p.end_of_log_since_ms
            }
            _ => now.sql_observed_ms,
        };
        Steady {
            equal_lsn: if equal {
                sql.local_hardened_lsn.clone()
            } else {
                String::new()
            },
            equal_readings,
            end_of_log: sql.end_of_log_lsn.clone(),
            end_of_log_since_ms,
        }
    }
}

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
    /// Who approved this cutover request.
    pub approvers: &'a [String],
    /// Its wave, if any.
    pub wave: Option<WaveFacts<'a>>,
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
    pub max_age_ms: i64,
    /// Distinct approvers a cutover needs (0: none).
    pub approvals: u32,
}

impl From<&CutoverSettings> for Rules {
    fn from(s: &CutoverSettings) -> Self {
        Rules {
            stable_readings: s.stable_readings,
            quiet_ms: (s.quiet_secs * 1000) as i64,
            max_age_ms: (s.max_reading_age_secs * 1000) as i64,
            approvals: s.approvals,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    pub name: String,
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
    fn new(name: &str, evidence: String, closed: Option<String>) -> Gate {
        Gate {
            name: name.into(),
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
    let Some(o) = facts.observation else {
        let none = || Some("Ferry has not read the link yet: wait for the next reading".into());
        return ["workload", "replication", "health"]
            .into_iter()
            .map(|name| Gate::new(name, "no reading of the link".into(), none()))
            .chain([
                turn(facts),
                window(facts),
                approval(facts, rules),
                wave(facts),
            ])
            .collect();
    };
    vec![
        workload(facts, o, rules),
        replication(facts, o, rules),
        health(facts, o, rules),
        turn(facts),
        window(facts),
        approval(facts, rules),
        wave(facts),
    ]
}

fn wave(facts: &Facts) -> Gate {
    let Some(w) = facts.wave else {
        return Gate::new("wave", "in no wave".into(), None);
    };
    let name = &w.wave.wave.name;
    let evidence = format!(
        "wave {name}: {}, on failure {:?}",
        if w.wave.paused { "paused" } else { "running" },
        w.wave.wave.on_failure
    );
    if w.wave.paused {
        let why = format!("wave {name} is paused: `ferry wave resume {name}`");
        return Gate::new("wave", evidence, Some(why)).queued();
    }
    match w.failed_member {
        Some(other) if w.wave.wave.on_failure == super::wave::OnFailure::Halt => {
            let why = format!("wave {name} halts on a failure, and migration {other} failed: retry or cancel it, or set on_failure = \"continue\"");
            Gate::new("wave", evidence, Some(why))
        }
        _ => Gate::new("wave", evidence, None),
    }
}

fn window(facts: &Facts) -> Gate {
    let of_wave = facts.wave.and_then(|w| w.wave.wave.window);
    let Some((start, end)) = facts.intent.window.or(of_wave) else {
        return Gate::new("window", "no maintenance window: any time".into(), None);
    };
    let evidence = format!("window {} to {}", rfc3339(start), rfc3339(end));
    if facts.now_ms < start {
        let why = format!("the maintenance window opens at {}", rfc3339(start));
        Gate::new("window", evidence, Some(why)).queued()
    } else if facts.now_ms >= end {
        let why = format!("the maintenance window closed at {}: cancel this cutover (`ferry cutover cancel`) and start it again with another window", rfc3339(end));
        Gate::new("window", evidence, Some(why))
    } else {
        Gate::new("window", evidence, None)
    }
}

fn approval(facts: &Facts, rules: &Rules) -> Gate {
    let of_wave = facts.wave.map_or(0, |w| w.wave.wave.approvals);
    let needed = rules.approvals.max(of_wave);
    if needed == 0 {
        let evidence = "no approval required ([cutover] approvals = 0)".to_string();
        return Gate::new("approval", evidence, None);
    }
    let mut approvers: Vec<&String> = facts.approvers.iter().collect();
    for a in facts.wave.iter().flat_map(|w| &w.wave.approvers) {
        if !approvers.contains(&a) {
            approvers.push(a);
        }
    }
    let requester = &facts.intent.requested_by;
    let others = approvers.iter().filter(|a| **a != requester).count();
    let names: Vec<&str> = approvers.iter().map(|a| a.as_str()).collect();
    let evidence = format!(
        "approved by {} of {needed} needed (requested by {requester})",
        if names.is_empty() {
            "nobody".to_string()
        } else {
            names.join(", ")
        },
    );
    let closed = if (approvers.len() as u32) < needed {
        Some(format!(
            "{} more approval(s) needed: an operator with the approver role runs `ferry cutover approve` (or `ferry wave approve`)",
            needed - approvers.len() as u32
        ))
    } else if others == 0 {
        Some(format!("{requester} asked for the cutover and cannot be its only approver: another approver runs `ferry cutover approve`"))
    } else {
        None
    };
    Gate::new("approval", evidence, closed).queued()
}

/// The gate that queues failovers to one MI.
pub const TURN: &str = "turn";

fn turn(facts: &Facts) -> Gate {
    match facts.other_failover {
        Some(other) => Gate::new(
            TURN,
            format!("migration {other}'s failover to this MI is in flight"),
            Some(format!(
                "migration {other} is failing over to this MI, one at a time: waiting for its turn"
            )),
        )
        .queued(),
        None => Gate::new(TURN, "no other failover to this MI in flight".into(), None),
    }
}

fn workload(facts: &Facts, o: &Observation, rules: &Rules) -> Gate {
    if facts.intent.traffic_stopped_confirmed {
        return Gate::new(
            "workload",
            format!(
                "{} confirmed that traffic to the database stopped ({})",
                facts.intent.requested_by,
                rfc3339(facts.intent.requested_at_ms)
            ),
            None,
        );
    }
    let s = &o.steady;
    if o.sql.is_none() || s.end_of_log.is_empty() {
        return Gate::new(
            "workload",
            "no recent reading of SQL Server's log".into(),
            Some("SQL Server's agent has not reported the link recently: is ferry-agent running? Or confirm that traffic stopped (--confirm-traffic-stopped)".into()),
        );
    }
    let quiet_ms = o.sql_observed_ms - s.end_of_log_since_ms;
    let evidence = format!(
        "SQL Server's end of log {} unchanged from {} to {} ({} s)",
        s.end_of_log,
        rfc3339(s.end_of_log_since_ms),
        rfc3339(o.sql_observed_ms),
        quiet_ms / 1000
    );
    let closed = (quiet_ms < rules.quiet_ms).then(|| {
        format!(
            "the database's log moved within the last {} s: stop the application's traffic (the gate opens after {} s without log), or confirm that it stopped (--confirm-traffic-stopped)",
            rules.quiet_ms / 1000,
            rules.quiet_ms / 1000
        )
    });
    Gate::new("workload", evidence, closed)
}

fn replication(facts: &Facts, o: &Observation, rules: &Rules) -> Gate {
    let Some(sql) = &o.sql else {
        return Gate::new(
            "replication",
            format!(
                "MI hardened LSN {} (Azure, {}); no recent reading from SQL Server",
                or_dash(&o.last_hardened_lsn),
                rfc3339(facts.observed_at_ms)
            ),
            Some(
                "SQL Server's agent has not reported the link recently: is ferry-agent running?"
                    .into(),
            ),
        );
    };
    let s = &o.steady;
    let evidence = format!(
        "Azure {} at MI hardened LSN {} ({}); SQL Server {} at hardened LSN {}, end of log {} ({}); equal in {} consecutive readings",
        or_dash(&o.replication_mode),
        or_dash(&o.last_hardened_lsn),
        rfc3339(facts.observed_at_ms),
        if sql.synchronous_commit { "SYNCHRONOUS_COMMIT" } else { "ASYNCHRONOUS_COMMIT" },
        or_dash(&sql.local_hardened_lsn),
        or_dash(&sql.end_of_log_lsn),
        rfc3339(o.sql_observed_ms),
        s.equal_readings,
    );
    let closed = if !o.replication_mode.eq_ignore_ascii_case("Sync") {
        Some(format!("Azure's side of the link replicates {}: the cutover's mi_synchronous_commit step switches it to Sync", or_dash(&o.replication_mode)))
    } else if !sql.synchronous_commit {
        Some("SQL Server's distributed AG is not SYNCHRONOUS_COMMIT on both members: the cutover's synchronous_commit step switches it".into())
    } else if facts
        .synchronous_since_ms
        .is_none_or(|at| o.sql_observed_ms < at)
    {
        Some("SQL Server's newest reading is from before the switch to synchronous commit: wait for the agent's next report".into())
    } else if s.equal_readings == 0 {
        Some(format!(
            "the MI has hardened LSN {} and SQL Server {}: wait for the MI to catch up (is the workload still writing?)",
            or_dash(&o.last_hardened_lsn),
            or_dash(&sql.local_hardened_lsn)
        ))
    } else if s.equal_readings < rules.stable_readings {
        Some(format!(
            "equal in {} of {} consecutive readings: wait for the next",
            s.equal_readings, rules.stable_readings
        ))
    } else {
        None
    };
    Gate::new("replication", evidence, closed)
}

fn health(facts: &Facts, o: &Observation, rules: &Rules) -> Gate {
    let sql_connected = o.sql.as_ref().map(|s| s.connected_state.as_str());
    let evidence = format!(
        "Azure: {}, {} ({}); SQL Server: {} ({}); certificate valid until {}",
        or_dash(&o.synchronization_health),
        or_dash(&o.connected_state),
        rfc3339(facts.observed_at_ms),
        or_dash(sql_connected.unwrap_or_default()),
        rfc3339(o.sql_observed_ms),
        or_dash(&o.partner_certificate_expiry),
    );
    let expired = time::OffsetDateTime::parse(
        &o.partner_certificate_expiry,
        &time::format_description::well_known::Rfc3339,
    )
    .is_ok_and(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64 <= facts.now_ms);
    let closed = if facts.now_ms - facts.observed_at_ms > rules.max_age_ms {
        Some("Azure's newest reading of the link is too old: is ARM reachable?".into())
    } else if !o.synchronization_health.eq_ignore_ascii_case("HEALTHY") {
        Some(format!(
            "the link is {} on the MI: {}",
            or_dash(&o.synchronization_health),
            if o.error.is_empty() {
                "see `ferry migrate show`"
            } else {
                &o.error
            }
        ))
    } else if !o.connected_state.eq_ignore_ascii_case("CONNECTED") {
        Some("the MI is not connected to SQL Server: check the network between them".into())
    } else if sql_connected.is_some_and(|c| !c.eq_ignore_ascii_case("CONNECTED")) {
        Some("SQL Server is not connected to the MI: check the network between them".into())
    } else if expired {
        Some("SQL Server's endpoint certificate expired: the link cannot carry the failover; rotate the certificate".into())
    } else {
        None
    };
    Gate::new("health", evidence, closed)
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

/// A Unix time in milliseconds as RFC 3339 (UTC), "--" when unknown.
pub fn rfc3339(unix_ms: i64) -> String {
    if unix_ms <= 0 {
        return "--".into();
    }
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix_ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::sql_side::SqlLinkStatus;

    const RULES: Rules = Rules {
        stable_readings: 3,
        quiet_ms: 30_000,
        max_age_ms: 60_000,
        approvals: 0,
    };

    /// One reading of both sides at `at_ms` (SQL Server read at the same moment).
    fn reading(at_ms: i64, mi: u64, sql_hardened: u64, end_of_log: u64) -> Observation {
        Observation {
            replica_state: "LinkSynchronizing".into(),
            synchronization_health: "HEALTHY".into(),
            connected_state: "CONNECTED".into(),
            last_hardened_lsn: mi.to_string(),
            replication_mode: "Sync".into(),
            link_role: "Secondary".into(),
            sql: Some(SqlLinkStatus {
                connected_state: "CONNECTED".into(),
                synchronous_commit: true,
                local_hardened_lsn: sql_hardened.to_string(),
                end_of_log_lsn: end_of_log.to_string(),
                ..Default::default()
            }),
            sql_observed_ms: at_ms,
            ..Default::default()
        }
    }

    fn fold(history: &mut Vec<Observation>, mut next: Observation) {
        next.steady = Steady::follow(history.last(), &next);
        history.push(next);
    }

    fn facts<'a>(o: &'a Observation, intent: &'a Intent, now_ms: i64) -> Facts<'a> {
        Facts {
            now_ms,
            observation: Some(o),
            observed_at_ms: now_ms,
            intent,
            synchronous_since_ms: Some(1),
            other_failover: None,
            approvers: &[],
            wave: None,
        }
    }

    fn judge(o: &Observation, intent: &Intent, now_ms: i64) -> Vec<Gate> {
        evaluate(&facts(o, intent, now_ms), &RULES)
    }

    fn gate<'a>(gates: &'a [Gate], name: &str) -> &'a Gate {
        gates.iter().find(|g| g.name == name).expect("gate")
    }

    #[test]
    fn replication_opens_after_the_lsns_agree_in_enough_readings() {
        let intent = Intent {
            traffic_stopped_confirmed: true,
            ..Default::default()
        };
        let mut history = Vec::new();
        fold(&mut history, reading(1_000, 90, 100, 100));
        let gates = judge(history.last().unwrap(), &intent, 1_000);
        let replication = gate(&gates, "replication");
        assert!(!replication.open);
        assert!(
            replication.reason.contains("hardened LSN 90"),
            "{}",
            replication.reason
        );
        for (n, at) in [(1, 2_000), (2, 3_000), (3, 4_000)] {
            fold(&mut history, reading(at, 100, 100, 100));
            let gates = judge(history.last().unwrap(), &intent, at);
            assert_eq!(
                gate(&gates, "replication").open,
                n == 3,
                "after {n} readings"
            );
        }
        // An Azure reading without a new SQL Server reading does not count as one.
        let mut again = reading(4_000, 100, 100, 100);
        again.steady = Steady::follow(history.last(), &again);
        assert_eq!(again.steady.equal_readings, 3);
    }

    #[test]
    fn each_closed_condition_names_itself() {
        let intent = Intent {
            traffic_stopped_confirmed: true,
            ..Default::default()
        };
        let mut base = Vec::new();
        for at in [1_000, 2_000, 3_000] {
            fold(&mut base, reading(at, 100, 100, 100));
        }
        let open = judge(base.last().unwrap(), &intent, 3_000);
        assert!(open.iter().all(|g| g.open), "{open:?}");
        let busy = Facts {
            other_failover: Some("m-other"),
            ..facts(base.last().unwrap(), &intent, 3_000)
        };
        let queued = evaluate(&busy, &RULES);
        assert!(
            matches!(decide(&queued, 0, 99_000, 60_000), Decision::Queued(w) if w.contains("m-other"))
        );
        assert_eq!(decide(&open, 0, 3_000, 60_000), Decision::FailOver);
        type Change = fn(&mut Observation);
        let cases: [(&str, Change, &str); 5] = [
            (
                "replication",
                |o| o.replication_mode = "Async".into(),
                "replicates Async",
            ),
            (
                "replication",
                |o| o.sql.as_mut().unwrap().synchronous_commit = false,
                "SYNCHRONOUS_COMMIT",
            ),
            (
                "health",
                |o| o.synchronization_health = "NOT_HEALTHY".into(),
                "NOT_HEALTHY",
            ),
            (
                "health",
                |o| o.connected_state = "DISCONNECTED".into(),
                "not connected",
            ),
            (
                "health",
                |o| o.partner_certificate_expiry = "1970-01-01T00:00:01Z".into(),
                "expired",
            ),
        ];
        for (name, change, words) in cases {
            let mut o = base.last().unwrap().clone();
            change(&mut o);
            let gates = judge(&o, &intent, 3_000);
            let g = gate(&gates, name);
            assert!(!g.open && g.reason.contains(words), "{name}: {}", g.reason);
            assert!(
                matches!(decide(&gates, 0, 3_000, 60_000), Decision::Wait(w) if w.contains(words))
            );
            assert!(matches!(
                decide(&gates, 0, 60_000, 60_000),
                Decision::Stop(_)
            ));
        }
    }

    #[test]
    fn windows_and_approvals_queue_the_failover() {
        let mut history = Vec::new();
        for at in [1_000, 2_000, 3_000] {
            fold(&mut history, reading(at, 100, 100, 100));
        }
        let o = history.last().unwrap();
        let intent = Intent {
            traffic_stopped_confirmed: true,
            requested_by: "operator/alice".into(),
            window: Some((10_000, 20_000)),
            ..Default::default()
        };
        let two = Rules {
            approvals: 2,
            ..RULES
        };
        let at = |now: i64, approvers: &[String]| {
            let facts = Facts {
                approvers,
                ..facts(o, &intent, now)
            };
            (evaluate(&facts, &two), now)
        };
        let (before, now) = at(3_000, &[]);
        assert!(gate(&before, "window").reason.contains("opens at"));
        assert!(gate(&before, "approval").reason.contains("2 more"));
        assert!(
            matches!(decide(&before, 0, now, 1_000), Decision::Queued(_)),
            "queued, not stopped"
        );
        let approvers = ["operator/alice".to_string(), "operator/bob".to_string()];
        let (inside, _) = at(15_000, &approvers[..1]);
        assert!(gate(&inside, "window").open);
        assert!(gate(&inside, "approval").reason.contains("1 more"));
        let requester_alone = Facts {
            approvers: &approvers[..1],
            ..facts(o, &intent, 15_000)
        };
        let only = evaluate(
            &requester_alone,
            &Rules {
                approvals: 1,
                ..RULES
            },
        );
        assert!(gate(&only, "approval")
            .reason
            .contains("cannot be its only approver"));
        let (approved, now) = at(15_000, &approvers);
        assert_eq!(decide(&approved, 0, now, 1_000), Decision::FailOver);
        let (after, now) = at(20_000, &approvers);
        assert!(
            matches!(decide(&after, 0, now, 1_000), Decision::Stop(w) if w.contains("window closed"))
        );
    }

    #[test]
    fn a_moving_log_keeps_the_workload_gate_closed_unless_confirmed() {
        let mut history = Vec::new();
        for (at, eol) in [(0, 100), (20_000, 200), (40_000, 200)] {
            fold(&mut history, reading(at, eol, eol, eol));
        }
        let measured = Intent::default();
        let w = judge(history.last().unwrap(), &measured, 40_000);
        assert!(!gate(&w, "workload").open, "log moved 20 s ago");
        fold(&mut history, reading(50_000, 200, 200, 200));
        let w = judge(history.last().unwrap(), &measured, 50_000);
        assert!(gate(&w, "workload").open, "30 s without log");
        let confirmed = Intent {
            traffic_stopped_confirmed: true,
            requested_by: "operator/alice".into(),
            ..Default::default()
        };
        let w = judge(&history[1], &confirmed, 20_000);
        assert!(gate(&w, "workload").evidence.contains("operator/alice"));
    }

    /// For every sequence of readings, a failover is decided only when the raw history
    /// shows what the gates promise: both sides synchronous and healthy, the MI's
    /// hardened LSN equal to SQL Server's in the last `stable_readings` distinct SQL
    /// Server readings, and (unless confirmed) SQL Server's log still for `quiet_ms`.
    #[test]
    fn no_failover_unless_every_gate_holds_in_the_history() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut failovers = 0;
        for _ in 0..4000 {
            let confirmed = next(3) == 0;
            let intent = Intent {
                traffic_stopped_confirmed: confirmed,
                ..Default::default()
            };
            let mut history: Vec<Observation> = Vec::new();
            let (mut at, mut eol, mut mi) = (1_000i64, 1_000u64, 900u64);
            for _ in 0..(5 + next(20)) {
                let new_sql_reading = history.is_empty() || next(4) != 0;
                at += 1_000 + next(15_000) as i64;
                if next(3) == 0 {
                    eol += 1 + next(50); // the workload writes
                }
                if next(2) == 0 {
                    mi = eol.min(mi + next(200)); // the MI catches up
                }
                let mut o = reading(at, mi, eol, eol);
                if !new_sql_reading {
                    let last = history.last().unwrap();
                    o.sql = last.sql.clone();
                    o.sql_observed_ms = last.sql_observed_ms;
                }
                if next(10) == 0 {
                    o.replication_mode = "Async".into();
                }
                if next(10) == 0 {
                    o.sql.as_mut().unwrap().synchronous_commit = false;
                }
                if next(10) == 0 {
                    o.synchronization_health = "PARTIALLY_HEALTHY".into();
                }
                fold(&mut history, o);
                let now = history.last().unwrap();
                if decide(&judge(now, &intent, at), 0, at, i64::MAX) != Decision::FailOver {
                    continue;
                }
                failovers += 1;
                assert_eq!(now.replication_mode, "Sync");
                let sql = now.sql.as_ref().unwrap();
                assert!(sql.synchronous_commit && now.synchronization_health == "HEALTHY");
                // The distinct SQL Server readings, newest last, with the Azure reading
                // that came with each.
                let mut readings: Vec<&Observation> = Vec::new();
                for o in &history {
                    match readings.last() {
                        Some(l) if l.sql_observed_ms == o.sql_observed_ms => {
                            *readings.last_mut().unwrap() = o
                        }
                        _ => readings.push(o),
                    }
                }
                let last = &readings[readings.len() - RULES.stable_readings as usize..];
                let lsn = &sql.local_hardened_lsn;
                for r in last {
                    assert_eq!(&r.last_hardened_lsn, lsn);
                    assert_eq!(&r.sql.as_ref().unwrap().local_hardened_lsn, lsn);
                }
                if !confirmed {
                    let since = readings
                        .iter()
                        .rev()
                        .take_while(|r| {
                            r.sql.as_ref().unwrap().end_of_log_lsn == sql.end_of_log_lsn
                        })
                        .last()
                        .unwrap()
                        .sql_observed_ms;
                    assert!(now.sql_observed_ms - since >= RULES.quiet_ms);
                }
            }
        }
        assert!(
            failovers > 100,
            "the generator must reach failovers ({failovers})"
        );
    }
}
