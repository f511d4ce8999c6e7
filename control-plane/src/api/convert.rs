//! Wire <-> domain conversions. Incoming messages are validated here: a missing or
//! malformed field is an `invalid_argument` naming it; nothing is silently defaulted.

use ferry_proto::agent::v1 as wire;
use ferry_proto::operator::v1 as op;

use super::ApiError;
use crate::fleet::liveness::AgentStatus;
use crate::store::agents::AgentSummary;
use crate::store::commands::CommandRecord;
use crate::store::inventory::{DatabaseRecord, IncomingReport, InstanceRecord, ReportBody};
use crate::store::StoreError;

use super::limits::{MAX_DATABASES, MAX_INSTANCES, MAX_REPORT_ID, MAX_TEXT};

pub(super) fn text(field: &'static str, value: &str) -> Result<String, ApiError> {
    if value.len() > MAX_TEXT {
        return Err(ApiError::invalid(
            field,
            format!("longer than {MAX_TEXT} bytes"),
        ));
    }
    Ok(value.to_string())
}

impl TryFrom<wire::Report> for IncomingReport {
    type Error = ApiError;

    fn try_from(report: wire::Report) -> Result<Self, ApiError> {
        if report.report_id.is_empty() || report.report_id.len() > MAX_REPORT_ID {
            return Err(ApiError::invalid(
                "report.report_id",
                format!("must be 1 to {MAX_REPORT_ID} characters"),
            ));
        }
        let body = match report.body {
            None => return Err(ApiError::invalid("report.body", "missing")),
            Some(wire::report::Body::Inventory(inventory)) => {
                ReportBody::Inventory(instances(inventory)?)
            }
            Some(wire::report::Body::CommandResult(result)) => ReportBody::CommandResult {
                command_id: text("report.command_result.command_id", &result.command_id)?,
                ok: result.ok,
                error_code: text("report.command_result.error_code", &result.error_code)?,
                error_message: text("report.command_result.error_message", &result.error_message)?,
            },
            Some(wire::report::Body::Assessment(assessment)) => ReportBody::Assessment {
                command_id: text("report.assessment.command_id", &assessment.command_id)?,
                instances: super::convert_assessment::instances(assessment.instances)?,
            },
            Some(wire::report::Body::ConnectionTest(test)) => ReportBody::ConnectionTest {
                command_id: text("report.connection_test.command_id", &test.command_id)?,
                instances: super::convert_assessment::connections(test.instances)?,
            },
            Some(wire::report::Body::LinkSteps(steps)) => {
                ReportBody::LinkSteps(super::convert_migration::agent_steps(steps)?)
            }
            Some(wire::report::Body::RowCounts(counted)) => {
                ReportBody::RowCounts(super::convert_migration::row_counts(counted)?)
            }
            Some(wire::report::Body::LinkStatus(status)) => {
                ReportBody::LinkStatus(super::convert_migration::link_status(status)?)
            }
            Some(wire::report::Body::Load(load)) => ReportBody::Load {
                windows: super::convert_load::windows(load)?,
                // Set by the caller from its retention setting.
                keep_after_ms: 0,
            },
        };
        Ok(IncomingReport {
            report_id: report.report_id,
            produced_at_ms: report.produced_unix_ms,
            body,
        })
    }
}

