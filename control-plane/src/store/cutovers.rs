//! Cutovers in the store: a linked migration's cutover started (its steps journaled
//! after the set-up's), approved, cancelled before its failover (its rollback
//! journaled), forced (a planned cutover's open steps replaced), and what the driver
//! notes while a step waits.

use sqlx::AnyConnection;

use super::migrations::{bump_revisions, failover_begun, insert_steps, record, Change};
use super::{Store, StoreError};
use crate::migration::journal;
use crate::migration::{sql_list, Phase, State};

impl Store {
    /// Starts the cutover of a linked migration: `intent` (JSON) kept, the cutover's
    /// `steps` (`journal::CUTOVER`, or as the operator chose: `cutover::Intent::steps`)
    /// journaled, audited. Unchanged when the migration is not linked (set-up running,
    /// failed, cut over or cancelled) or a cutover runs already.
    pub async fn start_cutover(
        &self,
        (migration, intent): (&str, &str),
        steps: &[&str],
        actor: &str,
        now_ms: i64,
    ) -> Result<Change, StoreError> {
        let _timed = self.timed("start_cutover");
        let mut tx = self.write().await?;
        let changed = sqlx::query(&format!("UPDATE migrations SET state = 'cutting_over', detail = 'cutting over', cutover = $1, updated_at = $2 WHERE id = $3 AND state IN ({})", sql_list(&State::LINKED)))
            .bind(intent)
            .bind(now_ms)
            .bind(migration)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(Change::Unchanged);
        }
        insert_steps(&mut tx, migration, Phase::Cutover, steps).await?;
        record(&mut tx, (migration, actor, "cutover.start"), intent, now_ms).await?;
        tx.commit().await?;
        Ok(Change::Made)
    }

    /// Starts a forced cutover (`--allow-data-loss`): from a linked migration, or from
    /// a planned cutover whose failover has not begun (stuck at its gates, or failed
    /// before them because SQL Server is lost). The planned cutover's steps not done
    /// are skipped, the forced cutover's journaled, audited (`cutover.force`, with
    /// the reason). Unchanged without a link made, with a step running, or while a
    /// cancel runs; refused once a failover began.
    pub async fn force_cutover(
        &self,
        migration: &str,
        intent: &str,
        actor: &str,
        now_ms: i64,
    ) -> Result<Change, StoreError> {
        let _timed = self.timed("force_cutover");
        let mut tx = self.write().await?;
        bump_revisions(&mut tx, "id = $1", Some(migration)).await?;
        if failover_begun(&mut tx, migration).await? {
            return Ok(Change::Refused);
        }
        let forcible = sql_list(
            &[
                State::LINKED.as_slice(),
                &[State::CuttingOver, State::Failed],
            ]
            .concat(),
        );
        let changed = sqlx::query(&format!("UPDATE migrations SET state = 'cutting_over', detail = 'cutting over (forced)', cutover = $1, updated_at = $2 WHERE id = $3
                AND state IN ({forcible})
                AND EXISTS (SELECT 1 FROM migration_steps WHERE migration_id = $3 AND name = $4 AND state = 'done')
                AND NOT EXISTS (SELECT 1 FROM migration_steps WHERE migration_id = $3 AND (state = 'running'
                    OR (phase IN ('rollback', 'teardown') AND state NOT IN ('done', 'skipped'))))"))
            .bind(intent)
            .bind(now_ms)
            .bind(migration)
            .bind(journal::CREATE_LINK)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(Change::Unchanged);
        }
        replace_open_steps(
            &mut tx,
            migration,
            (Phase::Cutover, &journal::FORCED_CUTOVER),
        )
        .await?;
        record(&mut tx, (migration, actor, "cutover.force"), intent, now_ms).await?;
        tx.commit().await?;
        Ok(Change::Made)
    }

    /// Cancels a cutover before its failover: its steps not begun are skipped and the
    /// rollback's journaled (both sides back to asynchronous commit), audited. Refused
    /// once the failover began; unchanged when no cutover runs or has failed.
    pub async fn cancel_cutover(
        &self,
        migration: &str,
        actor: &str,
        now_ms: i64,
    ) -> Result<Change, StoreError> {
        let _timed = self.timed("cancel_cutover");
        let mut tx = self.write().await?;
        bump_revisions(&mut tx, "id = $1", Some(migration)).await?;
        if failover_begun(&mut tx, migration).await? {
            return Ok(Change::Refused);
        }
        let changed = sqlx::query("UPDATE migrations SET state = 'cutting_over', detail = 'cancelling the cutover', updated_at = $1 WHERE id = $2 AND (state = 'cutting_over' OR state = 'failed')
                AND EXISTS (SELECT 1 FROM migration_steps WHERE migration_id = $2 AND phase = 'cutover' AND state NOT IN ('done', 'skipped'))")
            .bind(now_ms)
            .bind(migration)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(Change::Unchanged);
        }
        // A step that failed is not run again: the rollback undoes what it did.
        replace_open_steps(&mut tx, migration, (Phase::Rollback, &journal::ROLLBACK)).await?;
        record(&mut tx, (migration, actor, "cutover.cancel"), "", now_ms).await?;
        tx.commit().await?;
        Ok(Change::Made)
    }

    /// Records `approver`'s approval of the cutover requested at `requested_at_ms`
    /// (its intent's time), audited. Unchanged when that cutover is not the one
    /// running or `approver` approved it already.
    pub async fn approve_cutover(
        &self,
        (migration, requested_at_ms): (&str, i64),
        approver: &str,
        now_ms: i64,
    ) -> Result<Change, StoreError> {
        let _timed = self.timed("approve_cutover");
        let mut tx = self.write().await?;
        let added = sqlx::query(
            "INSERT INTO cutover_approvals (migration_id, requested_at, approver, approved_at)
             SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM migrations WHERE id = $1 AND state = 'cutting_over')
             ON CONFLICT (migration_id, requested_at, approver) DO NOTHING",
        )
        .bind(migration)
        .bind(requested_at_ms)
        .bind(approver)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if added == 0 {
            return Ok(Change::Unchanged);
        }
        let detail = format!("requested_at_ms={requested_at_ms}");
        record(
            &mut tx,
            (migration, approver, "cutover.approve"),
            &detail,
            now_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(Change::Made)
    }

    /// Who approved the cutover requested at `requested_at_ms`, in order.
    pub async fn cutover_approvers(
        &self,
        migration: &str,
        requested_at_ms: i64,
    ) -> Result<Vec<String>, StoreError> {
        let _timed = self.timed("cutover_approvers");
        Ok(sqlx::query_scalar(
            "SELECT approver FROM cutover_approvals WHERE migration_id = $1 AND requested_at = $2 ORDER BY approved_at, approver",
        )
        .bind(migration)
        .bind(requested_at_ms)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Sets a waiting step's detail (what it waits for) and when it began waiting:
    /// the first wait's start kept, or (queued) started again, so that time in a queue
    /// is not time its gates stayed closed.
    pub async fn note_step(
        &self,
        (migration, seq): (&str, i64),
        detail: &str,
        wait: Wait,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let _timed = self.timed("note_step");
        self.execute(sqlx::query("UPDATE migration_steps SET detail = $1, started_at = CASE WHEN $2 = 1 THEN $3 ELSE COALESCE(started_at, $3) END WHERE migration_id = $4 AND seq = $5 AND state IN ('pending', 'running')")
            .bind(detail)
            .bind(i64::from(wait == Wait::Queued))
            .bind(now_ms)
            .bind(migration)
            .bind(seq))
            .await?;
        Ok(())
    }

    /// Every other migration whose failover is in flight (the turn gate's facts: per
    /// MI, per host, in all).
    pub async fn failovers_in_flight(
        &self,
        except: &str,
    ) -> Result<Vec<FailoverInFlight>, StoreError> {
        let _timed = self.timed("failovers_in_flight");
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT m.id, m.agent_id, m.target_id FROM migrations m JOIN migration_steps s ON s.migration_id = m.id
             WHERE m.id <> $1 AND s.name = $2 AND s.state = 'running' ORDER BY m.id",
        )
        .bind(except)
        .bind(journal::FAILOVER)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(migration, host, target)| FailoverInFlight {
                migration,
                host,
                target,
            })
            .collect())
    }
}

/// A migration whose failover is in flight: its id, its host (agent id) and its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverInFlight {
    pub migration: String,
    pub host: String,
    pub target: String,
}

/// Skips the cutover's steps not done (pending, failed or blocked) and journals
/// `steps` as `phase` after them: a cancel's rollback, or a forced cutover replacing a
/// planned one.
async fn replace_open_steps(
    conn: &mut AnyConnection,
    migration: &str,
    (phase, steps): (Phase, &[(&'static str, journal::Side)]),
) -> Result<(), StoreError> {
    sqlx::query("UPDATE migration_steps SET state = 'skipped' WHERE migration_id = $1 AND phase = 'cutover' AND state IN ('pending', 'failed', 'blocked')")
        .bind(migration)
        .execute(&mut *conn)
        .await?;
    insert_steps(conn, migration, phase, &journal::names(steps)).await
}

/// How a step waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// For its conditions: the clock runs from the first wait.
    Closed,
    /// In a queue (a turn, a window, approvals): the clock starts again.
    Queued,
}
