//! The SQL Server side of each link as the agents last read it (`LinkStatus` reports):
//! one row per database, replaced by a newer reading, read by the migration driver.

use sqlx::AnyConnection;

use super::{col, Store, StoreError};
use crate::fleet::identity::AgentId;
use crate::migration::sql_side::{InstanceLinkStatus, SqlLinkStatus};

/// How long a link status report's id is kept against redelivery. A late redelivery
/// after that is stored again and changes nothing (older readings never replace newer
/// ones), so the ids need not live long, and a host reporting every 15 s does not
/// grow the reports table without end.
const KEEP_REPORT_IDS_MS: i64 = 3_600_000;

/// Stores an agent's reading in its report's transaction.
pub(super) async fn record(
    conn: &mut AnyConnection,
    agent: AgentId,
    status: &InstanceLinkStatus,
    now_ms: i64,
) -> Result<(), StoreError> {
    let agent = agent.to_string();
    for db in &status.databases {
        let json = serde_json::to_string(db).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO link_status (agent_id, instance_name, database_name, link_name, observed_at, status)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (agent_id, instance_name, database_name) DO UPDATE SET
                link_name = excluded.link_name, observed_at = excluded.observed_at, status = excluded.status
             WHERE link_status.observed_at < excluded.observed_at",
        )
        .bind(&agent)
        .bind(&status.instance)
        .bind(&db.database)
        .bind(&db.link_name)
        .bind(status.observed_ms)
        .bind(json)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "DELETE FROM reports WHERE agent_id = $1 AND kind = 'link_status' AND received_at < $2",
    )
    .bind(&agent)
    .bind(now_ms - KEEP_REPORT_IDS_MS)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// The newest reading of `database` on the agent's `instance` through link
    /// `link_name`, and when the agent read it.
    pub async fn link_status(
        &self,
        agent: AgentId,
        instance: &str,
        database: &str,
        link_name: &str,
    ) -> Result<Option<(i64, SqlLinkStatus)>, StoreError> {
        let _timed = self.timed("link_status");
        let row = sqlx::query(
            "SELECT observed_at, status FROM link_status
             WHERE agent_id = $1 AND instance_name = $2 AND database_name = $3 AND link_name = $4",
        )
        .bind(agent.to_string())
        .bind(instance)
        .bind(database)
        .bind(link_name)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let status: String = col(&row, "status")?;
        let status = serde_json::from_str(&status)
            .map_err(|e| StoreError::Corrupt(format!("link_status.status: {e}")))?;
        Ok(Some((col(&row, "observed_at")?, status)))
    }
}
