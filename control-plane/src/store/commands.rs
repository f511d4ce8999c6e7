//! Commands to agents are rows: queued for offline agents until they expire, delivered
//! at least once, idempotent by id on the agent, and visible in every state.

use std::fmt;
use std::str::FromStr;

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::audit::{self, AuditEvent};
use super::{agent_id, col, Store, StoreError};
use crate::fleet::identity::AgentId;

/// A command's state. Allowed transitions:
/// - `Pending -> Sent` (delivered on a session) `-> Acked` (agent confirmed receipt)
///   `-> Done | Failed` (the agent's result report arrived);
/// - `Sent | Acked -> Sent` (redelivered on a new session: at-least-once; an acked
///   command whose result never came may have died with its agent, which runs each
///   command id once, so a redelivery of one that finished is skipped);
/// - `Pending | Sent | Acked -> Done | Failed` (a result may overtake its ack);
/// - `Pending | Sent -> Expired` (not acknowledged before its deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandState {
    Pending,
    Sent,
    Acked,
    Done,
    Failed,
    Expired,
}

impl CommandState {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandState::Pending => "pending",
            CommandState::Sent => "sent",
            CommandState::Acked => "acked",
            CommandState::Done => "done",
            CommandState::Failed => "failed",
            CommandState::Expired => "expired",
        }
    }
}

impl FromStr for CommandState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => CommandState::Pending,
            "sent" => CommandState::Sent,
            "acked" => CommandState::Acked,
            "done" => CommandState::Done,
            "failed" => CommandState::Failed,
            "expired" => CommandState::Expired,
            other => return Err(format!("unknown command state {other:?}")),
        })
    }
}

/// What a command asks the agent to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    CollectInventory,
    RunAssessment,
    /// Parameters in the payload: `connection::TestRequest`.
    TestConnection,
    /// Parameters in the payload: `migration::StepsRequest`.
    RunLinkSteps,
    /// Parameters in the payload: `cutover::validation::CountRequest`.
    CountRows,
    /// The instance's name in the payload (JSON string).
    ReadLinkStatus,
}

