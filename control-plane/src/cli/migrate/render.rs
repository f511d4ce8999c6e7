//! How migrations print: a table (state, lag, what it means), the detail view (steps
//! with their timings and what each found, the link as Azure reports it and as SQL
//! Server's DMVs show it), and JSON.

use ferry_proto::operator::v1 as op;
use serde_json::{json, Value};

use crate::cli::output;

/// "12 s" / "--" (Azure gives no lag: none to show, as the Arc portal prints it).
fn lag(seconds: i64) -> String {
    if seconds < 0 {
        "--".into()
    } else {
        format!("{seconds} s")
    }
}

/// Azure's send lag; SQL Server's secondary lag when Azure gives none.
fn link_lag(m: &op::Migration) -> String {
    let azure = m.link.as_ref().map_or(-1, |l| l.send_lag_seconds);
    let sql = m
        .sql_server
        .as_ref()
        .map_or(-1, |s| s.secondary_lag_seconds);
    lag(if azure >= 0 { azure } else { sql })
}

pub fn table(migrations: &[op::Migration]) -> String {
    if migrations.is_empty() {
        return "no migrations".into();
    }
    let rows: Vec<Vec<String>> = migrations
        .iter()
        .map(|m| {
            vec![
                m.id.clone(),
                m.host.clone(),
                m.instance.clone(),
                m.database.clone(),
                target_name(&m.target).into(),
                m.state.clone(),
                link_lag(m),
                m.detail.clone(),
            ]
        })
        .collect();
    output::table(
        &[
            "ID", "HOST", "INSTANCE", "DATABASE", "TARGET", "STATE", "LAG", "DETAIL",
        ],
        &rows,
    )
}

