//! Rendering `ferry assess diff`: fixed and new findings, readiness changes.

use ferry_proto::operator::v1::{AssessmentDiff, FindingChange, ReadinessChange};
use serde_json::{json, Value};

use super::render::{counts_json, counts_text};
use crate::cli::output::table;

pub fn diff_text(diff: &AssessmentDiff) -> String {
    let id = |run: &Option<ferry_proto::operator::v1::AssessmentRun>| {
        run.as_ref().map(|r| r.id.clone()).unwrap_or_default()
    };
    let mut out = format!("From {} to {}\n", id(&diff.from), id(&diff.to));
    out.push_str(&format!(
        "  before: {}\n  after:  {}\n",
        counts_text(&diff.from_databases.unwrap_or_default()),
        counts_text(&diff.to_databases.unwrap_or_default())
    ));
    for (title, changes) in [("Fixed", &diff.fixed), ("New findings", &diff.regressed)] {
        out.push_str(&format!("\n{title} ({}):\n", changes.len()));
        if !changes.is_empty() {
            out.push_str(&findings_table(changes));
        }
    }
    out.push_str(&format!(
        "\nReadiness changes ({}):\n",
        diff.readiness.len()
    ));
    if !diff.readiness.is_empty() {
        let rows: Vec<Vec<String>> = diff
            .readiness
            .iter()
            .map(|c| {
                vec![
                    c.host.clone(),
                    c.instance.clone(),
                    c.database.clone(),
                    or_absent(&c.from),
                    or_absent(&c.to),
                ]
            })
            .collect();
        out.push_str(&table(
            &["HOST", "INSTANCE", "DATABASE", "FROM", "TO"],
            &rows,
        ));
    }
    if !diff.not_compared.is_empty() {
        out.push_str(&format!(
            "\nNot compared (assessed in one run only): {}\n",
            diff.not_compared.join(", ")
        ));
    }
    out
}

fn or_absent(readiness: &str) -> String {
    match readiness {
        "" => "(absent)".into(),
        r => r.into(),
    }
}

fn findings_table(changes: &[FindingChange]) -> String {
    let rows: Vec<Vec<String>> = changes
        .iter()
        .map(|c| {
            vec![
                c.host.clone(),
                c.instance.clone(),
                if c.database.is_empty() {
                    "(instance)".into()
                } else {
                    c.database.clone()
                },
                c.check_id.clone(),
                c.severity.clone(),
                c.title.clone(),
            ]
        })
        .collect();
    table(
        &["HOST", "INSTANCE", "DATABASE", "CHECK", "SEVERITY", "TITLE"],
        &rows,
    )
}

pub fn diff_json(diff: &AssessmentDiff) -> Value {
    let finding = |c: &FindingChange| {
        json!({
            "host": c.host, "instance": c.instance, "database": c.database,
            "check_id": c.check_id, "severity": c.severity, "title": c.title,
        })
    };
    let readiness = |c: &ReadinessChange| {
        json!({
            "host": c.host, "instance": c.instance, "database": c.database,
            "from": c.from, "to": c.to,
        })
    };
    json!({
        "from": diff.from.as_ref().map(|r| r.id.clone()),
        "to": diff.to.as_ref().map(|r| r.id.clone()),
        "from_databases": diff.from_databases.as_ref().map(counts_json),
        "to_databases": diff.to_databases.as_ref().map(counts_json),
        "fixed": diff.fixed.iter().map(finding).collect::<Vec<_>>(),
        "regressed": diff.regressed.iter().map(finding).collect::<Vec<_>>(),
        "readiness": diff.readiness.iter().map(readiness).collect::<Vec<_>>(),
        "not_compared": diff.not_compared,
    })
}
