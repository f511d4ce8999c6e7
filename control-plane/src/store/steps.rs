//! The journal of a migration's steps (`migration::journal`): journaled pending,
//! started from the state the driver read (a compare-and-set under the migration's
//! row lock, so a cancel racing it is seen), ended once, each change audited; an
//! agent's report of the steps it ran applied in its own transaction.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::assessments::word;
use super::commands::{self, CommandRecord};
use super::migrations::{lock_migration, record};
use super::{col, Store, StoreError};
use crate::fleet::identity::AgentId;
use crate::migration::{step_metrics, AgentSteps, Phase, State, StepState};

/// A journaled step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub seq: i64,
    pub phase: Phase,
    pub name: String,
    pub state: StepState,
    pub detail: String,
    pub already_done: bool,
    pub command_id: String,
    pub operation: String,
    pub attempts: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
}

impl Store {
    pub async fn migration_steps(&self, id: &str) -> Result<Vec<StepRecord>, StoreError> {
        let _timed = self.timed("migration_steps");
        let rows =
            sqlx::query("SELECT * FROM migration_steps WHERE migration_id = $1 ORDER BY seq")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(decode_step).collect()
    }

    /// Queues `command` for the agent steps `seqs` and marks them running on it, in one
    /// transaction: a crash leaves both or neither. False, with nothing changed, when
    /// one of them is no longer pending (a cancel skipped it since it was read).
    pub async fn start_agent_steps(
        &self,
        migration: &str,
        seqs: &[i64],
        command: &CommandRecord,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("start_agent_steps");
        let mut tx = self.write().await?;
        lock_migration(&mut tx, migration).await?;
        commands::insert(&mut tx, command).await?;
        for seq in seqs {
            let changed = sqlx::query("UPDATE migration_steps SET state = 'running', command_id = $1, operation = '', attempts = attempts + 1, started_at = $2, finished_at = NULL WHERE migration_id = $3 AND seq = $4 AND state = 'pending'")
                .bind(&command.id)
                .bind(command.created_at_ms)
                .bind(migration)
                .bind(seq)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed == 0 {
                // A cancel skipped it since: neither the command nor any step changes.
                tx.rollback().await?;
                return Ok(false);
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Marks an ARM step running, waiting on `operation` ('' while the request is
    /// being made), when it is still in state `from` (what the driver read) and its
    /// migration's row is locked: a cancel that skipped the step since wins, and
    /// nothing is changed (false), so the request is never made.
    pub async fn start_arm_step(
        &self,
        (migration, seq): (&str, i64),
        from: StepState,
        operation: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("start_arm_step");
        let mut tx = self.write().await?;
        lock_migration(&mut tx, migration).await?;
        let changed = sqlx::query("UPDATE migration_steps SET state = 'running', command_id = '', operation = $1, attempts = attempts + CASE WHEN $1 = '' THEN 1 ELSE 0 END, started_at = COALESCE(CASE WHEN $1 = '' THEN NULL ELSE started_at END, $2), finished_at = NULL WHERE migration_id = $3 AND seq = $4 AND state = $5")
            .bind(operation)
            .bind(now_ms)
            .bind(migration)
            .bind(seq)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(changed == 1)
    }

    /// Journals the failover request of `migration` as started (step `seq`), when
    /// the cutover is still the one its gates judged: the step still pending and no
    /// operator change since (`revision`, read with the migration). False, with
    /// nothing changed, otherwise: the request is not made, and the next tick judges
    /// the gates again. A cancel or a pause that comes second waits for this one (the
    /// migration's row is locked first by both), and sees the failover begun.
    pub async fn start_failover(
        &self,
        (migration, seq): (&str, i64),
        revision: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("start_failover");
        let mut tx = self.write().await?;
        let current = sqlx::query(
            "UPDATE migrations SET updated_at = updated_at WHERE id = $1 AND revision = $2 AND state = $3",
        )
        .bind(migration)
        .bind(revision)
        .bind(State::CuttingOver.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if current == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let started = sqlx::query("UPDATE migration_steps SET state = 'running', command_id = '', operation = '', attempts = attempts + 1, started_at = $1, finished_at = NULL WHERE migration_id = $2 AND seq = $3 AND state = 'pending'")
            .bind(now_ms)
            .bind(migration)
            .bind(seq)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(started == 1)
    }

    /// Records a step's end (`already_done`: it found its work done); a blocked or
    /// failed step fails the migration with its detail.
    pub async fn finish_step(
        &self,
        migration: &str,
        seq: i64,
        (state, already_done): (StepState, bool),
        detail: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let _timed = self.timed("finish_step");
        let mut tx = self.write().await?;
        lock_migration(&mut tx, migration).await?;
        let end = StepEnd {
            state,
            detail,
            already_done,
            at_ms: now_ms,
            actor: crate::migration::ACTOR,
        };
        // A step a cancel skipped (or that ended) since it was read stays as it is.
        let Some((name, started_at)) = finish(&mut tx, migration, seq, end).await? else {
            return Ok(());
        };
        if matches!(state, StepState::Blocked | StepState::Failed) {
            fail(&mut tx, migration, &format!("{name}: {detail}"), now_ms).await?;
        }
        tx.commit().await?;
        step_metrics::finished(&name, state, started_at.map(|at| now_ms - at), detail);
        Ok(())
    }
}

/// How a step ended, and who ran it.
pub(super) struct StepEnd<'a> {
    state: StepState,
    detail: &'a str,
    already_done: bool,
    at_ms: i64,
    actor: &'a str,
}

/// Ends one step, audited; returns its name.
pub(super) async fn finish(
    conn: &mut AnyConnection,
    migration: &str,
    seq: i64,
    end: StepEnd<'_>,
) -> Result<Option<(String, Option<i64>)>, StoreError> {
    let finished: Option<(String, Option<i64>)> = sqlx::query_as(
        "UPDATE migration_steps SET state = $1, detail = $2, already_done = $3, finished_at = $4
         WHERE migration_id = $5 AND seq = $6 AND state IN ('pending', 'running') RETURNING name, started_at",
    )
    .bind(end.state.as_str())
    .bind(end.detail)
    .bind(i64::from(end.already_done))
    .bind(end.at_ms)
    .bind(migration)
    .bind(seq)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((name, started_at)) = finished else {
        return Ok(None);
    };
    let found = if end.already_done {
        " (found done)"
    } else {
        ""
    };
    let action = format!("step.{}", end.state.as_str());
    let detail = format!("{seq} {name}{found}: {}", end.detail);
    record(conn, (migration, end.actor, &action), &detail, end.at_ms).await?;
    Ok(Some((name, started_at)))
}

pub(super) async fn fail(
    conn: &mut AnyConnection,
    migration: &str,
    detail: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE migrations SET state = 'failed', detail = $1, updated_at = $2 WHERE id = $3 AND state <> 'cancelled'")
        .bind(detail)
        .bind(now_ms)
        .bind(migration)
        .execute(conn)
        .await?;
    Ok(())
}

/// Applies an agent's LinkSteps report (inside the report's transaction): each step it
/// ran ends as it says; the command's steps it did not reach wait again, or fail with
/// the run's error. False when no step waits on that command of this agent.
pub(crate) async fn record_agent_steps(
    conn: &mut AnyConnection,
    agent: AgentId,
    report: &AgentSteps,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let waiting = sqlx::query(
        "SELECT s.seq, s.name FROM migration_steps s JOIN migrations m ON m.id = s.migration_id
         WHERE s.migration_id = $1 AND s.command_id = $2 AND s.state = 'running' AND m.agent_id = $3
         ORDER BY s.seq",
    )
    .bind(&report.migration_id)
    .bind(&report.command_id)
    .bind(agent.to_string())
    .fetch_all(&mut *conn)
    .await?;
    if waiting.is_empty() {
        return Ok(false);
    }
    let migration = &report.migration_id;
    let mut stopped = None;
    for row in &waiting {
        let (seq, name): (i64, String) = (col(row, "seq")?, col(row, "name")?);
        let ran = report.steps.iter().find(|s| s.name == name);
        match (ran, &stopped) {
            (Some(step), None) => {
                let end = StepEnd {
                    state: step.state,
                    detail: &step.detail,
                    already_done: step.already_done,
                    at_ms: step.started_ms.saturating_add(step.duration_ms),
                    actor: &format!("agent/{agent}"),
                };
                if finish(conn, migration, seq, end).await?.is_some() {
                    step_metrics::finished(&name, step.state, Some(step.duration_ms), &step.detail);
                }
                if step.state != StepState::Done {
                    stopped = Some(format!("{name}: {}", step.detail));
                }
            }
            (None, None) if !report.error.is_empty() => {
                let end = StepEnd {
                    state: StepState::Failed,
                    detail: &report.error,
                    already_done: false,
                    at_ms: now_ms,
                    actor: &format!("agent/{agent}"),
                };
                if finish(conn, migration, seq, end).await?.is_some() {
                    step_metrics::finished(&name, StepState::Failed, None, &report.error);
                }
                stopped = Some(format!("{name}: {}", report.error));
            }
            _ => {
                sqlx::query("UPDATE migration_steps SET state = 'pending', command_id = '' WHERE migration_id = $1 AND seq = $2")
                    .bind(migration)
                    .bind(seq)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    sqlx::query(
        "UPDATE migrations SET
            certificate_name = CASE WHEN $1 = '' THEN certificate_name ELSE $1 END,
            certificate = CASE WHEN $2 = '' THEN certificate ELSE $2 END,
            listener_url = CASE WHEN $3 = '' THEN listener_url ELSE $3 END,
            updated_at = $4
         WHERE id = $5",
    )
    .bind(&report.certificate_name)
    .bind(hex::encode_upper(&report.certificate))
    .bind(&report.listener_url)
    .bind(now_ms)
    .bind(migration)
    .execute(&mut *conn)
    .await?;
    if let Some(detail) = stopped {
        fail(conn, migration, &detail, now_ms).await?;
    }
    Ok(true)
}

fn decode_step(row: &AnyRow) -> Result<StepRecord, StoreError> {
    let already_done: i64 = col(row, "already_done")?;
    Ok(StepRecord {
        seq: col(row, "seq")?,
        phase: word(row, "phase", Phase::parse)?,
        name: col(row, "name")?,
        state: word(row, "state", StepState::parse)?,
        detail: col(row, "detail")?,
        already_done: already_done != 0,
        command_id: col(row, "command_id")?,
        operation: col(row, "operation")?,
        attempts: col(row, "attempts")?,
        started_at_ms: col(row, "started_at")?,
        finished_at_ms: col(row, "finished_at")?,
    })
}

/// Journals `names` as pending steps of `phase`, numbered after the journal's last.
pub(super) async fn insert_steps(
    conn: &mut AnyConnection,
    migration: &str,
    phase: Phase,
    names: &[&str],
) -> Result<(), StoreError> {
    let next: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq) + 1, 0) FROM migration_steps WHERE migration_id = $1",
    )
    .bind(migration)
    .fetch_one(&mut *conn)
    .await?;
    for (n, name) in names.iter().enumerate() {
        sqlx::query("INSERT INTO migration_steps (migration_id, seq, name, state, phase) VALUES ($1, $2, $3, 'pending', $4)")
            .bind(migration)
            .bind(next + n as i64)
            .bind(*name)
            .bind(phase.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
