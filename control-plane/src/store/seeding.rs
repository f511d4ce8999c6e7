//! The links that seed now, for seeding admission (`migration::admission`): a
//! migration whose `create_link` step began and that has not caught up yet.

use super::{col, Store, StoreError};
use crate::migration::admission::Seeding;
use crate::migration::observe::Observation;
use crate::migration::{journal, sql_list, State};

impl Store {
    pub async fn seeding_now(&self) -> Result<Vec<Seeding>, StoreError> {
        let _timed = self.timed("seeding_now");
        let rows = sqlx::query(&format!(
            "SELECT m.id, m.agent_id, m.target_id, m.observed FROM migrations m
             JOIN migration_steps s ON s.migration_id = m.id
             WHERE s.phase = 'setup' AND s.name = $1 AND s.state IN ('running', 'done')
               AND m.state IN ({})
             ORDER BY m.id",
            sql_list(&[State::Preparing, State::Seeding])
        ))
        .bind(journal::CREATE_LINK)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let observed: String = col(row, "observed")?;
                let rate = serde_json::from_str::<Observation>(&observed)
                    .ok()
                    .and_then(|o| o.sql)
                    .filter(|s| s.seeding)
                    .map(|s| s.seeding_rate_bytes_per_second);
                Ok(Seeding {
                    migration: col(row, "id")?,
                    host: col(row, "agent_id")?,
                    target: col(row, "target_id")?,
                    rate_bytes_per_second: rate,
                })
            })
            .collect()
    }
}
