//! Host labels: set and removed by operators (audited), read per host and for the fleet.

use std::collections::HashMap;

use super::audit::{self, AuditEvent};
use super::{agent_id, col, Store, StoreError};
use crate::fleet::identity::AgentId;
use crate::fleet::labels::Labels;

impl Store {
    /// Applies `set` and `remove` in one transaction and returns the host's labels.
    pub async fn set_host_labels(
        &self,
        agent: AgentId,
        set: &Labels,
        remove: &[String],
        actor: &str,
        now_ms: i64,
    ) -> Result<Labels, StoreError> {
        let _timed = self.timed("set_host_labels");
        let mut tx = self.write().await?;
        for key in remove {
            sqlx::query("DELETE FROM host_labels WHERE agent_id = $1 AND label_key = $2")
                .bind(agent.to_string())
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        for (key, value) in set {
            sqlx::query("INSERT INTO host_labels (agent_id, label_key, label_value) VALUES ($1, $2, $3) ON CONFLICT (agent_id, label_key) DO UPDATE SET label_value = excluded.label_value")
                .bind(agent.to_string())
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await?;
        }
        let detail = set
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .chain(remove.iter().map(|k| format!("{k}-")))
            .collect::<Vec<_>>()
            .join(" ");
        let event = AuditEvent {
            at_ms: now_ms,
            actor: actor.to_string(),
            action: "host.labels".into(),
            target: format!("agent/{agent}"),
            detail,
        };
        audit::record(&mut tx, &event).await?;
        let labels = labels_of(&mut *tx, agent).await?;
        tx.commit().await?;
        Ok(labels)
    }

    pub async fn host_labels(&self, agent: AgentId) -> Result<Labels, StoreError> {
        let _timed = self.timed("host_labels");
        labels_of(&self.pool, agent).await
    }

    /// The labels of the hosts `ids` (hosts without labels are absent).
    pub async fn labels_of_hosts(
        &self,
        ids: &[String],
    ) -> Result<HashMap<AgentId, Labels>, StoreError> {
        let _timed = self.timed("labels_of_hosts");
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let placeholders = (1..=ids.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT agent_id, label_key, label_value FROM host_labels WHERE agent_id IN ({placeholders})"
        );
        let mut query = sqlx::query(&sql);
        for id in ids {
            query = query.bind(id);
        }
        by_host(&query.fetch_all(&self.pool).await?)
    }

    /// Every host's labels (hosts without labels are absent).
    pub async fn all_host_labels(&self) -> Result<HashMap<AgentId, Labels>, StoreError> {
        let _timed = self.timed("all_host_labels");
        let rows = sqlx::query("SELECT agent_id, label_key, label_value FROM host_labels")
            .fetch_all(&self.pool)
            .await?;
        by_host(&rows)
    }
}

/// (agent_id, label_key, label_value) rows, gathered per host.
fn by_host(rows: &[sqlx::any::AnyRow]) -> Result<HashMap<AgentId, Labels>, StoreError> {
    let mut out: HashMap<AgentId, Labels> = HashMap::new();
    for row in rows {
        out.entry(agent_id(&col::<String>(row, "agent_id")?)?)
            .or_default()
            .insert(col(row, "label_key")?, col(row, "label_value")?);
    }
    Ok(out)
}

async fn labels_of<'e, E>(executor: E, agent: AgentId) -> Result<Labels, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows = sqlx::query("SELECT label_key, label_value FROM host_labels WHERE agent_id = $1")
        .bind(agent.to_string())
        .fetch_all(executor)
        .await?;
    rows.iter()
        .map(|row| Ok((col(row, "label_key")?, col(row, "label_value")?)))
        .collect()
}
