//! Assessment runs started: on demand (all hosts, named ones, or by labels) and once
//! per schedule slot (`scheduled-<slot start>`, so replicas sharing a store start it
//! once). Each target host gets a command; offline hosts get theirs when they return.

use uuid::Uuid;

use super::lookup::{live_hosts, named_live_hosts};
use super::ServiceError;
use crate::context::Context;
use crate::fleet::labels;
use crate::store::agents::AgentRecord;
use crate::store::assessments::RunRecord;
use crate::store::commands::{CommandKind, CommandRecord};
use ferry_proto::clock::now_ms;

/// Hosts named in one request, at most.
pub const MAX_HOSTS: usize = 10_000;

/// What an operator asks to assess: all hosts, some by name or id, or those with
/// labels; and by when (seconds, 0: the default).
#[derive(Debug, Clone, Default)]
pub struct RunAsk {
    pub all: bool,
    pub hosts: Vec<String>,
    pub labels: Vec<String>,
    pub deadline_secs: u64,
}

/// Starts an assessment run of the hosts `ask` selects: one command each, queued
/// for hosts that are offline until the run's deadline.
pub async fn start(
    shared: &Context,
    actor: String,
    request: RunAsk,
) -> Result<RunRecord, ServiceError> {
    let limits = &shared.config.assessment;
    let deadline_secs = match request.deadline_secs {
        0 => limits.default_deadline_secs,
        secs if secs > limits.max_deadline_secs => {
            return Err(ServiceError::invalid(
                "deadline_seconds",
                format!(
                    "at most {} seconds (assessment.max_deadline_secs)",
                    limits.max_deadline_secs
                ),
            ))
        }
        secs => secs,
    };
    let (targets, selector) = targets(shared, &request).await?;
    let run = new_run(
        Uuid::new_v4().to_string(),
        actor,
        selector,
        "manual",
        deadline_secs,
    );
    launch(shared, &run, &targets).await?;
    Ok(run)
}

/// Starts the scheduled run `id` (a slot's, from [`Schedule::run_id`]) for every
/// enrolled host unless it exists, made here or by another replica. True once it exists;
/// false while no host is enrolled.
pub async fn start_scheduled(shared: &Context, id: &str) -> Result<bool, ServiceError> {
    if shared.store.get_assessment_run(id).await?.is_some() {
        return Ok(true);
    }
    let targets = live_hosts(shared, |_| true).await?;
    if targets.is_empty() {
        return Ok(false);
    }
    let deadline_secs = shared.config.assessment.default_deadline_secs;
    let run = new_run(
        id.into(),
        "ferry-control".into(),
        "all".into(),
        "schedule",
        deadline_secs,
    );
    launch(shared, &run, &targets).await?;
    Ok(true)
}

fn new_run(
    id: String,
    actor: String,
    selector: String,
    trigger: &str,
    deadline_secs: u64,
) -> RunRecord {
    let now = now_ms();
    RunRecord {
        id,
        created_by: actor,
        created_at_ms: now,
        deadline_at_ms: now + (deadline_secs * 1000) as i64,
        selector,
        trigger: trigger.into(),
    }
}

/// The hosts a request names: all, a list, or a label selector; and how to describe it.
async fn targets(
    shared: &Context,
    request: &RunAsk,
) -> Result<(Vec<AgentRecord>, String), ServiceError> {
    let asked = (
        request.all,
        !request.hosts.is_empty(),
        !request.labels.is_empty(),
    );
    let found = match asked {
        (true, false, false) => (live_hosts(shared, |_| true).await?, "all".to_string()),
        (false, true, false) if request.hosts.len() <= MAX_HOSTS => (
            named_live_hosts(shared, &request.hosts).await?,
            format!("hosts: {}", request.hosts.join(", ")),
        ),
        (false, false, true) => {
            let selector = labels::parse_selector(&request.labels)
                .map_err(|e| ServiceError::invalid("labels", e))?;
            let agents = live_hosts(shared, |h| labels::matches(&h.labels, &selector)).await?;
            let text = request.labels.join(",");
            if agents.is_empty() {
                return Err(ServiceError::FailedPrecondition(format!(
                    "no enrolled host has the labels {text}; see `ferry hosts` and `ferry host label`"
                )));
            }
            (agents, format!("labels: {text}"))
        }
        _ => {
            return Err(ServiceError::invalid(
                "hosts",
                format!("give one of: `all`, 1 to {MAX_HOSTS} host names or ids, or labels"),
            ))
        }
    };
    if found.0.is_empty() {
        return Err(ServiceError::FailedPrecondition(
            "no enrolled hosts to assess; enroll agents first (`ferry token create`)".into(),
        ));
    }
    Ok(found)
}

/// Stores the run with one command per target and wakes their sessions; nothing when
/// the run's id exists already (a scheduled run another replica made).
async fn launch(
    shared: &Context,
    run: &RunRecord,
    targets: &[AgentRecord],
) -> Result<(), ServiceError> {
    let trace_context = crate::context::trace_context();
    let commands: Vec<CommandRecord> = targets
        .iter()
        .map(|agent| {
            CommandRecord::pending(
                agent.id,
                CommandKind::RunAssessment,
                &run.created_by,
                run.created_at_ms,
                run.deadline_at_ms,
                &trace_context,
            )
        })
        .collect();
    if !shared.store.create_assessment_run(run, &commands).await? {
        return Ok(());
    }
    for agent in targets {
        shared.sessions.wake(agent.id);
    }
    tracing::info!(run = %run.id, targets = targets.len(), actor = %run.created_by, trigger = %run.trigger, "assessment run started");
    Ok(())
}
