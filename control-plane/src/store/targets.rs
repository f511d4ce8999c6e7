//! Target managed instances: added (and refreshed) by operators from what ARM said,
//! audited, listed, removed.

use sqlx::any::AnyRow;

use super::audit::{self, AuditEvent};
use super::{col, Store, StoreError};
use crate::azure::{ManagedInstance, ManagedInstanceId};

/// A target as stored: what ARM said, and when and by whom it was added.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRecord {
    pub instance: ManagedInstance,
    pub added_by: String,
    pub added_at_ms: i64,
    pub refreshed_at_ms: i64,
}

impl Store {
    /// Adds the target, or refreshes what ARM said about one already added (keeping
    /// who added it and when). True when it is new.
    pub async fn put_target(
        &self,
        mi: &ManagedInstance,
        actor: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("put_target");
        let mut tx = self.write().await?;
        let key = mi.id.key();
        let exists = sqlx::query("SELECT id FROM targets WHERE id = $1")
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        sqlx::query(
            "INSERT INTO targets (id, resource_id, location, tier, family, vcores, storage_gb, fqdn, collation_name,
                update_policy, state, provisioning_state, added_by, added_at, refreshed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
             ON CONFLICT (id) DO UPDATE SET resource_id = excluded.resource_id, location = excluded.location,
                tier = excluded.tier, family = excluded.family, vcores = excluded.vcores,
                storage_gb = excluded.storage_gb, fqdn = excluded.fqdn, collation_name = excluded.collation_name,
                update_policy = excluded.update_policy, state = excluded.state,
                provisioning_state = excluded.provisioning_state, refreshed_at = excluded.refreshed_at",
        )
        .bind(&key)
        .bind(mi.id.to_string())
        .bind(&mi.location)
        .bind(&mi.tier)
        .bind(&mi.family)
        .bind(mi.vcores)
        .bind(mi.storage_gb)
        .bind(&mi.fqdn)
        .bind(&mi.collation)
        .bind(&mi.update_policy)
        .bind(&mi.state)
        .bind(&mi.provisioning_state)
        .bind(actor)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let event = AuditEvent {
            at_ms: now_ms,
            actor: actor.to_string(),
            action: if exists {
                "target.refresh"
            } else {
                "target.add"
            }
            .into(),
            target: mi.id.to_string(),
            detail: format!(
                "fqdn={} tier={} vcores={} storage_gb={} update_policy={}",
                mi.fqdn, mi.tier, mi.vcores, mi.storage_gb, mi.update_policy
            ),
        };
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(!exists)
    }

    pub async fn targets(&self) -> Result<Vec<TargetRecord>, StoreError> {
        let _timed = self.timed("targets");
        self.targets_page("", i64::MAX).await
    }

    /// At most `limit` targets by resource id, after `after` ('' from the start).
    pub async fn targets_page(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<TargetRecord>, StoreError> {
        let _timed = self.timed("targets_page");
        let rows = sqlx::query(
            "SELECT * FROM targets WHERE resource_id > $1 ORDER BY resource_id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    pub async fn target(&self, id: &ManagedInstanceId) -> Result<Option<TargetRecord>, StoreError> {
        let _timed = self.timed("target");
        let row = sqlx::query("SELECT * FROM targets WHERE id = $1")
            .bind(id.key())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Removes the target; false when there was none.
    pub async fn remove_target(
        &self,
        id: &ManagedInstanceId,
        actor: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("remove_target");
        let mut tx = self.write().await?;
        let removed = sqlx::query("DELETE FROM targets WHERE id = $1")
            .bind(id.key())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if removed {
            let event = AuditEvent {
                at_ms: now_ms,
                actor: actor.to_string(),
                action: "target.remove".into(),
                target: id.to_string(),
                detail: String::new(),
            };
            audit::record(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(removed)
    }
}

fn decode(row: &AnyRow) -> Result<TargetRecord, StoreError> {
    let id = ManagedInstanceId::parse(&col::<String>(row, "resource_id")?)
        .map_err(StoreError::Corrupt)?;
    Ok(TargetRecord {
        instance: ManagedInstance {
            id,
            location: col(row, "location")?,
            tier: col(row, "tier")?,
            family: col(row, "family")?,
            vcores: col(row, "vcores")?,
            storage_gb: col(row, "storage_gb")?,
            fqdn: col(row, "fqdn")?,
            collation: col(row, "collation_name")?,
            update_policy: col(row, "update_policy")?,
            state: col(row, "state")?,
            provisioning_state: col(row, "provisioning_state")?,
        },
        added_by: col(row, "added_by")?,
        added_at_ms: col(row, "added_at")?,
        refreshed_at_ms: col(row, "refreshed_at")?,
    })
}