/// The managed instance's name from its resource id.
fn target_name(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

pub fn started_text(started: &[op::StartMigrationResponse]) -> String {
    let mut out = String::new();
    for answer in started {
        let Some(m) = &answer.migration else { continue };
        let verb = if answer.created {
            "started"
        } else {
            "already running"
        };
        out.push_str(&format!(
            "{verb}: {} ({} on {}\\{} -> {}, link {}): {}\n",
            m.id,
            m.database,
            m.host,
            m.instance,
            target_name(&m.target),
            m.link_name,
            m.state
        ));
        for warning in &m.accepted_warnings {
            out.push_str(&format!("  accepted warning: {warning}\n"));
        }
    }
    out
}

pub fn detail(m: &op::Migration) -> String {
    let mut out = format!(
        "Migration {}\n  {} on {}\\{} -> {} (link {})\n  state: {}: {}\n  started by {} at {}\n",
        m.id,
        m.database,
        m.host,
        m.instance,
        m.target,
        m.link_name,
        m.state,
        m.detail,
        m.created_by,
        time(m.created_unix_ms),
    );
    for warning in &m.accepted_warnings {
        out.push_str(&format!("  accepted warning: {warning}\n"));
    }
    out.push_str("Steps:\n");
    for s in &m.steps {
        let took = if s.finished_unix_ms >= s.started_unix_ms && s.started_unix_ms > 0 {
            format!(
                " ({:.1} s)",
                (s.finished_unix_ms - s.started_unix_ms) as f64 / 1000.0
            )
        } else {
            String::new()
        };
        let state = if s.already_done {
            "done (found done)"
        } else {
            s.state.as_str()
        };
        out.push_str(&format!("  {:<36} {:<10} {state}{took}", s.name, s.side));
        if !s.detail.is_empty() {
            out.push_str(&format!(": {}", s.detail));
        }
        out.push('\n');
    }
    if let Some(l) = &m.link {
        out.push_str(&format!(
            "Link (Azure, last read {}): {}, {}, {}; last hardened LSN {}; lag {} to send, {} to redo\n",
            time(l.observed_unix_ms),
            l.replica_state,
            l.synchronization_health,
            l.connected_state,
            if l.last_hardened_lsn.is_empty() {
                "--"
            } else {
                &l.last_hardened_lsn
            },
            lag(l.send_lag_seconds),
            lag(l.redo_lag_seconds),
        ));
        if !l.replication_mode.is_empty() {
            out.push_str(&format!(
                "  replication {}; the MI is the link's {}\n",
                l.replication_mode,
                l.link_role.to_lowercase()
            ));
        }
        if !l.error.is_empty() {
            out.push_str(&format!("  most recent link error: {}\n", l.error));
        }
        if !l.partner_certificate.is_empty() {
            out.push_str(&format!(
                "  SQL Server's endpoint certificate on the MI: {}, valid until {}\n",
                l.partner_certificate, l.partner_certificate_expiry
            ));
        }
    }
    if let Some(s) = &m.sql_server {
        out.push_str(&sql_detail(s));
    }
    if !m.gates.is_empty() {
        out.push_str("Cutover gates:\n");
        for g in &m.gates {
            let verdict = match (g.open, g.queued) {
                (true, _) => "open",
                (false, true) => "queued",
                (false, false) => "closed",
            };
            out.push_str(&format!("  {:<12} {verdict:<6} {}\n", g.name, g.evidence));
            if !g.open {
                out.push_str(&format!("  {:<12} {:<6} {}\n", "", "", g.reason));
            }
        }
    }
    out
}

/// SQL Server's side of the link, as its agent last read the DMVs.
fn sql_detail(s: &op::SqlLinkObservation) -> String {
    let or_dash = |t: &str| {
        if t.is_empty() {
            "--".to_string()
        } else {
            t.to_string()
        }
    };
    let kb = |v: i64| {
        if v < 0 {
            "--".to_string()
        } else {
            format!("{v} KB")
        }
    };
    let mut out = format!(
        "SQL Server (agent, last read {}): {}, {}, {}; end of log LSN {}, MI hardened LSN {}; send queue {} ({}/s), redo queue {}; lag {}\n",
        time(s.observed_unix_ms),
        or_dash(&s.connected_state),
        or_dash(&s.synchronization_state),
        or_dash(&s.synchronization_health),
        or_dash(&s.end_of_log_lsn),
        or_dash(&s.last_hardened_lsn),
        kb(s.log_send_queue_kb),
        kb(s.log_send_rate_kb),
        kb(s.redo_queue_kb),
        lag(s.secondary_lag_seconds),
    );
    let mib = |b: i64| b as f64 / 1048576.0;
    if s.seeding {
        out.push_str(&format!(
            "  seeding: {:.1} of {:.1} MiB at {:.1} MiB/s (attempt {})\n",
            mib(s.seeding_transferred_bytes),
            mib(s.seeding_size_bytes),
            mib(s.seeding_rate_bytes_per_second),
            s.seeding_attempts,
        ));
    } else if !s.seeding_state.is_empty() {
        out.push_str(&format!(
            "  newest seeding attempt ({}): {}{}\n",
            s.seeding_attempts,
            s.seeding_state,
            if s.seeding_error_number != 0 {
                format!(", error {}", s.seeding_error_number)
            } else {
                String::new()
            }
        ));
    }
    if s.connected_state != "CONNECTED" && s.last_connect_error_number != 0 {
        out.push_str(&format!(
            "  last connection error: {} {}\n",
            s.last_connect_error_number, s.last_connect_error
        ));
    }
    out
}

fn time(unix_ms: i64) -> String {
    crate::rfc3339::format(unix_ms)
}

pub fn started_json(answer: &op::StartMigrationResponse) -> Value {
    let mut value = answer
        .migration
        .as_ref()
        .map(migration_json)
        .unwrap_or(Value::Null);
    value["created"] = json!(answer.created);
    value
}

pub fn migration_json(m: &op::Migration) -> Value {
    json!({
        "id": m.id,
        "host": m.host,
        "instance": m.instance,
        "database": m.database,
        "target": m.target,
        "link_name": m.link_name,
        "state": m.state,
        "detail": m.detail,
        "created_by": m.created_by,
        "created_unix_ms": m.created_unix_ms,
        "updated_unix_ms": m.updated_unix_ms,
        "accepted_warnings": m.accepted_warnings,
        "steps": m.steps.iter().map(|s| json!({
            "name": s.name,
            "side": s.side,
            "state": s.state,
            "detail": s.detail,
            "already_done": s.already_done,
            "attempts": s.attempts,
            "started_unix_ms": s.started_unix_ms,
            "finished_unix_ms": s.finished_unix_ms,
        })).collect::<Vec<_>>(),
        "link": m.link.as_ref().map(|l| json!({
            "observed_unix_ms": l.observed_unix_ms,
            "replica_state": l.replica_state,
            "synchronization_health": l.synchronization_health,
            "connected_state": l.connected_state,
            "last_hardened_lsn": l.last_hardened_lsn,
            "send_lag_seconds": (l.send_lag_seconds >= 0).then_some(l.send_lag_seconds),
            "redo_lag_seconds": (l.redo_lag_seconds >= 0).then_some(l.redo_lag_seconds),
            "error": l.error,
            "partner_certificate": l.partner_certificate,
            "partner_certificate_expiry": l.partner_certificate_expiry,
            "replication_mode": l.replication_mode,
            "link_role": l.link_role,
        })),
        "sql_server": m.sql_server.as_ref().map(|s| json!({
            "observed_unix_ms": s.observed_unix_ms,
            "connected_state": s.connected_state,
            "last_connect_error_number": s.last_connect_error_number,
            "last_connect_error": s.last_connect_error,
            "synchronization_state": s.synchronization_state,
            "synchronization_health": s.synchronization_health,
            "end_of_log_lsn": s.end_of_log_lsn,
            "last_commit_lsn": s.last_commit_lsn,
            "last_hardened_lsn": s.last_hardened_lsn,
            "log_send_queue_kb": (s.log_send_queue_kb >= 0).then_some(s.log_send_queue_kb),
            "log_send_rate_kb": (s.log_send_rate_kb >= 0).then_some(s.log_send_rate_kb),
            "redo_queue_kb": (s.redo_queue_kb >= 0).then_some(s.redo_queue_kb),
            "secondary_lag_seconds": (s.secondary_lag_seconds >= 0).then_some(s.secondary_lag_seconds),
            "seeding": s.seeding,
            "seeding_transferred_bytes": s.seeding_transferred_bytes,
            "seeding_size_bytes": s.seeding_size_bytes,
            "seeding_rate_bytes_per_second": s.seeding_rate_bytes_per_second,
            "seeding_state": s.seeding_state,
            "seeding_error_number": s.seeding_error_number,
            "seeding_attempts": s.seeding_attempts,
            "synchronous_commit": s.synchronous_commit,
            "local_hardened_lsn": s.local_hardened_lsn,
            "user_sessions": (s.user_sessions >= 0).then_some(s.user_sessions),
        })),
        "gates": m.gates.iter().map(|g| json!({
            "name": g.name,
            "open": g.open,
            "evidence": g.evidence,
            "reason": g.reason,
            "queued": g.queued,
        })).collect::<Vec<_>>(),
    })
}
