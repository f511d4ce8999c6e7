//! Connection tests: one TestConnection command per host toward a target, and what
//! each instance's checks found, with its verdict (`connection::verdict`).

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::assessments::word;
use super::audit::{self, AuditEvent};
use super::commands::{self, CommandRecord};
use super::{col, Store, StoreError};
use crate::assess::{CheckResult, CheckStatus, Readiness, Scope, Severity};
use crate::connection_test::{verdict, InstanceConnection};
use crate::fleet::identity::AgentId;

/// A test as stored: its command (state, host, who asked), and once the agent
/// reported, every instance's results with its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionTestRecord {
    pub command: CommandRecord,
    pub target_key: String,
    pub fqdn: String,
    pub reported_at_ms: Option<i64>,
    pub instances: Vec<(InstanceConnection, Readiness)>,
}

impl Store {
    /// Queues one test command per host toward the target `target_key`, in one
    /// transaction, audited.
    pub async fn create_connection_tests(
        &self,
        target_key: &str,
        fqdn: &str,
        tests: &[CommandRecord],
    ) -> Result<(), StoreError> {
        let _timed = self.timed("create_connection_tests");
        let mut tx = self.write().await?;
        for command in tests {
            commands::insert(&mut tx, command).await?;
            sqlx::query("INSERT INTO connection_tests (command_id, agent_id, target_id, fqdn, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&command.id)
                .bind(command.agent_id.to_string())
                .bind(target_key)
                .bind(fqdn)
                .bind(command.created_at_ms)
                .execute(&mut *tx)
                .await?;
            let event = AuditEvent {
                at_ms: command.created_at_ms,
                actor: command.created_by.clone(),
                action: "connection.test".into(),
                target: format!("agent/{}", command.agent_id),
                detail: format!("command={} target={target_key}", command.id),
            };
            audit::record(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// These tests (unknown ids are left out), in the order asked.
    pub async fn connection_tests(
        &self,
        ids: &[String],
    ) -> Result<Vec<ConnectionTestRecord>, StoreError> {
        let _timed = self.timed("connection_tests");
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let row = sqlx::query("SELECT * FROM connection_tests WHERE command_id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = row {
                found.push(self.load_test(&row).await?);
            }
        }
        Ok(found)
    }

    /// The newest test of each host toward `target_key` (only `agent`'s, if given).
    pub async fn newest_connection_tests(
        &self,
        target_key: &str,
        agent: Option<AgentId>,
    ) -> Result<Vec<ConnectionTestRecord>, StoreError> {
        let _timed = self.timed("newest_connection_tests");
        let agent = agent.map(|a| a.to_string()).unwrap_or_default();
        let rows = sqlx::query(
            "SELECT * FROM connection_tests AS t WHERE target_id = $1 AND ($2 = '' OR agent_id = $2)
               AND created_at = (SELECT MAX(created_at) FROM connection_tests AS u WHERE u.target_id = t.target_id AND u.agent_id = t.agent_id)
             ORDER BY agent_id, command_id",
        )
        .bind(target_key)
        .bind(agent)
        .fetch_all(&self.pool)
        .await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            found.push(self.load_test(row).await?);
        }
        Ok(found)
    }

    async fn load_test(&self, row: &AnyRow) -> Result<ConnectionTestRecord, StoreError> {
        let id: String = col(row, "command_id")?;
        let command = self
            .get_command(&id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("connection test {id} has no command")))?;
        let instances = sqlx::query(
            "SELECT * FROM connection_instances WHERE command_id = $1 ORDER BY instance_name",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?;
        let results =
            sqlx::query("SELECT * FROM connection_results WHERE command_id = $1 ORDER BY seq")
                .bind(&id)
                .fetch_all(&self.pool)
                .await?;
        let mut decoded = Vec::with_capacity(instances.len());
        for row in &instances {
            let name: String = col(row, "instance_name")?;
            let mut instance = InstanceConnection {
                error: col(row, "error")?,
                duration_ms: u32::try_from(col::<i64>(row, "duration_ms")?).unwrap_or(u32::MAX),
                results: Vec::new(),
                name,
            };
            for result in &results {
                if col::<String>(result, "instance_name")? == instance.name {
                    instance.results.push(decode_result(result)?);
                }
            }
            decoded.push((instance, word(row, "verdict", Readiness::parse)?));
        }
        Ok(ConnectionTestRecord {
            command,
            target_key: col(row, "target_id")?,
            fqdn: col(row, "fqdn")?,
            reported_at_ms: col(row, "reported_at")?,
            instances: decoded,
        })
    }
}

/// Stores what the agent's test found (inside the report's transaction). False, and
/// nothing stored, when the command is not an unreported test of this agent's.
pub(crate) async fn record(
    conn: &mut AnyConnection,
    agent: AgentId,
    command_id: &str,
    instances: &[InstanceConnection],
    now_ms: i64,
) -> Result<bool, StoreError> {
    let claimed = sqlx::query("UPDATE connection_tests SET reported_at = $1 WHERE command_id = $2 AND agent_id = $3 AND reported_at IS NULL")
        .bind(now_ms)
        .bind(command_id)
        .bind(agent.to_string())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if claimed == 0 {
        return Ok(false);
    }
    for instance in instances {
        sqlx::query("INSERT INTO connection_instances (command_id, instance_name, error, duration_ms, verdict) VALUES ($1, $2, $3, $4, $5)")
            .bind(command_id)
            .bind(&instance.name)
            .bind(&instance.error)
            .bind(i64::from(instance.duration_ms))
            .bind(verdict(instance).as_str())
            .execute(&mut *conn)
            .await?;
        for (seq, result) in instance.results.iter().enumerate() {
            sqlx::query("INSERT INTO connection_results (command_id, instance_name, seq, check_id, severity, title, remedy, status, unknown_cause, findings) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(command_id)
                .bind(&instance.name)
                .bind(seq as i64)
                .bind(&result.check_id)
                .bind(result.severity.as_str())
                .bind(&result.title)
                .bind(&result.remedy)
                .bind(result.status.as_str())
                .bind(&result.unknown_cause)
                .bind(serde_json::to_string(&result.findings).unwrap_or_default())
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(true)
}

fn decode_result(row: &AnyRow) -> Result<CheckResult, StoreError> {
    let findings: String = col(row, "findings")?;
    Ok(CheckResult {
        check_id: col(row, "check_id")?,
        scope: Scope::Instance,
        severity: word(row, "severity", Severity::parse)?,
        title: col(row, "title")?,
        remedy: col(row, "remedy")?,
        status: word(row, "status", CheckStatus::parse)?,
        unknown_cause: col(row, "unknown_cause")?,
        findings: serde_json::from_str(&findings)
            .map_err(|e| StoreError::Corrupt(format!("findings: {e}")))?,
    })
}
