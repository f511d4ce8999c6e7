//! An assessment of every configured instance: read the facts over one connection per
//! instance (one instance at a time, so the load on the host stays bounded), evaluate
//! every check, and put the outcome in the report's wire form.

use std::time::{Duration, Instant};

use ferry_proto::agent::v1::{
    AssessedDatabase, Assessment, CheckResult, CheckStatus, Evidence, Finding, InstanceAssessment,
};

use crate::checks::{self, facts::Facts, Outcome, Status};
use crate::config::{AgentConfig, InstanceConfig};
use crate::sql;
use ferry_proto::clock::now_ms;

pub async fn run(config: &AgentConfig, command_id: &str) -> Assessment {
    let mut instances = Vec::with_capacity(config.instances.len());
    for instance in &config.instances {
        instances.push(assess(instance).await);
    }
    Assessment {
        command_id: command_id.to_string(),
        instances,
    }
}

async fn assess(instance: &InstanceConfig) -> InstanceAssessment {
    let started_unix_ms = now_ms();
    let started = Instant::now();
    let timeout = Duration::from_secs(instance.query_timeout_secs);
    let (facts, error) = match sql::connect(instance).await {
        Ok(mut conn) => (sql::assessment::collect(&mut conn, timeout).await, None),
        Err(e) => {
            tracing::warn!(instance = %instance.name, error = %e, "assessment could not connect");
            let why = e.to_string();
            (Facts::all_missing(&why), Some(why))
        }
    };
    let mut found = outcome(&instance.name, &facts);
    found.reachable = error.is_none();
    found.error = error.unwrap_or_default();
    found.started_unix_ms = started_unix_ms;
    found.duration_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    found
}

/// The wire form of one check's outcome.
pub fn result<F>(outcome: Outcome<F>) -> CheckResult {
    let check = outcome.check;
    let mut result = CheckResult {
        check_id: check.id.into(),
        scope: check.scope.as_str().into(),
        severity: check.severity.as_str().into(),
        title: check.title.into(),
        remedy: check.remedy.into(),
        ..Default::default()
    };
    match outcome.status {
        Status::Passed => result.set_status(CheckStatus::Passed),
        Status::Unknown(why) => {
            result.set_status(CheckStatus::Unknown);
            result.unknown_cause = why;
        }
        Status::Found(hits) => {
            result.set_status(CheckStatus::Found);
            result.findings = hits
                .into_iter()
                .map(|hit| Finding {
                    database: hit.database.unwrap_or_default(),
                    message: hit.message,
                    evidence: hit
                        .evidence
                        .into_iter()
                        .map(|(key, value)| Evidence { key, value })
                        .collect(),
                    objects: hit.objects,
                })
                .collect();
        }
    }
    result
}

/// The wire form of every check's outcome on one instance's facts.
pub fn outcome(name: &str, facts: &Facts) -> InstanceAssessment {
    let results = checks::run(facts).into_iter().map(result).collect();
    InstanceAssessment {
        name: name.to_string(),
        product_version: facts
            .server
            .as_ref()
            .map(|s| s.product_version.clone())
            .unwrap_or_default(),
        databases: facts
            .databases
            .as_ref()
            .map(|all| {
                all.iter()
                    .map(|d| AssessedDatabase {
                        name: d.name.clone(),
                        size_bytes: d.size_bytes,
                        state: d.state.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        results,
        ..Default::default()
    }
}
