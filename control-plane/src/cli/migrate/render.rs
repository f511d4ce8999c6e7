//! How migrations print: a table (state, lag, what it means), the detail view (steps
//! with their timings and what each found, the link as Azure reports it), and JSON.

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

fn link_lag(m: &op::Migration) -> String {
    m.link
        .as_ref()
        .map_or("--".into(), |l| lag(l.send_lag_seconds))
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
        if !l.error.is_empty() {
            out.push_str(&format!("  most recent link error: {}\n", l.error));
        }
    }
    out
}

fn time(unix_ms: i64) -> String {
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
        })),
    })
}
