//! Leases: work one control-plane replica alone may drive (the migration driver, and so
//! every cutover), when several share a PostgreSQL store. A replica takes a lease that
//! is free or expired, or renews its own, in one statement, so two replicas never hold
//! it at once; a replica that stops (or is killed) loses it when it expires and another
//! takes over.

use super::{Store, StoreError};

impl Store {
    /// Takes or renews lease `name` for `holder` until `now_ms + ttl_ms`; false when
    /// another holder has it and it has not expired.
    pub async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(now_ms + ttl_ms)
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    /// Gives lease `name` up, if `holder` has it (a replica shutting down).
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Who holds lease `name` and until when, if anyone does.
    pub async fn lease(&self, name: &str) -> Result<Option<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT holder, expires_at FROM leases WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}
