//! The operator API's assessment calls: start a run, follow it, read its report and one
//! host's findings. Called from the `Operator` impl in `operator.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferry_proto::operator::v1 as op;

use super::{paging, ApiError, Context};
use crate::assess::diff;
use crate::assess::readiness::Readiness;
use crate::assess::runs::TargetState;
use crate::service;
use crate::service::rollups::Rollup;
use crate::store::assessments::{DatabaseRow, InstanceKey, InstanceRow, RunRecord, TargetRecord};
use ferry_proto::clock::now_ms;

pub async fn start(
    shared: &Context,
    actor: String,
    request: op::StartAssessmentRequest,
) -> Result<op::AssessmentRun, ApiError> {
    let ask = service::assessment::RunAsk {
        all: request.all,
        hosts: request.hosts,
        labels: request.labels,
        deadline_secs: u64::from(request.deadline_seconds),
    };
    let run = service::assessment::start(shared, actor, ask).await?;
    run_summary(shared, run).await
}

/// The run with its counts, and a page of its targets by host name.
pub async fn get(
    shared: &Context,
    request: &op::GetAssessmentRunRequest,
) -> Result<op::AssessmentRun, ApiError> {
    let run = find_run(shared, &request.run_id).await?;
    let size = paging::size(request.page_size);
    let after = paging::key(&request.page_token, 2)?;
    let after = after.as_ref().map(|k| (k[0].as_str(), k[1].as_str()));
    let (deadline, now) = (run.deadline_at_ms, now_ms());
    let silence = silence_ms(shared);
    let page = shared
        .store
        .assessment_targets_page(&run.id, after, size)
        .await?;
    let next_page_token = paging::next_token(&page, size, |t| {
        vec![t.host.clone(), t.agent_id.to_string()]
    });
    let targets = page
        .iter()
        .map(|t| {
            let state = TargetState::derive(t, deadline, now, silence);
            op::AssessmentTarget {
                host: t.host.clone(),
                host_id: t.agent_id.to_string(),
                state: state.as_str().into(),
                error: match state {
                    TargetState::Failed => t.command_error.clone(),
                    TargetState::TimedOut => {
                        "the host did not report before the run's deadline".into()
                    }
                    _ => String::new(),
                },
            }
        })
        .collect();
    Ok(op::AssessmentRun {
        targets,
        next_page_token,
        ..run_summary(shared, run).await?
    })
}

/// How long an agent may be silent and still count as online.
fn silence_ms(shared: &Context) -> i64 {
    (shared.config.liveness.disconnected_after_secs * 1000) as i64
}

pub async fn report(
    shared: &Context,
    request: op::GetAssessmentReportRequest,
) -> Result<op::AssessmentReport, ApiError> {
    let run = find_run(shared, &request.run_id).await?;
    let size = paging::size(request.page_size);
    let after = paging::key(&request.page_token, 3)?.map(|key| InstanceKey {
        host: key[0].clone(),
        agent_id: key[1].clone(),
        instance: key[2].clone(),
    });
    let store = &shared.store;
    let instances = store
        .assessment_instances_page(&run.id, after.as_ref(), size)
        .await?;
    let databases = store.assessment_databases_of(&run.id, &instances).await?;
    // The whole-run figures on the first page only: each is a pass over the run, kept
    // while no host's assessment arrives for it.
    let first = after.is_none();
    let (run, rollup) = if first {
        let now = now_ms();
        let groups = store
            .assessment_target_groups(&run.id, now - silence_ms(shared))
            .await?;
        let reported: u32 = groups
            .iter()
            .filter(|(t, _)| t.reported_at_ms.is_some())
            .map(|(_, n)| n)
            .sum();
        let rollup = match shared.rollups.get(&run.id, reported) {
            Some(kept) => kept,
            None => {
                let read = Arc::new(Rollup {
                    rules: store.assessment_rules(&run.id).await?,
                    readiness: store.assessment_readiness_counts(&run.id).await?,
                });
                shared.rollups.put(&run.id, reported, read.clone());
                read
            }
        };
        (summary(shared, run, &groups, now), Some(rollup))
    } else {
        (run_identity(run), None)
    };
    let mut readiness = op::ReadinessCounts::default();
    for (r, n) in rollup.iter().flat_map(|r| r.readiness.iter()) {
        *count_of(&mut readiness, *r) += n;
    }
    let rules = rollup.map(|r| r.rules.clone()).unwrap_or_default();
    Ok(op::AssessmentReport {
        databases: first.then_some(readiness),
        rules: rules
            .into_iter()
            .filter(|r| r.instances > 0 || r.unknown > 0)
            .map(|r| op::RuleRollup {
                check_id: r.check_id,
                severity: r.severity.as_str().into(),
                title: r.title,
                instances: r.instances,
                databases: r.databases,
                unknown: r.unknown,
            })
            .collect(),
        next_page_token: paging::next_token(&instances, size, |i| {
            let key = i.key();
            vec![key.host, key.agent_id, key.instance]
        }),
        instances: instance_rows(&instances, &databases),
        database_details: databases.iter().map(database_row).collect(),
        run: Some(run),
    })
}

