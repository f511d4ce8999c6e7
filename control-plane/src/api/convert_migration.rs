//! An agent's LinkSteps report, validated into `migration::AgentSteps`; its
//! LinkStatus report, into `migration::sql_side::InstanceLinkStatus`; its RowCounts
//! report, into `store::row_counts::SqlCounted`.

use ferry_proto::agent::v1 as wire;
use ferry_proto::operator::v1 as op;
use wire::link_step::Outcome;

use super::convert::text;
use super::limits::{MAX_CERTIFICATE, MAX_DATABASES, MAX_TABLES};
use super::ApiError;
use crate::migration::sql_side::{InstanceLinkStatus, SqlLinkStatus};
use crate::migration::{journal, AgentStep, AgentSteps, StepState};
use crate::store::row_counts::{SqlCounted, TableRows};

pub fn agent_steps(report: wire::LinkSteps) -> Result<AgentSteps, ApiError> {
    if report.steps.len() > journal::STEPS.len() + journal::TEARDOWN.len() {
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
            if journal::side(&step.name) != Some(journal::Side::Agent) {
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

pub fn row_counts(report: wire::RowCounts) -> Result<SqlCounted, ApiError> {
    if report.command_id.is_empty() || report.migration_id.is_empty() {
        return Err(ApiError::invalid(
            "row_counts",
            "a count without its command or migration",
        ));
    }
    if report.tables.len() > MAX_TABLES {
        return Err(ApiError::invalid(
            "row_counts.tables",
            format!("more than {MAX_TABLES}"),
        ));
    }
    let tables = report
        .tables
        .into_iter()
        .map(|t| {
            if t.rows < 0 {
                return Err(ApiError::invalid(
                    "row_counts.tables.rows",
                    format!("{} rows in {}.{}", t.rows, t.schema, t.name),
                ));
            }
            Ok(TableRows {
                schema: text("row_counts.tables.schema", &t.schema)?,
                name: text("row_counts.tables.name", &t.name)?,
                rows: t.rows,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SqlCounted {
        command_id: text("row_counts.command_id", &report.command_id)?,
        migration_id: text("row_counts.migration_id", &report.migration_id)?,
        lsn_before: text("row_counts.end_of_log_before", &report.end_of_log_before)?,
        lsn_after: text("row_counts.end_of_log_after", &report.end_of_log_after)?,
        tables,
        counted_at_ms: report.counted_unix_ms,
        error: text("row_counts.error", &report.error)?,
    })
}

pub fn link_status(report: wire::LinkStatus) -> Result<InstanceLinkStatus, ApiError> {
    if report.instance.is_empty() {
        return Err(ApiError::invalid("link_status.instance", "missing"));
    }
    if report.databases.len() > MAX_DATABASES {
        return Err(ApiError::invalid(
            "link_status.databases",
            format!("more than {MAX_DATABASES}"),
        ));
    }
    let databases = report
        .databases
        .into_iter()
        .map(|d| {
            if d.link_name.is_empty() || d.database.is_empty() {
                return Err(ApiError::invalid(
                    "link_status.databases",
                    "a database without its name or its link's name",
                ));
            }
            Ok(SqlLinkStatus {
                link_name: text("link_status.databases.link_name", &d.link_name)?,
                database: text("link_status.databases.database", &d.database)?,
                connected_state: text("link_status.databases.connected_state", &d.connected_state)?,
                last_connect_error_number: d.last_connect_error_number,
                last_connect_error: text(
                    "link_status.databases.last_connect_error",
                    &d.last_connect_error,
                )?,
                synchronization_state: text(
                    "link_status.databases.synchronization_state",
                    &d.synchronization_state,
                )?,
                synchronization_health: text(
                    "link_status.databases.synchronization_health",
                    &d.synchronization_health,
                )?,
                end_of_log_lsn: text("link_status.databases.end_of_log_lsn", &d.end_of_log_lsn)?,
                last_commit_lsn: text("link_status.databases.last_commit_lsn", &d.last_commit_lsn)?,
                last_hardened_lsn: text(
                    "link_status.databases.last_hardened_lsn",
                    &d.last_hardened_lsn,
                )?,
                log_send_queue_kb: d.log_send_queue_kb,
                log_send_rate_kb: d.log_send_rate_kb,
                redo_queue_kb: d.redo_queue_kb,
                secondary_lag_seconds: d.secondary_lag_seconds,
                seeding: d.seeding,
                seeding_transferred_bytes: d.seeding_transferred_bytes,
                seeding_size_bytes: d.seeding_size_bytes,
                seeding_rate_bytes_per_second: d.seeding_rate_bytes_per_second,
                seeding_state: text("link_status.databases.seeding_state", &d.seeding_state)?,
                seeding_error_number: d.seeding_error_number,
                seeding_attempts: d.seeding_attempts,
                synchronous_commit: d.synchronous_commit,
                local_hardened_lsn: text(
                    "link_status.databases.local_hardened_lsn",
                    &d.local_hardened_lsn,
                )?,
                user_sessions: d.user_sessions.map(i64::from),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(InstanceLinkStatus {
        instance: text("link_status.instance", &report.instance)?,
        observed_ms: report.observed_unix_ms,
        databases,
    })
}

/// SQL Server's side of a link, for `ferry migrate show`.
pub fn sql_observation(s: SqlLinkStatus, observed_ms: i64) -> op::SqlLinkObservation {
    op::SqlLinkObservation {
        observed_unix_ms: observed_ms,
        connected_state: s.connected_state,
        last_connect_error_number: s.last_connect_error_number,
        last_connect_error: s.last_connect_error,
        synchronization_state: s.synchronization_state,
        synchronization_health: s.synchronization_health,
        end_of_log_lsn: s.end_of_log_lsn,
        last_commit_lsn: s.last_commit_lsn,
        last_hardened_lsn: s.last_hardened_lsn,
        log_send_queue_kb: s.log_send_queue_kb,
        log_send_rate_kb: s.log_send_rate_kb,
        redo_queue_kb: s.redo_queue_kb,
        secondary_lag_seconds: s.secondary_lag_seconds,
        seeding: s.seeding,
        seeding_transferred_bytes: s.seeding_transferred_bytes,
        seeding_size_bytes: s.seeding_size_bytes,
        seeding_rate_bytes_per_second: s.seeding_rate_bytes_per_second,
        seeding_state: s.seeding_state,
        seeding_error_number: s.seeding_error_number,
        seeding_attempts: s.seeding_attempts,
        synchronous_commit: s.synchronous_commit,
        local_hardened_lsn: s.local_hardened_lsn,
        user_sessions: s.user_sessions.unwrap_or(-1),
    }
}
