//! Rendering for `ferry assess`: run progress, the fleet report (table, JSON, CSV) and
//! one host's findings with evidence and remedies.

use ferry_proto::operator::v1::{
    AssessmentDetail, AssessmentReport, AssessmentRun, CheckDetail, DatabaseReadiness,
    InstanceReadiness, ReadinessCounts,
};
use serde_json::{json, Value};

use crate::cli::output::{ago, table, until};

/// One line of progress: "[######....] 12/20 hosts finished (3 running, 5 offline,
/// waiting)", from the run's target counts.
pub fn progress_line(run: &AssessmentRun) -> String {
    const WIDTH: usize = 30;
    let c = run.target_counts.unwrap_or_default();
    let finished = (c.done + c.failed + c.timed_out) as usize;
    let filled = finished * WIDTH / (c.total as usize).max(1);
    let mut waiting = Vec::new();
    for (n, label) in [
        (c.running, "running"),
        (c.queued, "queued"),
        (c.offline_waiting, "offline, waiting"),
        (c.failed, "failed"),
        (c.timed_out, "timed out"),
    ] {
        if n > 0 {
            waiting.push(format!("{n} {label}"));
        }
    }
    format!(
        "[{}{}] {finished}/{} hosts finished{}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled.min(WIDTH)),
        c.total,
        if waiting.is_empty() {
            String::new()
        } else {
            format!(" ({})", waiting.join(", "))
        }
    )
}

pub fn run_text(run: &AssessmentRun, now_ms: i64) -> String {
    let mut out = format!(
        "Assessment {} ({}, {}) started {} by {}, deadline {}: {}\n",
        run.id,
        run.selector,
        run.trigger,
        ago(run.created_unix_ms, now_ms),
        run.created_by,
        until(run.deadline_unix_ms, now_ms),
        run.state
    );
    let rows: Vec<Vec<String>> = run
        .targets
        .iter()
        .map(|t| vec![t.host.clone(), t.state.clone(), t.error.clone()])
        .collect();
    out.push_str(&table(&["HOST", "STATE", "ERROR"], &rows));
    out.push('\n');
    out
}

pub fn run_json(run: &AssessmentRun) -> Value {
    json!({
        "id": run.id, "created_by": run.created_by, "created_unix_ms": run.created_unix_ms,
        "deadline_unix_ms": run.deadline_unix_ms, "selector": run.selector,
        "trigger": run.trigger, "state": run.state,
        "target_counts": run.target_counts.map(|c| json!({
            "total": c.total, "queued": c.queued, "offline_waiting": c.offline_waiting,
            "running": c.running, "done": c.done, "failed": c.failed, "timed_out": c.timed_out,
        })),
        "targets": run.targets.iter().map(|t| json!({
            "host": t.host, "host_id": t.host_id, "state": t.state, "error": t.error,
        })).collect::<Vec<_>>(),
    })
}

pub(super) fn counts_text(c: &ReadinessCounts) -> String {
    format!(
        "{} ready, {} ready with warnings, {} not ready, {} unknown",
        c.ready, c.ready_with_warnings, c.not_ready, c.unknown
    )
}

pub(super) fn counts_json(c: &ReadinessCounts) -> Value {
    json!({"ready": c.ready, "ready_with_warnings": c.ready_with_warnings, "not_ready": c.not_ready, "unknown": c.unknown})
}

fn instance_json(i: &InstanceReadiness) -> Value {
    json!({
        "host": i.host, "instance": i.instance, "readiness": i.readiness,
        "reachable": i.reachable, "error": i.error, "product_version": i.product_version,
        "databases": i.databases.as_ref().map(counts_json),
    })
}

fn database_json(d: &DatabaseReadiness) -> Value {
    json!({
        "host": d.host, "instance": d.instance, "database": d.database,
        "readiness": d.readiness, "reasons": d.reasons, "size_bytes": d.size_bytes,
    })
}

/// The readiness summary alone (what `--wait` and `ferry-lab` print).
pub fn summary_text(report: &AssessmentReport) -> String {
    let databases = report.databases.unwrap_or_default();
    let total =
        databases.ready + databases.ready_with_warnings + databases.not_ready + databases.unknown;
    format!(
        "{total} databases on {} instances: {}\n",
        report.instances.len(),
        counts_text(&databases)
    )
}

pub fn report_text(report: &AssessmentReport, now_ms: i64) -> String {
    let mut out = String::new();
    if let Some(run) = &report.run {
        out.push_str(&format!(
            "Assessment {} ({}) started {}: {}\n",
            run.id,
            run.selector,
            ago(run.created_unix_ms, now_ms),
            run.state
        ));
    }
    out.push_str(&summary_text(report));
    out.push_str("\nRules that found something or could not run:\n");
    let rows: Vec<Vec<String>> = report
        .rules
        .iter()
        .map(|r| {
            vec![
                r.check_id.clone(),
                r.severity.clone(),
                r.instances.to_string(),
                r.databases.to_string(),
                r.unknown.to_string(),
                r.title.clone(),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "CHECK",
            "SEVERITY",
            "INSTANCES",
            "DATABASES",
            "UNKNOWN",
            "TITLE",
        ],
        &rows,
    ));
    out.push_str("\n\nInstances:\n");
    let rows: Vec<Vec<String>> = report
        .instances
        .iter()
        .map(|i| {
            let c = i.databases.unwrap_or_default();
            vec![
                i.host.clone(),
                i.instance.clone(),
                i.readiness.clone(),
                i.product_version.clone(),
                c.ready.to_string(),
                c.ready_with_warnings.to_string(),
                c.not_ready.to_string(),
                c.unknown.to_string(),
                i.error.clone(),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "HOST",
            "INSTANCE",
            "READINESS",
            "VERSION",
            "READY",
            "WARNINGS",
            "NOT READY",
            "UNKNOWN",
            "ERROR",
        ],
        &rows,
    ));
    out.push_str("\n\nDatabases:\n");
    out.push_str(&databases_table(&report.database_details));
    out.push('\n');
    out
}