pub async fn show(
    shared: &Context,
    request: op::ShowAssessmentRequest,
) -> Result<op::AssessmentDetail, ApiError> {
    let agent = crate::service::lookup::find_host(shared, &request.host).await?;
    let run = if request.run_id.is_empty() {
        shared
            .store
            .list_assessment_runs(Some(agent.id), 1)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "host {} has not been assessed; run `ferry assess run --host {}`",
                    agent.name, agent.name
                ))
            })?
    } else {
        find_run(shared, &request.run_id).await?
    };
    let database = (!request.database.is_empty()).then_some(request.database.as_str());
    let store = &shared.store;
    let mut databases = store.assessment_databases(&run.id, Some(agent.id)).await?;
    if let Some(name) = database {
        databases.retain(|d| d.database == name);
        if databases.is_empty() {
            return Err(ApiError::NotFound(format!(
                "run {} assessed no database {name:?} on host {}",
                run.id, agent.name
            )));
        }
    }
    let instances = store.assessment_instances(&run.id, Some(agent.id)).await?;
    let checks = store
        .assessment_results(&run.id, agent.id, database)
        .await?
        .into_iter()
        .map(|row| check_detail(row.instance, row.result))
        .collect();
    Ok(op::AssessmentDetail {
        run_id: run.id,
        host: agent.name,
        instances: instance_rows(&instances, &databases),
        databases: databases.iter().map(database_row).collect(),
        checks,
    })
}

async fn find_run(shared: &Context, run_id: &str) -> Result<RunRecord, ApiError> {
    let found = if run_id.is_empty() {
        shared
            .store
            .list_assessment_runs(None, 1)
            .await?
            .into_iter()
            .next()
    } else {
        shared.store.get_assessment_run(run_id).await?
    };
    found.ok_or_else(|| match run_id {
        "" => ApiError::NotFound(
            "no assessment has run yet; start one with `ferry assess run --all`".into(),
        ),
        id => ApiError::NotFound(format!(
            "no assessment run {id:?}; list hosts' runs with `ferry assess report`"
        )),
    })
}

/// The run without its state and targets (a report's later pages).
fn run_identity(run: RunRecord) -> op::AssessmentRun {
    op::AssessmentRun {
        id: run.id,
        created_by: run.created_by,
        created_unix_ms: run.created_at_ms,
        deadline_unix_ms: run.deadline_at_ms,
        selector: run.selector,
        trigger: run.trigger,
        ..Default::default()
    }
}

/// The run with its state and its targets counted by state (no targets listed): one
/// grouped query, whatever the number of hosts.
async fn run_summary(shared: &Context, run: RunRecord) -> Result<op::AssessmentRun, ApiError> {
    let now = now_ms();
    let groups = shared
        .store
        .assessment_target_groups(&run.id, now - silence_ms(shared))
        .await?;
    Ok(summary(shared, run, &groups, now))
}

/// The run with its state and its targets counted from `groups` (one representative
/// target each, and how many are like it), judged at `now`: the time the groups' online
/// line was drawn from, or a representative seen at that line would count as offline.
fn summary(
    shared: &Context,
    run: RunRecord,
    groups: &[(TargetRecord, u32)],
    now: i64,
) -> op::AssessmentRun {
    let silence = silence_ms(shared);
    let mut counts = op::TargetCounts::default();
    for (target, n) in groups {
        let state = TargetState::derive(target, run.deadline_at_ms, now, silence);
        counts.total += n;
        *match state {
            TargetState::Queued => &mut counts.queued,
            TargetState::OfflineWaiting => &mut counts.offline_waiting,
            TargetState::Running => &mut counts.running,
            TargetState::Done => &mut counts.done,
            TargetState::Failed => &mut counts.failed,
            TargetState::TimedOut => &mut counts.timed_out,
        } += n;
    }
    let finished = counts.queued + counts.offline_waiting + counts.running == 0;
    op::AssessmentRun {
        state: if finished { "complete" } else { "running" }.into(),
        target_counts: Some(counts),
        ..run_identity(run)
    }
}

fn counts(readiness: impl Iterator<Item = Readiness>) -> op::ReadinessCounts {
    let mut c = op::ReadinessCounts::default();
    for r in readiness {
        *count_of(&mut c, r) += 1;
    }
    c
}

