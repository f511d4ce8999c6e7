//! The gates that judge the link: the workload stopped, replication caught up in
//! synchronous commit, the link healthy; and, for a forced failover, what the link's
//! last readings say it loses.

use super::{or_dash, rfc3339, Facts, Gate, GateName, Rules};
use crate::migration::observe::Observation;

pub(super) fn workload(facts: &Facts, o: &Observation, rules: &Rules) -> Gate {
    if facts.intent.traffic_stopped_confirmed {
        return Gate::new(
            GateName::Workload,
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
        return Gate::new(GateName::Workload,
            "no recent reading of SQL Server's log".into(),
            Some("SQL Server's agent has not reported the link recently: is ferry-agent running? Or confirm that traffic stopped (--confirm-traffic-stopped)".into()),
        );
    }
    let quiet_ms = o.sql_observed_ms - s.end_of_log_since_ms;
    let sessions = o.sql.as_ref().and_then(|sql| sql.user_sessions);
    let evidence = format!(
        "SQL Server's end of log {} unchanged from {} to {} ({} s); {} user session(s) on the database",
        s.end_of_log,
        rfc3339(s.end_of_log_since_ms),
        rfc3339(o.sql_observed_ms),
        quiet_ms / 1000,
        sessions.map_or("unknown".to_string(), |n| n.to_string())
    );
    let closed = if quiet_ms < rules.quiet_ms {
        Some(format!(
            "the database's log moved within the last {} s: stop the application's traffic (the gate opens after {} s without log), or confirm that it stopped (--confirm-traffic-stopped)",
            rules.quiet_ms / 1000,
            rules.quiet_ms / 1000
        ))
    } else if rules.no_user_sessions && sessions.is_none_or(|n| n > 0) {
        Some(match sessions {
            Some(n) => format!("{n} user session(s) are connected to the database: stop the application (close its connections), or confirm that its traffic stopped (--confirm-traffic-stopped)"),
            None => "SQL Server's agent does not report the database's sessions (upgrade ferry-agent), or confirm that traffic stopped (--confirm-traffic-stopped)".to_string(),
        })
    } else {
        None
    };
    Gate::new(GateName::Workload, evidence, closed)
}

pub(super) fn replication(facts: &Facts, o: &Observation, rules: &Rules) -> Gate {
    let Some(sql) = &o.sql else {
        return Gate::new(
            GateName::Replication,
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
    Gate::new(GateName::Replication, evidence, closed)
}

pub(super) fn health(facts: &Facts, o: &Observation, rules: &Rules) -> Gate {
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
    let expired = crate::rfc3339::parse_ms(&o.partner_certificate_expiry)
        .is_ok_and(|expiry| expiry <= facts.now_ms);
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
    Gate::new(GateName::Health, evidence, closed)
}

/// A forced failover's record of what it loses, as far as the readings show: SQL
/// Server's end of log and last commit against the MI's last hardened LSN. Always
/// open: the operator allowed the loss; this is the evidence kept with it.
pub(super) fn data_loss(facts: &Facts) -> Gate {
    let intent = facts.intent;
    let why = format!(
        "forced by {} ({}): {:?}",
        intent.requested_by,
        rfc3339(intent.requested_at_ms),
        intent.reason
    );
    let evidence = match facts.observation {
        None => format!("{why}; Ferry never read the link: what is lost is unknown"),
        Some(o) => {
            let mi = format!(
                "the MI had hardened LSN {} (Azure, {})",
                or_dash(&o.last_hardened_lsn),
                rfc3339(facts.observed_at_ms)
            );
            match &o.sql {
                None => format!("{why}; {mi}; no recent reading of SQL Server: what it wrote after is unknown"),
                Some(sql) if sql.end_of_log_lsn == o.last_hardened_lsn => format!(
                    "{why}; {mi}, equal to SQL Server's end of log at its last reading ({}): nothing lost unless SQL Server wrote after it",
                    rfc3339(o.sql_observed_ms)
                ),
                Some(sql) => format!(
                    "{why}; {mi}; SQL Server's end of log was {}, its last commit {} ({}), {} KB of log not yet sent: the transactions committed after LSN {} are lost, as far as Ferry observed (SQL Server may have written after its last reading)",
                    or_dash(&sql.end_of_log_lsn),
                    or_dash(&sql.last_commit_lsn),
                    rfc3339(o.sql_observed_ms),
                    sql.log_send_queue_kb.max(0),
                    or_dash(&o.last_hardened_lsn)
                ),
            }
        }
    };
    Gate::new(GateName::DataLoss, evidence, None)
}
