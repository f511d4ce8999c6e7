//! Leases: work one control-plane replica alone may drive (the migration driver, and so
//! every cutover), when several share a PostgreSQL store. A replica takes a lease that
//! is free or expired, or renews its own, in one statement, so two replicas never hold
//! it at once; a replica that stops (or is killed) loses it when it expires and another
//! takes over.
//!
//! Each taking of a lease by a new holder (or by the same one after it lapsed) raises
//! its **epoch**, a fencing token that only grows. The holder gets a [`Fence`]; a store
//! fenced by it ([`Store::fenced`]) checks, inside the transaction of every write, that
//! the fence's holder still holds that epoch unexpired, and refuses the write
//! ([`StoreError::Fenced`]) otherwise. So a replica that lost its lease cannot act,
//! however long its tick ran. Times are the database's own clock, never a replica's.

use super::{Dialect, Store, StoreError};

/// A held lease: who holds it, under which epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub name: String,
    pub holder: String,
    pub epoch: i64,
}

/// Who holds a lease, under which epoch, and for how much longer (by the database's
/// clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    pub holder: String,
    pub epoch: i64,
    pub left_ms: i64,
}

impl Store {
    /// The database's clock, in Unix milliseconds, as SQL.
    pub(crate) fn now_sql(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "CAST(unixepoch('subsec') * 1000 AS BIGINT)",
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// Takes or renews lease `name` for `holder` for `ttl_ms` from now (the database's
    /// now). The fence when `holder` has it; None when another holder has it and it
    /// has not expired. Renewing an unexpired lease keeps its epoch; any other taking
    /// raises it.
    pub async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_ms: i64,
    ) -> Result<Option<Fence>, StoreError> {
        let _timed = self.timed("take_lease");
        let now = self.now_sql();
        let statement = format!(
            "INSERT INTO leases (name, holder, expires_at, epoch) VALUES ($1, $2, {now} + $3, 1)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
                 epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > {now}
                              THEN leases.epoch ELSE leases.epoch + 1 END
             WHERE leases.holder = excluded.holder OR leases.expires_at <= {now}
             RETURNING epoch"
        );
        // Taking a lease is not itself fenced: it is what a fence comes from.
        let epoch: Option<i64> = sqlx::query_scalar(&statement)
            .bind(name)
            .bind(holder)
            .bind(ttl_ms)
            .fetch_optional(&self.pool)
            .await?;
        Ok(epoch.map(|epoch| Fence {
            name: name.to_string(),
            holder: holder.to_string(),
            epoch,
        }))
    }

    /// Gives lease `name` up, if `holder` has it (a replica shutting down): it expires
    /// now, its epoch kept, so the next holder's is higher.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let _timed = self.timed("release_lease");
        sqlx::query("UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Who holds lease `name` now, if anyone does (an expired lease is held by no one).
    pub async fn lease(&self, name: &str) -> Result<Option<LeaseState>, StoreError> {
        let _timed = self.timed("lease");
        let now = self.now_sql();
        let row: Option<(String, i64, i64)> = sqlx::query_as(&format!(
            "SELECT holder, epoch, expires_at - {now} FROM leases WHERE name = $1 AND expires_at > {now}"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(holder, epoch, left_ms)| LeaseState {
            holder,
            epoch,
            left_ms,
        }))
    }

    /// Renews the lease this store is fenced by for `ttl_ms` from now; refused
    /// ([`StoreError::Fenced`]) when it is no longer held under the fence's epoch.
    /// An unfenced store has nothing to renew.
    pub async fn renew_lease(&self, ttl_ms: i64) -> Result<(), StoreError> {
        let _timed = self.timed("renew_lease");
        let Some(fence) = &self.fence else {
            return Ok(());
        };
        match self.take_lease(&fence.name, &fence.holder, ttl_ms).await? {
            Some(renewed) if renewed.epoch == fence.epoch => Ok(()),
            _ => Err(StoreError::Fenced {
                lease: fence.name.clone(),
                epoch: fence.epoch,
            }),
        }
    }

    /// This store, its every write checked against `fence` in the write's own
    /// transaction.
    pub fn fenced(&self, fence: Fence) -> Store {
        Store {
            fence: Some(std::sync::Arc::new(fence)),
            ..self.clone()
        }
    }

    /// This store without its fence: for recording what already happened (a hook's
    /// outcome, a count taken) from work that outlives the tick that started it. A
    /// fact is written even by a replica that lost its lease since; decisions are not.
    pub fn unfenced(&self) -> Store {
        Store {
            fence: None,
            ..self.clone()
        }
    }

    /// Within a write transaction: refuses it unless this store's fence (if any) still
    /// holds its lease. On PostgreSQL the lease's row is share-locked until the write
    /// commits, so a new holder cannot take the lease between this check and the write.
    pub(super) async fn check_fence(
        &self,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<(), StoreError> {
        let Some(fence) = &self.fence else {
            return Ok(());
        };
        let lock = match self.dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR SHARE",
        };
        let statement = format!(
            "SELECT epoch FROM leases WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > {}{lock}",
            self.now_sql()
        );
        let held: Option<i64> = sqlx::query_scalar(&statement)
            .bind(&fence.name)
            .bind(&fence.holder)
            .bind(fence.epoch)
            .fetch_optional(conn)
            .await?;
        match held {
            Some(_) => Ok(()),
            None => Err(StoreError::Fenced {
                lease: fence.name.clone(),
                epoch: fence.epoch,
            }),
        }
    }
}
