//! The gates that judge the link: the workload stopped, replication caught up in
//! synchronous commit, the link healthy.

use super::{or_dash, rfc3339, Facts, Gate, Rules};
use crate::migration::observe::Observation;

pub(super) fn workload(facts: &Facts, o: &Observation, rules: &Rules) -> Gate {
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

pub(super) fn replication(facts: &Facts, o: &Observation, rules: &Rules) -> Gate {
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
    Gate::new("health", evidence, closed)
}
