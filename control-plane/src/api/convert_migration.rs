//! An agent's LinkSteps report, validated into `migration::AgentSteps`.

use ferry_proto::agent::v1 as wire;
use wire::link_step::Outcome;

use super::convert::text;
use super::ApiError;
use crate::migration::{plan, AgentStep, AgentSteps, StepState};

/// A certificate's DER, at most (SQL Server's are a few KB).
const MAX_CERTIFICATE: usize = 64 * 1024;

pub fn agent_steps(report: wire::LinkSteps) -> Result<AgentSteps, ApiError> {
    if report.steps.len() > plan::STEPS.len() + plan::TEARDOWN.len() {
        return Err(ApiError::invalid(
            "link_steps.steps",
            "more steps than a link has",
        ));
    }
    if report.certificate.len() > MAX_CERTIFICATE {
        return Err(ApiError::invalid(
            "link_steps.certificate",
            format!("longer than {MAX_CERTIFICATE} bytes"),
        ));
    }
    let steps = report
        .steps
        .into_iter()
        .map(|step| {
            let (state, already_done) = match Outcome::try_from(step.outcome) {
                Ok(Outcome::AlreadyDone) => (StepState::Done, true),
                Ok(Outcome::Applied) => (StepState::Done, false),
                Ok(Outcome::Blocked) => (StepState::Blocked, false),
                Ok(Outcome::Failed) => (StepState::Failed, false),
                _ => {
                    return Err(ApiError::invalid(
                        "link_steps.steps.outcome",
                        format!("{} is not an outcome", step.outcome),
                    ))
                }
            };
            if plan::side(&step.name) != Some(plan::Side::Agent) {
                return Err(ApiError::invalid(
                    "link_steps.steps.name",
                    format!("{:?} is not an agent step", step.name),
                ));
            }
            Ok(AgentStep {
                name: step.name,
                state,
                detail: text("link_steps.steps.detail", &step.detail)?,
                already_done,
                started_ms: step.started_unix_ms,
                duration_ms: step.duration_ms.max(0),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AgentSteps {
        command_id: text("link_steps.command_id", &report.command_id)?,
        migration_id: text("link_steps.migration_id", &report.migration_id)?,
        steps,
        error: text("link_steps.error", &report.error)?,
        certificate_name: text("link_steps.certificate_name", &report.certificate_name)?,
        certificate: report.certificate,
        listener_url: text("link_steps.listener_url", &report.listener_url)?,
    })
}