fn instances(inventory: wire::Inventory) -> Result<Vec<InstanceRecord>, ApiError> {
    if inventory.instances.len() > MAX_INSTANCES {
        return Err(ApiError::invalid(
            "inventory.instances",
            format!("more than {MAX_INSTANCES}"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    inventory
        .instances
        .into_iter()
        .map(|i| {
            if i.name.is_empty() || !seen.insert(i.name.clone()) {
                return Err(ApiError::invalid(
                    "inventory.instances.name",
                    format!("empty or repeated ({:?})", i.name),
                ));
            }
            if i.databases.len() > MAX_DATABASES {
                return Err(ApiError::invalid(
                    "inventory.instances.databases",
                    format!("more than {MAX_DATABASES}"),
                ));
            }
            let mut db_names = std::collections::HashSet::new();
            let databases = i
                .databases
                .into_iter()
                .map(|d| {
                    if !db_names.insert(d.name.clone()) {
                        return Err(ApiError::invalid(
                            "inventory.instances.databases.name",
                            format!("repeated ({:?})", d.name),
                        ));
                    }
                    Ok(DatabaseRecord {
                        name: text("inventory.instances.databases.name", &d.name)?,
                        database_id: d.database_id,
                        state: text("inventory.instances.databases.state", &d.state)?,
                        recovery_model: text(
                            "inventory.instances.databases.recovery_model",
                            &d.recovery_model,
                        )?,
                        compatibility_level: d.compatibility_level,
                        size_bytes: d.size_bytes,
                        data_file_count: d.data_file_count,
                        log_file_count: d.log_file_count,
                    })
                })
                .collect::<Result<_, _>>()?;
            Ok(InstanceRecord {
                name: text("inventory.instances.name", &i.name)?,
                address: text(
                    "inventory.instances.host",
                    &format!("{}:{}", i.host, i.port),
                )?,
                reachable: i.reachable,
                error: text("inventory.instances.error", &i.error)?,
                server_name: text("inventory.instances.server_name", &i.server_name)?,
                product_version: text("inventory.instances.product_version", &i.product_version)?,
                major_version: i.major_version,
                product_level: text("inventory.instances.product_level", &i.product_level)?,
                product_update_level: text(
                    "inventory.instances.product_update_level",
                    &i.product_update_level,
                )?,
                edition: text("inventory.instances.edition", &i.edition)?,
                engine_edition: i.engine_edition,
                collation: text("inventory.instances.collation", &i.collation)?,
                hadr_enabled: i.hadr_enabled,
                host_platform: text("inventory.instances.host_platform", &i.host_platform)?,
                updated_at_ms: 0,
                databases,
            })
        })
        .collect()
}

pub fn host(summary: &AgentSummary, now_ms: i64, silence_ms: i64) -> op::Host {
    let agent = &summary.agent;
    op::Host {
        id: agent.id.to_string(),
        name: agent.name.clone(),
        status: AgentStatus::derive(
            agent.last_seen_ms,
            agent.revoked_at_ms.is_some(),
            now_ms,
            silence_ms,
        )
        .as_str()
        .to_string(),
        enrolled_unix_ms: agent.enrolled_at_ms,
        last_seen_unix_ms: agent.last_seen_ms.unwrap_or(0),
        agent_version: agent.agent_version.clone(),
        hostname: agent.hostname.clone(),
        os: agent.os.clone(),
        instance_count: summary.instance_count,
        database_count: summary.database_count,
        certificate_not_after_unix_ms: agent.cert_not_after_ms,
        labels: summary.labels.clone().into_iter().collect(),
    }
}

pub fn instance(i: &InstanceRecord) -> op::Instance {
    op::Instance {
        name: i.name.clone(),
        address: i.address.clone(),
        reachable: i.reachable,
        error: i.error.clone(),
        server_name: i.server_name.clone(),
        product_version: i.product_version.clone(),
        major_version: i.major_version,
        product_level: i.product_level.clone(),
        product_update_level: i.product_update_level.clone(),
        edition: i.edition.clone(),
        engine_edition: i.engine_edition,
        collation: i.collation.clone(),
        hadr_enabled: i.hadr_enabled,
        host_platform: i.host_platform.clone(),
        updated_unix_ms: i.updated_at_ms,
        databases: i
            .databases
            .iter()
            .map(|d| op::Database {
                name: d.name.clone(),
                database_id: d.database_id,
                state: d.state.clone(),
                recovery_model: d.recovery_model.clone(),
                compatibility_level: d.compatibility_level,
                size_bytes: d.size_bytes,
                data_file_count: d.data_file_count,
                log_file_count: d.log_file_count,
            })
            .collect(),
    }
}

pub fn command(c: &CommandRecord) -> op::CommandInfo {
    op::CommandInfo {
        id: c.id.clone(),
        agent_id: c.agent_id.to_string(),
        kind: c.kind.as_str().to_string(),
        state: c.state.as_str().to_string(),
        created_unix_ms: c.created_at_ms,
        updated_unix_ms: c.updated_at_ms,
        expires_unix_ms: c.expires_at_ms,
        created_by: c.created_by.clone(),
        error_code: c.error_code.clone(),
        error_message: c.error_message.clone(),
    }
}

/// The command as its agent receives it; a stored payload that does not parse is
/// `Corrupt` (the command is not sent and expires).
pub fn command_to_agent(c: &CommandRecord) -> Result<wire::Command, StoreError> {
    use crate::store::commands::CommandKind;
    let kind = match c.kind {
        CommandKind::CollectInventory => {
            wire::command::Kind::CollectInventory(wire::CollectInventory {})
        }
        CommandKind::RunAssessment => wire::command::Kind::RunAssessment(wire::RunAssessment {}),
        CommandKind::TestConnection => {
            let request: crate::connection_test::TestRequest = serde_json::from_str(&c.payload)
                .map_err(|e| StoreError::Corrupt(format!("command {}: payload: {e}", c.id)))?;
            wire::command::Kind::TestConnection(wire::TestConnection {
                target_id: request.target_id,
                fqdn: request.fqdn,
                instances: request.instances,
            })
        }
        CommandKind::RunLinkSteps => {
            let corrupt =
                |e: String| StoreError::Corrupt(format!("command {}: payload: {e}", c.id));
            let request: crate::migration::StepsRequest =
                serde_json::from_str(&c.payload).map_err(|e| corrupt(e.to_string()))?;
            wire::command::Kind::RunLinkSteps(Box::new(wire::RunLinkSteps {
                mi_certificate: hex::decode(&request.mi_certificate)
                    .map_err(|e| corrupt(e.to_string()))?,
                migration_id: request.migration_id,
                instance: request.instance,
                database: request.database,
                steps: request.steps,
                link_name: request.link_name,
                mi_name: request.mi_name,
                mi_fqdn: request.mi_fqdn,
                allow_recovery_change: request.allow_recovery_change,
                allow_endpoint_change: request.allow_endpoint_change,
            }))
        }
        CommandKind::ReadLinkStatus => {
            let instance: String = serde_json::from_str(&c.payload)
                .map_err(|e| StoreError::Corrupt(format!("command {}: payload: {e}", c.id)))?;
            wire::command::Kind::ReadLinkStatus(wire::ReadLinkStatus { instance })
        }
        CommandKind::CountRows => {
            let request: crate::reconcile::validation::CountRequest =
                serde_json::from_str(&c.payload)
                    .map_err(|e| StoreError::Corrupt(format!("command {}: payload: {e}", c.id)))?;
            wire::command::Kind::CountRows(wire::CountRows {
                migration_id: request.migration_id,
                instance: request.instance,
                database: request.database,
                tables: request.tables,
            })
        }
    };
    Ok(wire::Command {
        command_id: c.id.clone(),
        expires_unix_ms: c.expires_at_ms,
        trace_context: serde_json::from_str(&c.trace_context).unwrap_or_default(),
        kind: Some(kind),
    })
}
