//! Operators: the certificate each holds, renewal and revocation. Every change is
//! audited in its transaction.

use sqlx::any::AnyRow;

use super::audit::{self, AuditEvent};
use super::{col, Store, StoreError};
use crate::fleet::identity::{Held, Role};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRecord {
    pub name: String,
    pub role: Role,
    pub cert_serial: String,
    /// The serial before the last renewal, until the operator first uses the new one.
    pub previous_cert_serial: Option<String>,
    pub cert_not_after_ms: i64,
    pub issued_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub revoked_reason: String,
}

impl OperatorRecord {
    /// Whether `serial` is the operator's current or previous certificate.
    pub fn holds(&self, serial: &str) -> Option<Held> {
        Held::find(
            &self.cert_serial,
            self.previous_cert_serial.as_deref(),
            serial,
        )
    }

    /// The stored text of the certificate `held`.
    pub fn serial(&self, held: Held) -> &str {
        held.stored(&self.cert_serial, self.previous_cert_serial.as_deref())
    }
}

/// A certificate issued to an operator.
#[derive(Debug, Clone)]
pub struct OperatorCertificate<'a> {
    pub name: &'a str,
    pub role: Role,
    pub serial: &'a str,
    pub not_after_ms: i64,
}

const COLUMNS: &str = "name, role, cert_serial, previous_cert_serial, cert_not_after, issued_at, revoked_at, revoked_reason";

impl Store {
    /// Records a certificate issued to an operator (a new one, or a re-issue that
    /// replaces the old certificate at once and lifts a revocation).
    pub async fn record_operator_issue(
        &self,
        issued: &OperatorCertificate<'_>,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let _timed = self.timed("record_operator_issue");
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO operators (name, role, cert_serial, previous_cert_serial, cert_not_after, issued_at, revoked_at, revoked_reason) \
             VALUES ($1, $2, $3, NULL, $4, $5, NULL, '') \
             ON CONFLICT (name) DO UPDATE SET role = excluded.role, cert_serial = excluded.cert_serial, \
             previous_cert_serial = NULL, cert_not_after = excluded.cert_not_after, issued_at = excluded.issued_at, \
             revoked_at = NULL, revoked_reason = ''",
        )
        .bind(issued.name)
        .bind(issued.role.as_str())
        .bind(issued.serial)
        .bind(issued.not_after_ms)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let event = AuditEvent {
            at_ms: now_ms,
            actor: actor.to_string(),
            action: "operator.issue".into(),
            target: format!("operator/{}", issued.name),
            detail: format!(
                "role={} cert_serial={} not_after_ms={}",
                issued.role.as_str(),
                issued.serial,
                issued.not_after_ms
            ),
        };
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_operator(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError> {
        let _timed = self.timed("get_operator");
        let sql = format!("SELECT {COLUMNS} FROM operators WHERE name = $1");
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Operators by name, from `after` (exclusive), at most `limit`.
    pub async fn list_operators(
        &self,
        after: &str,
        limit: u32,
    ) -> Result<Vec<OperatorRecord>, StoreError> {
        let _timed = self.timed("list_operators");
        let sql = format!("SELECT {COLUMNS} FROM operators WHERE name > $1 ORDER BY name LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    /// Records a renewed certificate in place of `presented` (the current or previous
    /// one), if the operator is not revoked. False when either changed meanwhile.
    pub async fn record_operator_renewal(
        &self,
        renewed: &OperatorCertificate<'_>,
        presented: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("record_operator_renewal");
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE operators SET previous_cert_serial = cert_serial, cert_serial = $1, cert_not_after = $2 \
             WHERE name = $3 AND role = $4 AND revoked_at IS NULL AND (cert_serial = $5 OR previous_cert_serial = $5)",
        )
        .bind(renewed.serial)
        .bind(renewed.not_after_ms)
        .bind(renewed.name)
        .bind(renewed.role.as_str())
        .bind(presented)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            let event = AuditEvent {
                at_ms: now_ms,
                actor: format!("operator/{}", renewed.name),
                action: "operator.renew".into(),
                target: format!("operator/{}", renewed.name),
                detail: format!(
                    "cert_serial={} replaces={presented} not_after_ms={}",
                    renewed.serial, renewed.not_after_ms
                ),
            };
            audit::record(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(changed == 1)
    }

    /// The operator used its renewed certificate `serial`: the one before it stops
    /// working.
    pub async fn confirm_operator_renewal(
        &self,
        name: &str,
        serial: &str,
    ) -> Result<(), StoreError> {
        let _timed = self.timed("confirm_operator_renewal");
        let mut tx = self.write().await?;
        sqlx::query("UPDATE operators SET previous_cert_serial = NULL WHERE name = $1 AND cert_serial = $2 AND previous_cert_serial IS NOT NULL")
            .bind(name)
            .bind(serial)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes an operator's certificates at once; false if unknown or already revoked.
    pub async fn revoke_operator(
        &self,
        name: &str,
        reason: &str,
        actor: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("revoke_operator");
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE operators SET revoked_at = $1, revoked_reason = $2 WHERE name = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms)
        .bind(reason)
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            let event = AuditEvent {
                at_ms: now_ms,
                actor: actor.to_string(),
                action: "operator.revoke".into(),
                target: format!("operator/{name}"),
                detail: format!("reason={reason}"),
            };
            audit::record(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(changed == 1)
    }
}

fn decode(row: &AnyRow) -> Result<OperatorRecord, StoreError> {
    let role: String = col(row, "role")?;
    Ok(OperatorRecord {
        role: role
            .parse()
            .map_err(|e: String| StoreError::Corrupt(format!("operators.role: {e}")))?,
        name: col(row, "name")?,
        cert_serial: col(row, "cert_serial")?,
        previous_cert_serial: col(row, "previous_cert_serial")?,
        cert_not_after_ms: col(row, "cert_not_after")?,
        issued_at_ms: col(row, "issued_at")?,
        revoked_at_ms: col(row, "revoked_at")?,
        revoked_reason: col(row, "revoked_reason")?,
    })
}
