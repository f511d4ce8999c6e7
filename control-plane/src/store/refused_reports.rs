//! Reports the control plane refused: which, from whom, why. The agent is told and
//! sends them no more; operators see them with the host. Retention: the newest
//! [`KEPT_PER_AGENT`] per agent.

use super::{Store, StoreError};
use crate::fleet::identity::AgentId;

/// How many refusals are kept per agent.
pub const KEPT_PER_AGENT: i64 = 100;

/// Longest reason kept (it may quote what the agent sent).
const MAX_REASON: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedReport {
    pub report_id: String,
    pub kind: String,
    pub reason: String,
    pub refused_at_ms: i64,
}

impl Store {
    /// Records that `agent`'s report was refused, and forgets its oldest refusals
    /// past the newest [`KEPT_PER_AGENT`].
    pub async fn record_refused_report(
        &self,
        agent: AgentId,
        refused: &RefusedReport,
    ) -> Result<(), StoreError> {
        let _timed = self.timed("record_refused_report");
        let reason: String = refused.reason.chars().take(MAX_REASON).collect();
        let report_id: String = refused.report_id.chars().take(64).collect();
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO refused_reports (agent_id, report_id, kind, reason, refused_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (agent_id, report_id) DO UPDATE SET kind = excluded.kind, reason = excluded.reason, refused_at = excluded.refused_at",
        )
        .bind(agent.to_string())
        .bind(&report_id)
        .bind(&refused.kind)
        .bind(&reason)
        .bind(refused.refused_at_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM refused_reports WHERE agent_id = $1 AND report_id NOT IN
                (SELECT report_id FROM refused_reports WHERE agent_id = $1 ORDER BY refused_at DESC, report_id LIMIT $2)",
        )
        .bind(agent.to_string())
        .bind(KEPT_PER_AGENT)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `agent`'s refused reports, newest first.
    pub async fn refused_reports(&self, agent: AgentId) -> Result<Vec<RefusedReport>, StoreError> {
        let _timed = self.timed("refused_reports");
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT report_id, kind, reason, refused_at FROM refused_reports WHERE agent_id = $1 ORDER BY refused_at DESC, report_id",
        )
        .bind(agent.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(report_id, kind, reason, refused_at_ms)| RefusedReport {
                report_id,
                kind,
                reason,
                refused_at_ms,
            })
            .collect())
    }
}
