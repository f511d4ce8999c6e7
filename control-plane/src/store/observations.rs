//! The driver's readings of many links at once (`reconcile::observe`): the SQL Server
//! side of every active migration in one query, and the states and observations the
//! readings led to written in one statement per [`ROWS_PER_STATEMENT`], each row only
//! over the state it was judged from. A tick over a thousand linked migrations costs a
//! few queries, not a few thousand.

use std::collections::HashMap;

use super::{agent_id, col, Store, StoreError};
use crate::fleet::identity::AgentId;
use crate::migration::sql_side::SqlLinkStatus;
use crate::migration::{sql_list, State};

/// Rows per UPDATE: 7 parameters each, well under SQLite's and PostgreSQL's limits.
const ROWS_PER_STATEMENT: usize = 300;

/// Which database's link an agent reported: (agent, instance, database).
pub type SqlSideKey = (AgentId, String, String);

/// An agent's newest reading of one link: its name, when it was read, what it showed.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlSide {
    pub link_name: String,
    pub observed_at_ms: i64,
    pub status: SqlLinkStatus,
}

/// One migration's new state from a reading, written only over `from`.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub migration: String,
    pub from: State,
    pub state: State,
    pub detail: String,
    /// JSON (`migration::observe::Observation`); '' when there was no reading (the
    /// target or the link is gone), which keeps the last one.
    pub observation: String,
    /// The reading showed progress (the stall clock starts again).
    pub progressed: bool,
}

impl Store {
    /// The newest readings of the links of every migration the driver works on.
    pub async fn active_sql_sides(&self) -> Result<HashMap<SqlSideKey, SqlSide>, StoreError> {
        let _timed = self.timed("active_sql_sides");
        let rows = sqlx::query(&format!(
            "SELECT l.agent_id, l.instance_name, l.database_name, l.link_name, l.observed_at, l.status
             FROM link_status l JOIN migrations m
               ON m.agent_id = l.agent_id AND m.instance_name = l.instance_name
              AND m.database_name = l.database_name AND m.link_name = l.link_name
             WHERE m.state NOT IN ({})",
            sql_list(&[State::Failed, State::Cancelled, State::Completed])
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let status: String = col(row, "status")?;
                let status = serde_json::from_str(&status)
                    .map_err(|e| StoreError::Corrupt(format!("link_status.status: {e}")))?;
                let key = (
                    agent_id(&col::<String>(row, "agent_id")?)?,
                    col(row, "instance_name")?,
                    col(row, "database_name")?,
                );
                let side = SqlSide {
                    link_name: col(row, "link_name")?,
                    observed_at_ms: col(row, "observed_at")?,
                    status,
                };
                Ok((key, side))
            })
            .collect()
    }

    /// Writes the readings' outcomes in one transaction; each migration only where its
    /// state is still the one judged from (an operator's cancel since wins). Returns
    /// how many were written. A transition the states do not allow is refused before
    /// anything is written.
    pub async fn record_observations(
        &self,
        observed: &[Observed],
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let _timed = self.timed("record_observations");
        if let Some(o) = observed.iter().find(|o| !o.from.may_become(o.state)) {
            return Err(StoreError::Transition {
                from: o.from.as_str(),
                to: o.state.as_str(),
            });
        }
        if observed.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write().await?;
        let mut written = 0;
        for chunk in observed.chunks(ROWS_PER_STATEMENT) {
            // VALUES names its columns column1.. in both dialects.
            let rows = (0..chunk.len())
                .map(|i| {
                    let p = i * 6;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, CAST(${} AS BIGINT))",
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5,
                        p + 6,
                        p + 7
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "UPDATE migrations SET state = v.column3, detail = v.column4, updated_at = $1,
                    observed = CASE WHEN v.column5 = '' THEN observed ELSE v.column5 END,
                    observed_at = CASE WHEN v.column5 = '' THEN observed_at ELSE $1 END,
                    progressed_at = CASE WHEN v.column6 = 1 OR progressed_at IS NULL THEN $1 ELSE progressed_at END
                 FROM (VALUES {rows}) AS v
                 WHERE migrations.id = v.column1 AND migrations.state = v.column2"
            );
            let mut query = sqlx::query(&sql).bind(now_ms);
            for o in chunk {
                query = query
                    .bind(o.migration.as_str())
                    .bind(o.from.as_str())
                    .bind(o.state.as_str())
                    .bind(o.detail.as_str())
                    .bind(o.observation.as_str())
                    .bind(i64::from(o.progressed));
            }
            written += query.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(written)
    }
}
