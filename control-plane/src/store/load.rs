//! Load windows: stored as agents report them (a redelivered window changes nothing),
//! pruned after the history, read per host for the SKU recommendation.

use sqlx::AnyConnection;

use super::{col, Store, StoreError};
use crate::fleet::identity::AgentId;
use crate::sizing::{LoadWindow, WindowStats};

/// Stores an agent's windows in its report's transaction, and drops that agent's
/// windows that ended before `keep_after_ms`.
pub(super) async fn record(
    conn: &mut AnyConnection,
    agent: AgentId,
    windows: &[LoadWindow],
    keep_after_ms: i64,
) -> Result<(), StoreError> {
    let agent = agent.to_string();
    for w in windows {
        sqlx::query("INSERT INTO load_windows (agent_id, instance_name, start_at, end_at, samples, cpu_count, host_memory_kb, storage_bytes, stats) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (agent_id, instance_name, start_at) DO NOTHING")
            .bind(&agent)
            .bind(&w.instance)
            .bind(w.start_ms)
            .bind(w.end_ms)
            .bind(i64::from(w.samples))
            .bind(i64::from(w.cpu_count))
            .bind(w.host_memory_kb)
            .bind(w.storage_bytes)
            .bind(serde_json::to_string(&w.stats).unwrap_or_default())
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM load_windows WHERE agent_id = $1 AND end_at < $2")
        .bind(&agent)
        .bind(keep_after_ms)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    /// One host's windows that ended after `since_ms`, oldest first.
    pub async fn load_windows(
        &self,
        agent: AgentId,
        since_ms: i64,
    ) -> Result<Vec<LoadWindow>, StoreError> {
        let _timed = self.timed("load_windows");
        let rows = sqlx::query(
            "SELECT * FROM load_windows WHERE agent_id = $1 AND end_at >= $2 ORDER BY instance_name, start_at",
        )
        .bind(agent.to_string())
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let stats: String = col(row, "stats")?;
                Ok(LoadWindow {
                    instance: col(row, "instance_name")?,
                    start_ms: col(row, "start_at")?,
                    end_ms: col(row, "end_at")?,
                    samples: col::<i64>(row, "samples")? as u32,
                    cpu_count: col::<i64>(row, "cpu_count")? as u32,
                    host_memory_kb: col(row, "host_memory_kb")?,
                    storage_bytes: col(row, "storage_bytes")?,
                    stats: serde_json::from_str::<WindowStats>(&stats)
                        .map_err(|e| StoreError::Corrupt(format!("load window stats: {e}")))?,
                })
            })
            .collect()
    }
}