impl CommandKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::CollectInventory => "collect_inventory",
            CommandKind::RunAssessment => "run_assessment",
            CommandKind::TestConnection => "test_connection",
            CommandKind::RunLinkSteps => "run_link_steps",
            CommandKind::CountRows => "count_rows",
            CommandKind::ReadLinkStatus => "read_link_status",
        }
    }
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CommandKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "collect_inventory" | "collect-inventory" => Ok(CommandKind::CollectInventory),
            "run_assessment" | "run-assessment" => Ok(CommandKind::RunAssessment),
            "test_connection" | "test-connection" => Ok(CommandKind::TestConnection),
            "run_link_steps" | "run-link-steps" => Ok(CommandKind::RunLinkSteps),
            "count_rows" | "count-rows" => Ok(CommandKind::CountRows),
            "read_link_status" | "read-link-status" => Ok(CommandKind::ReadLinkStatus),
            other => Err(format!(
                "unknown command kind {other:?}: use collect_inventory, run_assessment, test_connection or run_link_steps"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    pub id: String,
    pub agent_id: AgentId,
    pub kind: CommandKind,
    pub state: CommandState,
    pub created_by: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub expires_at_ms: i64,
    pub error_code: String,
    pub error_message: String,
    /// W3C trace context (JSON object of traceparent / tracestate).
    pub trace_context: String,
    /// The kind's parameters, JSON ('' for kinds without any).
    pub payload: String,
}

impl CommandRecord {
    /// A new command waiting for delivery to `agent` until `expires_at_ms`, carrying the
    /// creating request's trace context (JSON).
    pub fn pending(
        agent_id: AgentId,
        kind: CommandKind,
        created_by: &str,
        now_ms: i64,
        expires_at_ms: i64,
        trace_context: &str,
    ) -> CommandRecord {
        CommandRecord {
            id: uuid::Uuid::new_v4().to_string(),
            agent_id,
            kind,
            state: CommandState::Pending,
            created_by: created_by.to_string(),
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            expires_at_ms,
            error_code: String::new(),
            error_message: String::new(),
            trace_context: trace_context.to_string(),
            payload: String::new(),
        }
    }

    /// The same command carrying `payload` (JSON) as its parameters.
    pub fn with_payload(self, payload: String) -> CommandRecord {
        CommandRecord { payload, ..self }
    }
}

impl Store {
    pub async fn create_command(&self, command: &CommandRecord) -> Result<(), StoreError> {
        let _timed = self.timed("create_command");
        let mut tx = self.write().await?;
        insert(&mut tx, command).await?;
        let event = AuditEvent {
            at_ms: command.created_at_ms,
            actor: command.created_by.clone(),
            action: "command.create".into(),
            target: format!("agent/{}", command.agent_id),
            detail: format!("command={} kind={}", command.id, command.kind),
        };
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Commands to deliver on a session now, marked as sent. A new session also
    /// redelivers commands sent earlier that have no result yet, acknowledged or not.
    pub async fn take_deliverable_commands(
        &self,
        agent: AgentId,
        redeliver: bool,
        now_ms: i64,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let _timed = self.timed("take_deliverable_commands");
        let states = if redeliver {
            "('pending', 'sent', 'acked')"
        } else {
            "('pending')"
        };
        // Most sessions open with nothing to deliver: a read says so without taking the
        // store's write lock (a whole fleet reconnects at once after a restart). A
        // command queued after this read wakes the session, which looks again.
        let any: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT 1 FROM commands WHERE agent_id = $1 AND state IN {states} AND expires_at > $2 LIMIT 1"
        ))
        .bind(agent.to_string())
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.write().await?;
        let sql = format!("SELECT * FROM commands WHERE agent_id = $1 AND state IN {states} AND expires_at > $2 ORDER BY created_at, id");
        let rows = sqlx::query(&sql)
            .bind(agent.to_string())
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await?;
        let mut commands = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        let sql = format!("UPDATE commands SET state = 'sent', updated_at = $2 WHERE agent_id = $1 AND state IN {states} AND expires_at > $2");
        sqlx::query(&sql)
            .bind(agent.to_string())
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        for command in &mut commands {
            command.state = CommandState::Sent;
            command.updated_at_ms = now_ms;
        }
        Ok(commands)
    }

    /// The agent confirmed receipt. Only the command's own agent can ack it.
    pub async fn ack_command(
        &self,
        agent: AgentId,
        command_id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("ack_command");
        let changed = self.execute(sqlx::query("UPDATE commands SET state = 'acked', updated_at = $1 WHERE id = $2 AND agent_id = $3 AND state IN ('pending', 'sent')")
            .bind(now_ms)
            .bind(command_id)
            .bind(agent.to_string()))
            .await?;
        Ok(changed == 1)
    }

    /// The newest `limit` commands (of `agent`, or of all).
    pub async fn list_commands(
        &self,
        agent: Option<AgentId>,
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let _timed = self.timed("list_commands");
        self.commands_page(agent, None, limit).await
    }

    /// At most `limit` commands, newest first, after the command `after` (created at,
    /// id) of an earlier page.
    pub async fn commands_page(
        &self,
        agent: Option<AgentId>,
        after: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let _timed = self.timed("commands_page");
        // An empty agent matches every agent.
        let agent = agent.map(|a| a.to_string()).unwrap_or_default();
        let (created_at, id) = after.unwrap_or_default();
        let rows = sqlx::query(
            "SELECT * FROM commands WHERE ($1 = '' OR agent_id = $1)
               AND ($2 = 0 OR created_at < $3 OR (created_at = $3 AND id > $4))
             ORDER BY created_at DESC, id LIMIT $5",
        )
        .bind(agent)
        .bind(i64::from(after.is_some()))
        .bind(created_at)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    pub async fn get_command(&self, id: &str) -> Result<Option<CommandRecord>, StoreError> {
        let _timed = self.timed("get_command");
        let row = sqlx::query("SELECT * FROM commands WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Queues a command that only reads (the driver's requests for fresh readings):
    /// not audited, as it changes nothing and comes every few seconds. The agent's
    /// reads of the same kind finished more than [`KEEP_READS_MS`] ago go: nothing
    /// refers to them, and a long cutover would otherwise leave one every few seconds.
    pub async fn queue_read(&self, command: &CommandRecord) -> Result<(), StoreError> {
        let _timed = self.timed("queue_read");
        let mut tx = self.write().await?;
        sqlx::query(
            "DELETE FROM commands WHERE agent_id = $1 AND kind = $2
               AND state IN ('done', 'failed', 'expired') AND updated_at < $3",
        )
        .bind(command.agent_id.to_string())
        .bind(command.kind.as_str())
        .bind(command.created_at_ms - KEEP_READS_MS)
        .execute(&mut *tx)
        .await?;
        insert(&mut tx, command).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether `agent` has a command of `kind` not yet answered nor expired.
    pub async fn command_outstanding(
        &self,
        agent: AgentId,
        kind: CommandKind,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("command_outstanding");
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM commands WHERE agent_id = $1 AND kind = $2 AND state IN ('pending', 'sent', 'acked') AND expires_at > $3",
        )
        .bind(agent.to_string())
        .bind(kind.as_str())
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Marks commands past their deadline and never acknowledged as expired.
    pub async fn expire_commands(&self, now_ms: i64) -> Result<u64, StoreError> {
        let _timed = self.timed("expire_commands");
        self.execute(sqlx::query("UPDATE commands SET state = 'expired', updated_at = $1 WHERE state IN ('pending', 'sent') AND expires_at <= $1")
            .bind(now_ms))
            .await
    }

    /// Agents with commands waiting for delivery.
    pub async fn agents_with_pending_commands(
        &self,
        now_ms: i64,
    ) -> Result<Vec<AgentId>, StoreError> {
        let _timed = self.timed("agents_with_pending_commands");
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT agent_id FROM commands WHERE state = 'pending' AND expires_at > $1",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|(id,)| agent_id(&id)).collect()
    }
}

/// How long a finished read command stays (see [`Store::queue_read`]).
pub const KEEP_READS_MS: i64 = 3_600_000;

/// Queues a command (inside the caller's transaction, which also audits it).
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    command: &CommandRecord,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO commands (id, agent_id, kind, state, created_by, created_at, updated_at, expires_at, trace_context, payload) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)")
        .bind(&command.id)
        .bind(command.agent_id.to_string())
        .bind(command.kind.as_str())
        .bind(command.state.as_str())
        .bind(&command.created_by)
        .bind(command.created_at_ms)
        .bind(command.expires_at_ms)
        .bind(&command.trace_context)
        .bind(&command.payload)
        .execute(conn)
        .await?;
    Ok(())
}

/// Applies a command's result (inside the report's transaction). Results for unknown or
/// another agent's commands change nothing.
pub(crate) async fn finish(
    conn: &mut AnyConnection,
    agent: AgentId,
    command_id: &str,
    state: CommandState,
    error_code: &str,
    error_message: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE commands SET state = $1, error_code = $2, error_message = $3, updated_at = $4 WHERE id = $5 AND agent_id = $6 AND state IN ('pending', 'sent', 'acked')")
        .bind(state.as_str())
        .bind(error_code)
        .bind(error_message)
        .bind(now_ms)
        .bind(command_id)
        .bind(agent.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

fn decode(row: &AnyRow) -> Result<CommandRecord, StoreError> {
    let agent: String = col(row, "agent_id")?;
    let kind: String = col(row, "kind")?;
    let state: String = col(row, "state")?;
    Ok(CommandRecord {
        id: col(row, "id")?,
        agent_id: agent_id(&agent)?,
        kind: kind.parse().map_err(StoreError::Corrupt)?,
        state: state.parse().map_err(StoreError::Corrupt)?,
        created_by: col(row, "created_by")?,
        created_at_ms: col(row, "created_at")?,
        updated_at_ms: col(row, "updated_at")?,
        expires_at_ms: col(row, "expires_at")?,
        error_code: col(row, "error_code")?,
        error_message: col(row, "error_message")?,
        trace_context: col(row, "trace_context")?,
        payload: col(row, "payload")?,
    })
}
