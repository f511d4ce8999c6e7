//! Forgetting what is past its horizon (`crate::retention` says which horizons), in
//! batches: each batch is its own short write transaction (fenced on a driver's
//! store), so agents' writes interleave with a large sweep and a replica that lost
//! its lease stops after at most one batch.

use super::{Store, StoreError};

/// What is older than these goes (Unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizons {
    /// Reports' receipts, finished commands, refused reports, spent enrollment tokens,
    /// connection tests.
    pub history_ms: i64,
    /// Assessment runs, except the newest `keep_assessment_runs`.
    pub assessments_ms: i64,
    pub keep_assessment_runs: i64,
    pub audit_ms: i64,
}

/// Rows forgotten by one sweep, by what they were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub report_receipts: u64,
    pub refused_reports: u64,
    pub enrollment_tokens: u64,
    pub connection_tests: u64,
    pub assessment_runs: u64,
    pub commands: u64,
    pub audit_events: u64,
}

impl Pruned {
    /// (what, how many), for logs and metrics.
    pub fn by_kind(&self) -> [(&'static str, u64); 7] {
        [
            ("report_receipts", self.report_receipts),
            ("refused_reports", self.refused_reports),
            ("enrollment_tokens", self.enrollment_tokens),
            ("connection_tests", self.connection_tests),
            ("assessment_runs", self.assessment_runs),
            ("commands", self.commands),
            ("audit_events", self.audit_events),
        ]
    }
}

/// Agents of one assessment run whose rows go in one transaction.
const RUN_AGENTS_PER_BATCH: i64 = 50;

impl Store {
    /// Forgets everything past `horizons`, `batch` rows (or tests) at a time.
    pub async fn prune(&self, horizons: &Horizons, batch: i64) -> Result<Pruned, StoreError> {
        let _timed = self.timed("prune");
        let batch = batch.max(1);
        let history = horizons.history_ms;
        let mut pruned = Pruned {
            report_receipts: self.prune_rows(
                "DELETE FROM reports WHERE (agent_id, report_id) IN
                   (SELECT agent_id, report_id FROM reports WHERE received_at < $1 LIMIT $2)",
                history,
                batch,
            )
            .await?,
            refused_reports: self.prune_rows(
                "DELETE FROM refused_reports WHERE (agent_id, report_id) IN
                   (SELECT agent_id, report_id FROM refused_reports WHERE refused_at < $1 LIMIT $2)",
                history,
                batch,
            )
            .await?,
            enrollment_tokens: self.prune_rows(
                "DELETE FROM enrollment_tokens WHERE id IN
                   (SELECT id FROM enrollment_tokens WHERE used_at < $1 OR expires_at < $1 LIMIT $2)",
                history,
                batch,
            )
            .await?,
            ..Pruned::default()
        };
        pruned.connection_tests = self.prune_connection_tests(history, batch).await?;
        pruned.assessment_runs = self.prune_assessment_runs(horizons).await?;
        // After the tests and runs that point at them.
        pruned.commands = self
            .prune_rows(
                "DELETE FROM commands WHERE id IN
                   (SELECT c.id FROM commands c
                    WHERE c.updated_at < $1
                      AND (c.state IN ('done', 'failed', 'expired') OR c.expires_at < $1)
                      AND NOT EXISTS (SELECT 1 FROM assessment_targets t WHERE t.command_id = c.id)
                      AND NOT EXISTS (SELECT 1 FROM connection_tests x WHERE x.command_id = c.id)
                    LIMIT $2)",
                history,
                batch,
            )
            .await?;
        pruned.audit_events = self
            .prune_rows(
                "DELETE FROM audit_events WHERE id IN
                   (SELECT id FROM audit_events WHERE at < $1 ORDER BY id LIMIT $2)",
                horizons.audit_ms,
                batch,
            )
            .await?;
        Ok(pruned)
    }

    /// Runs `delete` (binding the horizon and the batch size) until a batch comes
    /// back short; how many rows went.
    async fn prune_rows(
        &self,
        delete: &str,
        horizon_ms: i64,
        batch: i64,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let mut tx = self.write().await?;
            let n = sqlx::query(delete)
                .bind(horizon_ms)
                .bind(batch)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            total += n;
            if n < batch as u64 {
                return Ok(total);
            }
        }
    }

    /// Connection tests asked before `horizon_ms`, with their instances and results.
    async fn prune_connection_tests(&self, horizon_ms: i64, batch: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let mut tx = self.write().await?;
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT command_id FROM connection_tests WHERE created_at < $1 LIMIT $2",
            )
            .bind(horizon_ms)
            .bind(batch)
            .fetch_all(&mut *tx)
            .await?;
            if ids.is_empty() {
                return Ok(total);
            }
            let tables = [
                "connection_results",
                "connection_instances",
                "connection_tests",
            ];
            delete_in(&mut tx, &tables, (None, "command_id"), &ids).await?;
            tx.commit().await?;
            total += ids.len() as u64;
            if ids.len() < batch as usize {
                return Ok(total);
            }
        }
    }

    /// Assessment runs created before the horizon, except the newest ones kept: each
    /// run's rows a few agents at a time, then the run.
    async fn prune_assessment_runs(&self, horizons: &Horizons) -> Result<u64, StoreError> {
        let runs: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM assessment_runs WHERE created_at < $1 AND id NOT IN
               (SELECT id FROM assessment_runs ORDER BY created_at DESC, id DESC LIMIT $2)",
        )
        .bind(horizons.assessments_ms)
        .bind(horizons.keep_assessment_runs)
        .fetch_all(&self.pool)
        .await?;
        for run in &runs {
            loop {
                let mut tx = self.write().await?;
                let agents: Vec<String> = sqlx::query_scalar(
                    "SELECT agent_id FROM assessment_targets WHERE run_id = $1 LIMIT $2",
                )
                .bind(run)
                .bind(RUN_AGENTS_PER_BATCH)
                .fetch_all(&mut *tx)
                .await?;
                if agents.is_empty() {
                    sqlx::query("DELETE FROM assessment_runs WHERE id = $1")
                        .bind(run)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    break;
                }
                let tables = [
                    "assessment_findings",
                    "assessment_results",
                    "assessment_databases",
                    "assessment_instances",
                    "assessment_targets",
                ];
                delete_in(&mut tx, &tables, (Some(run), "agent_id"), &agents).await?;
                tx.commit().await?;
            }
        }
        Ok(runs.len() as u64)
    }
}

/// Deletes from each of `tables`, in order (children before parents: the foreign
/// keys), the rows whose `column` is one of `keys` (and whose run is `run`, if given).
async fn delete_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tables: &[&str],
    (run, column): (Option<&String>, &str),
    keys: &[String],
) -> Result<(), StoreError> {
    let first = 1 + usize::from(run.is_some());
    let list = placeholders_from(first, keys.len());
    let scope = if run.is_some() {
        "run_id = $1 AND "
    } else {
        ""
    };
    for table in tables {
        let sql = format!("DELETE FROM {table} WHERE {scope}{column} IN ({list})");
        let mut delete = sqlx::query(&sql);
        if let Some(run) = run {
            delete = delete.bind(run);
        }
        for key in keys {
            delete = delete.bind(key);
        }
        delete.execute(&mut **tx).await?;
    }
    Ok(())
}

/// `$first, ... $(first + n - 1)`.
fn placeholders_from(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
