//! An agent's Assessment and ConnectionTest reports, validated into domain types:
//! names unique, scopes, severities and statuses known, sizes bounded. A bad field is
//! `invalid_argument` naming it.

use std::collections::HashSet;

use ferry_proto::agent::v1 as wire;

use super::convert::text;
use super::limits::{MAX_CHECKS, MAX_DATABASES, MAX_INSTANCES, MAX_ITEMS};
use super::ApiError;
use crate::assess::{
    AssessedDatabase, CheckResult, CheckStatus, Finding, InstanceAssessment, Scope, Severity,
};
use crate::connection_test::InstanceConnection;

/// Findings of one check: one per database at most.
const MAX_FINDINGS: usize = MAX_DATABASES;

pub fn instances(
    instances: Vec<wire::InstanceAssessment>,
) -> Result<Vec<InstanceAssessment>, ApiError> {
    unique_names("assessment.instances", instances.iter().map(|i| &i.name))?;
    instances.into_iter().map(instance).collect()
}

/// At most MAX_INSTANCES instances, each named, no name twice.
fn unique_names<'a>(
    field: &'static str,
    names: impl ExactSizeIterator<Item = &'a String>,
) -> Result<(), ApiError> {
    if names.len() > MAX_INSTANCES {
        return Err(ApiError::invalid(
            field,
            format!("more than {MAX_INSTANCES}"),
        ));
    }
    let mut seen = HashSet::new();
    for name in names {
        if name.is_empty() || !seen.insert(name) {
            return Err(ApiError::invalid(
                field,
                format!("an instance name is empty or repeated ({name:?})"),
            ));
        }
    }
    Ok(())
}

/// A connection test's instances: names unique, results as an assessment's.
pub fn connections(
    instances: Vec<wire::InstanceConnection>,
) -> Result<Vec<InstanceConnection>, ApiError> {
    unique_names(
        "connection_test.instances",
        instances.iter().map(|i| &i.name),
    )?;
    instances
        .into_iter()
        .map(|i| {
            Ok(InstanceConnection {
                name: text("connection_test.instances.name", &i.name)?,
                error: text("connection_test.instances.error", &i.error)?,
                duration_ms: i.duration_ms,
                results: results(i.results)?,
            })
        })
        .collect()
}

fn instance(i: wire::InstanceAssessment) -> Result<InstanceAssessment, ApiError> {
    if i.databases.len() > MAX_DATABASES {
        return Err(ApiError::invalid(
            "assessment.instances",
            format!("more than {MAX_DATABASES} databases"),
        ));
    }
    let mut names = HashSet::new();
    let databases = i
        .databases
        .into_iter()
        .map(|d| {
            if d.name.is_empty() || !names.insert(d.name.clone()) {
                return Err(ApiError::invalid(
                    "assessment.instances.databases.name",
                    format!("empty or repeated ({:?})", d.name),
                ));
            }
            Ok(AssessedDatabase {
                name: text("assessment.instances.databases.name", &d.name)?,
                size_bytes: d.size_bytes,
                state: text("assessment.instances.databases.state", &d.state)?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    let results = results(i.results)?;
    Ok(InstanceAssessment {
        name: text("assessment.instances.name", &i.name)?,
        reachable: i.reachable,
        error: text("assessment.instances.error", &i.error)?,
        product_version: text("assessment.instances.product_version", &i.product_version)?,
        databases,
        results,
    })
}

/// An instance's check results (an assessment's or a connection test's): ids unique,
/// every field known and bounded.
pub fn results(results: Vec<wire::CheckResult>) -> Result<Vec<CheckResult>, ApiError> {
    if results.len() > MAX_CHECKS {
        return Err(ApiError::invalid(
            "instances.results",
            format!("more than {MAX_CHECKS} check results"),
        ));
    }
    let mut ids = HashSet::new();
    results
        .into_iter()
        .map(|r| {
            if r.check_id.is_empty() || !ids.insert(r.check_id.clone()) {
                return Err(ApiError::invalid(
                    "instances.results.check_id",
                    format!("empty or repeated ({:?})", r.check_id),
                ));
            }
            result(r)
        })
        .collect()
}

fn result(r: wire::CheckResult) -> Result<CheckResult, ApiError> {
    let field = "instances.results";
    let status = match r.status() {
        wire::CheckStatus::Passed => CheckStatus::Passed,
        wire::CheckStatus::Found => CheckStatus::Found,
        wire::CheckStatus::Unknown => CheckStatus::Unknown,
        wire::CheckStatus::Unspecified => {
            return Err(ApiError::invalid(
                "instances.results.status",
                format!("unspecified for {}", r.check_id),
            ))
        }
    };
    if r.findings.len() > MAX_FINDINGS {
        return Err(ApiError::invalid(
            field,
            format!("{}: more than {MAX_FINDINGS} findings", r.check_id),
        ));
    }
    Ok(CheckResult {
        scope: Scope::parse(&r.scope).ok_or_else(|| {
            ApiError::invalid("instances.results.scope", "use instance or database")
        })?,
        severity: Severity::parse(&r.severity).ok_or_else(|| {
            ApiError::invalid("instances.results.severity", "use blocker, warning or info")
        })?,
        title: text("instances.results.title", &r.title)?,
        remedy: text("instances.results.remedy", &r.remedy)?,
        status,
        unknown_cause: text("instances.results.unknown_cause", &r.unknown_cause)?,
        findings: r
            .findings
            .into_iter()
            .map(finding)
            .collect::<Result<_, ApiError>>()?,
        check_id: text("instances.results.check_id", &r.check_id)?,
    })
}

fn finding(f: wire::Finding) -> Result<Finding, ApiError> {
    if f.evidence.len() > MAX_ITEMS || f.objects.len() > MAX_ITEMS {
        return Err(ApiError::invalid(
            "instances.results.findings",
            format!("more than {MAX_ITEMS} evidence items or objects"),
        ));
    }
    Ok(Finding {
        database: if f.database.is_empty() {
            None
        } else {
            Some(text("instances.results.findings.database", &f.database)?)
        },
        message: text("instances.results.findings.message", &f.message)?,
        evidence: f
            .evidence
            .into_iter()
            .map(|e| {
                Ok((
                    text("instances.results.findings.evidence.key", &e.key)?,
                    text("instances.results.findings.evidence.value", &e.value)?,
                ))
            })
            .collect::<Result<_, ApiError>>()?,
        objects: f
            .objects
            .iter()
            .map(|o| text("instances.results.findings.objects", o))
            .collect::<Result<_, ApiError>>()?,
    })
}