fn databases_table(databases: &[DatabaseReadiness]) -> String {
    let rows: Vec<Vec<String>> = databases
        .iter()
        .map(|d| {
            vec![
                d.host.clone(),
                d.instance.clone(),
                d.database.clone(),
                d.readiness.clone(),
                d.reasons.join(", "),
            ]
        })
        .collect();
    table(
        &["HOST", "INSTANCE", "DATABASE", "READINESS", "BECAUSE OF"],
        &rows,
    )
}

pub fn report_json(report: &AssessmentReport) -> Value {
    json!({
        "run": report.run.as_ref().map(run_json),
        "databases": report.databases.as_ref().map(counts_json),
        "rules": report.rules.iter().map(|r| json!({
            "check_id": r.check_id, "severity": r.severity, "title": r.title,
            "instances": r.instances, "databases": r.databases, "unknown": r.unknown,
        })).collect::<Vec<_>>(),
        "instances": report.instances.iter().map(instance_json).collect::<Vec<_>>(),
        "database_details": report.database_details.iter().map(database_json).collect::<Vec<_>>(),
    })
}

/// One row per database, for spreadsheets (RFC 4180 quoting).
pub fn report_csv(report: &AssessmentReport) -> String {
    let mut out = String::from("host,instance,database,readiness,reasons,size_bytes\n");
    for d in &report.database_details {
        let cells = [
            d.host.clone(),
            d.instance.clone(),
            d.database.clone(),
            d.readiness.clone(),
            d.reasons.join(" "),
            d.size_bytes.to_string(),
        ];
        let quoted: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    }
    out
}

fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

pub fn detail_text(detail: &AssessmentDetail) -> String {
    let mut out = format!("Host {} in assessment {}\n", detail.host, detail.run_id);
    for i in &detail.instances {
        out.push_str(&format!(
            "Instance {} ({}): {}{}\n",
            i.instance,
            if i.product_version.is_empty() {
                "version unknown"
            } else {
                &i.product_version
            },
            i.readiness,
            if i.error.is_empty() {
                String::new()
            } else {
                format!(": {}", i.error)
            }
        ));
    }
    out.push('\n');
    out.push_str(&databases_table(&detail.databases));
    out.push('\n');
    for c in &detail.checks {
        out.push('\n');
        out.push_str(&check_text(c));
    }
    out
}

/// A check's result: its id, scope, severity and title; why it could not run, or what
/// it found with the evidence; the fix and its page.
pub fn check_text(c: &CheckDetail) -> String {
    let mut out = format!(
        "{} [{} {}, {}] {}\n",
        c.check_id, c.scope, c.severity, c.instance, c.title
    );
    if c.status == "unknown" {
        out.push_str(&format!("  could not run: {}\n", c.unknown_cause));
    }
    for f in &c.findings {
        let place = if f.database.is_empty() {
            "instance".to_string()
        } else {
            format!("database {}", f.database)
        };
        out.push_str(&format!("  {place}: {}\n", f.message));
        for e in &f.evidence {
            out.push_str(&format!("    {} = {}\n", e.key, e.value));
        }
        if !f.objects.is_empty() {
            out.push_str(&format!("    affects: {}\n", f.objects.join(", ")));
        }
    }
    out.push_str(&format!(
        "  fix: {}\n  see docs/checks/{}.md\n",
        c.remedy, c.check_id
    ));
    out
}

pub fn detail_json(detail: &AssessmentDetail) -> Value {
    json!({
        "run_id": detail.run_id, "host": detail.host,
        "instances": detail.instances.iter().map(instance_json).collect::<Vec<_>>(),
        "databases": detail.databases.iter().map(database_json).collect::<Vec<_>>(),
        "checks": detail.checks.iter().map(check_json).collect::<Vec<_>>(),
    })
}

pub fn check_json(c: &CheckDetail) -> Value {
    json!({
        "instance": c.instance, "check_id": c.check_id, "scope": c.scope,
        "severity": c.severity, "title": c.title, "remedy": c.remedy,
        "status": c.status, "unknown_cause": c.unknown_cause,
        "findings": c.findings.iter().map(|f| json!({
            "database": f.database, "message": f.message,
            "evidence": f.evidence.iter().map(|e| json!({"key": e.key, "value": e.value})).collect::<Vec<_>>(),
            "objects": f.objects,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::operator::v1::TargetCounts;

    #[test]
    fn csv_quotes_what_needs_it_and_progress_counts_states() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("plain"), "plain");
        let run = AssessmentRun {
            target_counts: Some(TargetCounts {
                total: 4,
                done: 2,
                offline_waiting: 1,
                running: 1,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            progress_line(&run),
            "[###############...............] 2/4 hosts finished (1 running, 1 offline, waiting)"
        );
        assert_eq!(
            progress_line(&AssessmentRun::default()),
            format!("[{}] 0/0 hosts finished", ".".repeat(30))
        );
    }
}