/// The counter of readiness `r`.
fn count_of(c: &mut op::ReadinessCounts, r: Readiness) -> &mut u32 {
    match r {
        Readiness::Ready => &mut c.ready,
        Readiness::ReadyWithWarnings => &mut c.ready_with_warnings,
        Readiness::NotReady => &mut c.not_ready,
        Readiness::Unknown => &mut c.unknown,
    }
}

fn instance_rows(
    instances: &[InstanceRow],
    databases: &[DatabaseRow],
) -> Vec<op::InstanceReadiness> {
    let mut per_instance: BTreeMap<(&str, &str), Vec<Readiness>> = BTreeMap::new();
    for d in databases {
        per_instance
            .entry((d.host.as_str(), d.instance.as_str()))
            .or_default()
            .push(d.readiness);
    }
    instances
        .iter()
        .map(|i| op::InstanceReadiness {
            host: i.host.clone(),
            instance: i.instance.clone(),
            readiness: i.readiness.as_str().into(),
            reachable: i.reachable,
            error: i.error.clone(),
            product_version: i.product_version.clone(),
            databases: Some(counts(
                per_instance
                    .get(&(i.host.as_str(), i.instance.as_str()))
                    .into_iter()
                    .flatten()
                    .copied(),
            )),
        })
        .collect()
}

fn database_row(d: &DatabaseRow) -> op::DatabaseReadiness {
    op::DatabaseReadiness {
        host: d.host.clone(),
        instance: d.instance.clone(),
        database: d.database.clone(),
        readiness: d.readiness.as_str().into(),
        reasons: d.reasons.clone(),
        size_bytes: d.size_bytes,
    }
}

pub async fn diff(
    shared: &Context,
    request: op::DiffAssessmentsRequest,
) -> Result<op::AssessmentDiff, ApiError> {
    let to = find_run(shared, &request.to_run_id).await?;
    let from = if request.from_run_id.is_empty() {
        shared
            .store
            .previous_assessment_run(&to)
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "no run before {}; compare two runs with --from and --to",
                    to.id
                ))
            })?
    } else {
        find_run(shared, &request.from_run_id).await?
    };
    let store = &shared.store;
    let (from_dbs, from_outcomes) = (
        store.assessment_databases(&from.id, None).await?,
        store.assessment_outcomes(&from.id, None).await?,
    );
    let (to_dbs, to_outcomes) = (
        store.assessment_databases(&to.id, None).await?,
        store.assessment_outcomes(&to.id, None).await?,
    );
    let states = |rows: &[DatabaseRow]| -> Vec<diff::DatabaseState> {
        rows.iter()
            .map(|d| diff::DatabaseState {
                host: d.host.clone(),
                instance: d.instance.clone(),
                database: d.database.clone(),
                readiness: d.readiness,
            })
            .collect()
    };
    let changes = diff::diff(
        &diff::RunSide {
            outcomes: from_outcomes,
            databases: states(&from_dbs),
        },
        &diff::RunSide {
            outcomes: to_outcomes,
            databases: states(&to_dbs),
        },
    );
    let finding = |c: diff::FindingChange| op::FindingChange {
        host: c.host,
        instance: c.instance,
        database: c.database,
        check_id: c.check_id,
        severity: c.severity.as_str().into(),
        title: c.title,
    };
    let word = |r: Option<Readiness>| r.map(|r| r.as_str().to_string()).unwrap_or_default();
    Ok(op::AssessmentDiff {
        from: Some(run_summary(shared, from).await?),
        to: Some(run_summary(shared, to).await?),
        fixed: changes.fixed.into_iter().map(finding).collect(),
        regressed: changes.regressed.into_iter().map(finding).collect(),
        readiness: changes
            .readiness
            .into_iter()
            .map(|c| op::ReadinessChange {
                host: c.host,
                instance: c.instance,
                database: c.database,
                from: word(c.from),
                to: word(c.to),
            })
            .collect(),
        not_compared: changes.not_compared,
        from_databases: Some(counts(from_dbs.iter().map(|d| d.readiness))),
        to_databases: Some(counts(to_dbs.iter().map(|d| d.readiness))),
    })
}

/// A check's result as the operator API shows it.
pub(super) fn check_detail(instance: String, r: crate::assess::CheckResult) -> op::CheckDetail {
    op::CheckDetail {
        instance,
        check_id: r.check_id,
        scope: r.scope.as_str().into(),
        severity: r.severity.as_str().into(),
        title: r.title,
        remedy: r.remedy,
        status: r.status.as_str().into(),
        unknown_cause: r.unknown_cause,
        findings: r
            .findings
            .into_iter()
            .map(|f| op::FindingDetail {
                database: f.database.unwrap_or_default(),
                message: f.message,
                evidence: f
                    .evidence
                    .into_iter()
                    .map(|(key, value)| op::EvidenceItem { key, value })
                    .collect(),
                objects: f.objects,
            })
            .collect(),
    }
}
