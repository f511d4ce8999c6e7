//! Rendering for the CLI: aligned tables for people, JSON for scripts.

use ferry_proto::operator::v1::{CommandInfo, Host, HostDetail};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    /// `ferry assess report` only.
    Csv,
}

/// Pretty JSON on stdout, for scripts.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Left-aligned columns separated by two spaces.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

/// "12s ago", "3m ago", "never".
pub fn ago(unix_ms: i64, now_ms: i64) -> String {
    if unix_ms <= 0 {
        return "never".into();
    }
    format!("{} ago", span((now_ms - unix_ms).max(0)))
}

/// "in 23h", or "5m ago" for a time already past.
pub fn until(unix_ms: i64, now_ms: i64) -> String {
    if unix_ms >= now_ms {
        format!("in {}", span(unix_ms - now_ms))
    } else {
        ago(unix_ms, now_ms)
    }
}

/// A duration in the largest unit that keeps two significant digits or so.
fn span(ms: i64) -> String {
    let secs = ms / 1000;
    match secs {
        0..=119 => format!("{secs}s"),
        120..=7199 => format!("{}m", secs / 60),
        7200..=172_799 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

pub fn hosts_table(hosts: &[Host], now_ms: i64) -> String {
    let rows: Vec<Vec<String>> = hosts
        .iter()
        .map(|h| {
            vec![
                h.id.clone(),
                h.name.clone(),
                h.status.clone(),
                ago(h.last_seen_unix_ms, now_ms),
                h.instance_count.to_string(),
                h.database_count.to_string(),
                h.agent_version.clone(),
                labels_text(h),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "NAME",
            "STATUS",
            "LAST SEEN",
            "INSTANCES",
            "DATABASES",
            "VERSION",
            "LABELS",
        ],
        &rows,
    )
}

pub fn host_json(h: &Host) -> Value {
    json!({
        "id": h.id, "name": h.name, "status": h.status,
        "enrolled_unix_ms": h.enrolled_unix_ms, "last_seen_unix_ms": h.last_seen_unix_ms,
        "agent_version": h.agent_version, "hostname": h.hostname, "os": h.os,
        "instance_count": h.instance_count, "database_count": h.database_count,
        "certificate_not_after_unix_ms": h.certificate_not_after_unix_ms,
        "labels": h.labels,
    })
}

/// `env=prod, site=paris` in key order, or `(none)`.
pub fn labels_text(h: &Host) -> String {
    let mut pairs: Vec<String> = h.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    if pairs.is_empty() {
        "(no labels)".into()
    } else {
        pairs.join(", ")
    }
}

pub fn host_detail_json(d: &HostDetail) -> Value {
    let instances: Vec<Value> = d
        .instances
        .iter()
        .map(|i| {
            let databases: Vec<Value> = i
                .databases
                .iter()
                .map(|db| json!({
                    "name": db.name, "database_id": db.database_id, "state": db.state,
                    "recovery_model": db.recovery_model, "compatibility_level": db.compatibility_level,
                    "size_bytes": db.size_bytes, "data_file_count": db.data_file_count,
                    "log_file_count": db.log_file_count,
                }))
                .collect();
            json!({
                "name": i.name, "address": i.address, "reachable": i.reachable, "error": i.error,
                "server_name": i.server_name, "product_version": i.product_version,
                "major_version": i.major_version, "product_level": i.product_level,
                "product_update_level": i.product_update_level, "edition": i.edition,
                "engine_edition": i.engine_edition, "collation": i.collation,
                "hadr_enabled": i.hadr_enabled, "host_platform": i.host_platform,
                "updated_unix_ms": i.updated_unix_ms, "databases": databases,
            })
        })
        .collect();
    json!({
        "host": d.host.as_ref().map(host_json),
        "revoked_reason": d.revoked_reason,
        "reports_received": d.reports_received,
        "refused_reports": d.refused_reports.iter().map(|r| json!({
            "report_id": r.report_id, "kind": r.kind, "reason": r.reason,
            "refused_unix_ms": r.refused_unix_ms,
        })).collect::<Vec<_>>(),
        "instances": instances,
    })
}

pub fn host_detail_text(d: &HostDetail, now_ms: i64) -> String {
    let mut out = String::new();
    if let Some(h) = &d.host {
        out.push_str(&format!(
            "Host {} ({})\n  status:      {}\n  last seen:   {}\n  agent:       {} on {} ({})\n  certificate: expires {}\n  reports:     {}\n",
            h.name, h.id, h.status, ago(h.last_seen_unix_ms, now_ms), h.agent_version, h.hostname, h.os,
            until(h.certificate_not_after_unix_ms, now_ms), d.reports_received
        ));
        if !d.revoked_reason.is_empty() {
            out.push_str(&format!("  revoked:     {}\n", d.revoked_reason));
        }
        for r in &d.refused_reports {
            out.push_str(&format!(
                "  refused:     {} report {} {}: {}\n",
                r.kind,
                r.report_id,
                ago(r.refused_unix_ms, now_ms),
                r.reason
            ));
        }
    }
    for i in &d.instances {
        out.push('\n');
        if i.reachable {
            out.push_str(&format!(
                "Instance {} at {}: {} {} {} {} (build {}), collation {}, Always On {}\n",
                i.name,
                i.address,
                i.server_name,
                i.edition,
                i.product_level,
                i.product_update_level,
                i.product_version,
                i.collation,
                if i.hadr_enabled {
                    "enabled"
                } else {
                    "disabled"
                }
            ));
            let rows: Vec<Vec<String>> = i
                .databases
                .iter()
                .map(|db| {
                    vec![
                        db.name.clone(),
                        db.state.clone(),
                        db.recovery_model.clone(),
                        db.compatibility_level.to_string(),
                        format!("{:.1}", db.size_bytes as f64 / 1_048_576.0),
                        db.data_file_count.to_string(),
                        db.log_file_count.to_string(),
                    ]
                })
                .collect();
            out.push_str(&table(
                &[
                    "DATABASE",
                    "STATE",
                    "RECOVERY",
                    "COMPAT",
                    "SIZE MB",
                    "DATA FILES",
                    "LOG FILES",
                ],
                &rows,
            ));
            out.push('\n');
        } else {
            out.push_str(&format!(
                "Instance {} at {}: unreachable: {}\n",
                i.name, i.address, i.error
            ));
        }
    }
    out
}

pub fn commands_table(commands: &[CommandInfo], now_ms: i64) -> String {
    let rows: Vec<Vec<String>> = commands
        .iter()
        .map(|c| {
            let error = if c.error_code.is_empty() {
                String::new()
            } else {
                format!("{}: {}", c.error_code, c.error_message)
            };
            vec![
                c.id.clone(),
                c.agent_id.clone(),
                c.kind.clone(),
                c.state.clone(),
                ago(c.created_unix_ms, now_ms),
                error,
            ]
        })
        .collect();
    table(&["ID", "HOST", "KIND", "STATE", "CREATED", "ERROR"], &rows)
}

pub fn command_json(c: &CommandInfo) -> Value {
    json!({
        "id": c.id, "agent_id": c.agent_id, "kind": c.kind, "state": c.state,
        "created_unix_ms": c.created_unix_ms, "updated_unix_ms": c.updated_unix_ms,
        "expires_unix_ms": c.expires_unix_ms, "created_by": c.created_by,
        "error_code": c.error_code, "error_message": c.error_message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_ages_read_well() {
        let t = table(&["A", "LONGER"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    LONGER\nxyz  1");
        assert_eq!(ago(0, 5000), "never");
        assert_eq!(ago(1000, 6000), "5s ago");
        assert_eq!(ago(1000, 3 * 3600 * 1000 + 1000), "3h ago");
        assert_eq!(until(86_400_000 + 5000, 5000), "in 24h");
        assert_eq!(until(1000, 61_000), "60s ago");
    }
}
