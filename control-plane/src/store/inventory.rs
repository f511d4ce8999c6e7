//! Reports from agents, stored exactly once (the `reports` primary key absorbs outbox
//! redelivery), and the inventory they carry: instances and their databases.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::commands::CommandState;
use super::{col, Store, StoreError};
use crate::fleet::identity::AgentId;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceRecord {
    pub name: String,
    pub address: String,
    pub reachable: bool,
    pub error: String,
    pub server_name: String,
    pub product_version: String,
    pub major_version: i32,
    pub product_level: String,
    pub product_update_level: String,
    pub edition: String,
    pub engine_edition: i32,
    pub collation: String,
    pub hadr_enabled: bool,
    pub host_platform: String,
    pub updated_at_ms: i64,
    pub databases: Vec<DatabaseRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatabaseRecord {
    pub name: String,
    pub database_id: i32,
    pub state: String,
    pub recovery_model: String,
    pub compatibility_level: i32,
    pub size_bytes: i64,
    pub data_file_count: i32,
    pub log_file_count: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReportBody {
    Inventory(Vec<InstanceRecord>),
    CommandResult {
        command_id: String,
        ok: bool,
        error_code: String,
        error_message: String,
    },
    /// Readiness checks run for a command of an assessment run.
    Assessment {
        command_id: String,
        instances: Vec<crate::assess::InstanceAssessment>,
    },
    /// What a connection test found, per instance.
    ConnectionTest {
        command_id: String,
        instances: Vec<crate::connection_test::InstanceConnection>,
    },
    /// What a RunLinkSteps command did.
    LinkSteps(crate::migration::AgentSteps),
    /// SQL Server's row counts for a cutover's validation (a CountRows command).
    RowCounts(super::row_counts::SqlCounted),
    /// The links on one instance, as SQL Server's DMVs show them.
    LinkStatus(crate::migration::sql_side::InstanceLinkStatus),
    /// Load windows for sizing; those that ended before `keep_after_ms` are dropped.
    Load {
        windows: Vec<crate::sizing::LoadWindow>,
        keep_after_ms: i64,
    },
}

impl ReportBody {
    pub fn kind(&self) -> &'static str {
        match self {
            ReportBody::Inventory(_) => "inventory",
            ReportBody::CommandResult { .. } => "command_result",
            ReportBody::Assessment { .. } => "assessment",
            ReportBody::Load { .. } => "load",
            ReportBody::ConnectionTest { .. } => "connection_test",
            ReportBody::LinkSteps(_) => "link_steps",
            ReportBody::LinkStatus(_) => "link_status",
            ReportBody::RowCounts(_) => "row_counts",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct IncomingReport {
    pub report_id: String,
    pub produced_at_ms: i64,
    pub body: ReportBody,
}

impl Store {
    /// Stores the report and applies it, in one transaction. Returns false when this
    /// report id was already stored (a redelivery), in which case nothing changes.
    pub async fn record_report(
        &self,
        agent: AgentId,
        report: &IncomingReport,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("record_report");
        let mut tx = self.write().await?;
        let inserted = sqlx::query("INSERT INTO reports (agent_id, report_id, kind, produced_at, received_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (agent_id, report_id) DO NOTHING")
            .bind(agent.to_string())
            .bind(&report.report_id)
            .bind(report.body.kind())
            .bind(report.produced_at_ms)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        match &report.body {
            ReportBody::Inventory(instances) => {
                replace_inventory(&mut tx, agent, instances, report.produced_at_ms).await?
            }
            ReportBody::CommandResult {
                command_id,
                ok,
                error_code,
                error_message,
            } => {
                let state = if *ok {
                    CommandState::Done
                } else {
                    CommandState::Failed
                };
                super::commands::finish(
                    &mut tx,
                    agent,
                    command_id,
                    state,
                    error_code,
                    error_message,
                    now_ms,
                )
                .await?;
            }
            ReportBody::Assessment {
                command_id,
                instances,
            } => {
                if !super::assessments::record(&mut tx, agent, command_id, instances, now_ms)
                    .await?
                {
                    tracing::warn!(%agent, command = %command_id, "assessment for no open run target; not stored");
                }
            }
            ReportBody::Load {
                windows,
                keep_after_ms,
            } => super::load::record(&mut tx, agent, windows, *keep_after_ms).await?,
            ReportBody::ConnectionTest {
                command_id,
                instances,
            } => {
                if !super::connection_tests::record(&mut tx, agent, command_id, instances, now_ms)
                    .await?
                {
                    tracing::warn!(%agent, command = %command_id, "connection test for no open test; not stored");
                }
            }
            ReportBody::LinkSteps(steps) => {
                if !super::steps::record_agent_steps(&mut tx, agent, steps, now_ms).await? {
                    tracing::warn!(%agent, command = %steps.command_id, "link steps for no running step; not stored");
                }
            }
            ReportBody::RowCounts(counted) => {
                if !super::row_counts::record_sql_count(&mut tx, agent, counted).await? {
                    tracing::warn!(%agent, command = %counted.command_id, "row counts for no count asked; not stored");
                }
            }
            ReportBody::LinkStatus(status) => {
                super::link_status::record(&mut tx, agent, status, now_ms).await?
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn list_instances(&self, agent: AgentId) -> Result<Vec<InstanceRecord>, StoreError> {
        let _timed = self.timed("list_instances");
        let rows = sqlx::query("SELECT * FROM instances WHERE agent_id = $1 ORDER BY name")
            .bind(agent.to_string())
            .fetch_all(&self.pool)
            .await?;
        let mut instances = rows
            .iter()
            .map(decode_instance)
            .collect::<Result<Vec<_>, _>>()?;
        let rows =
            sqlx::query("SELECT * FROM databases WHERE agent_id = $1 ORDER BY instance_name, name")
                .bind(agent.to_string())
                .fetch_all(&self.pool)
                .await?;
        for row in &rows {
            let instance: String = col(row, "instance_name")?;
            if let Some(target) = instances.iter_mut().find(|i| i.name == instance) {
                target.databases.push(decode_database(row)?);
            }
        }
        Ok(instances)
    }

    /// How many reports are stored for the agent.
    pub async fn count_reports(&self, agent: AgentId) -> Result<u64, StoreError> {
        let _timed = self.timed("count_reports");
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM reports WHERE agent_id = $1")
            .bind(agent.to_string())
            .fetch_one(&self.pool)
            .await?;
        Ok(count as u64)
    }

    /// The ids of every report stored for the agent, oldest first.
    pub async fn list_report_ids(&self, agent: AgentId) -> Result<Vec<String>, StoreError> {
        let _timed = self.timed("list_report_ids");
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT report_id FROM reports WHERE agent_id = $1 ORDER BY received_at, report_id",
        )
        .bind(agent.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}

/// Replaces the agent's inventory with the reported one, unless a newer report has
/// already been applied (reports can arrive out of order after an outage).
async fn replace_inventory(
    conn: &mut AnyConnection,
    agent: AgentId,
    instances: &[InstanceRecord],
    produced_at_ms: i64,
) -> Result<(), StoreError> {
    let newest: Option<i64> = sqlx::query_as::<_, (Option<i64>,)>(
        "SELECT MAX(updated_at) FROM instances WHERE agent_id = $1",
    )
    .bind(agent.to_string())
    .fetch_one(&mut *conn)
    .await?
    .0;
    if newest.is_some_and(|newest| newest > produced_at_ms) {
        return Ok(());
    }
    sqlx::query("DELETE FROM databases WHERE agent_id = $1")
        .bind(agent.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM instances WHERE agent_id = $1")
        .bind(agent.to_string())
        .execute(&mut *conn)
        .await?;
    for i in instances {
        sqlx::query("INSERT INTO instances (agent_id, name, address, reachable, error, server_name, product_version, major_version, product_level, product_update_level, edition, engine_edition, collation_name, hadr_enabled, host_platform, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")
            .bind(agent.to_string())
            .bind(&i.name)
            .bind(&i.address)
            .bind(i64::from(i.reachable))
            .bind(&i.error)
            .bind(&i.server_name)
            .bind(&i.product_version)
            .bind(i64::from(i.major_version))
            .bind(&i.product_level)
            .bind(&i.product_update_level)
            .bind(&i.edition)
            .bind(i64::from(i.engine_edition))
            .bind(&i.collation)
            .bind(i64::from(i.hadr_enabled))
            .bind(&i.host_platform)
            .bind(produced_at_ms)
            .execute(&mut *conn)
            .await?;
        for d in &i.databases {
            sqlx::query("INSERT INTO databases (agent_id, instance_name, name, database_id, state, recovery_model, compatibility_level, size_bytes, data_file_count, log_file_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(agent.to_string())
                .bind(&i.name)
                .bind(&d.name)
                .bind(i64::from(d.database_id))
                .bind(&d.state)
                .bind(&d.recovery_model)
                .bind(i64::from(d.compatibility_level))
                .bind(d.size_bytes)
                .bind(i64::from(d.data_file_count))
                .bind(i64::from(d.log_file_count))
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

fn decode_instance(row: &AnyRow) -> Result<InstanceRecord, StoreError> {
    Ok(InstanceRecord {
        name: col(row, "name")?,
        address: col(row, "address")?,
        reachable: col::<i64>(row, "reachable")? != 0,
        error: col(row, "error")?,
        server_name: col(row, "server_name")?,
        product_version: col(row, "product_version")?,
        major_version: col::<i64>(row, "major_version")? as i32,
        product_level: col(row, "product_level")?,
        product_update_level: col(row, "product_update_level")?,
        edition: col(row, "edition")?,
        engine_edition: col::<i64>(row, "engine_edition")? as i32,
        collation: col(row, "collation_name")?,
        hadr_enabled: col::<i64>(row, "hadr_enabled")? != 0,
        host_platform: col(row, "host_platform")?,
        updated_at_ms: col(row, "updated_at")?,
        databases: Vec::new(),
    })
}

fn decode_database(row: &AnyRow) -> Result<DatabaseRecord, StoreError> {
    Ok(DatabaseRecord {
        name: col(row, "name")?,
        database_id: col::<i64>(row, "database_id")? as i32,
        state: col(row, "state")?,
        recovery_model: col(row, "recovery_model")?,
        compatibility_level: col::<i64>(row, "compatibility_level")? as i32,
        size_bytes: col(row, "size_bytes")?,
        data_file_count: col::<i64>(row, "data_file_count")? as i32,
        log_file_count: col::<i64>(row, "log_file_count")? as i32,
    })
}
