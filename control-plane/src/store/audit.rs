//! The audit log: every state change, with actor, target and detail. Writers call
//! [`record`] inside the transaction that makes the change, so the two cannot diverge;
//! each event is also logged (target `ferry_control::audit`). `ferry audit` reads it.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

pub(crate) async fn record(conn: &mut AnyConnection, event: &AuditEvent) -> Result<(), StoreError> {
    // Also a log line (and an event of the current span, exported over OTLP).
    tracing::info!(
        target: "ferry_control::audit",
        actor = %event.actor,
        action = %event.action,
        target_object = %event.target,
        detail = %event.detail,
        "audit"
    );
    sqlx::query(
        "INSERT INTO audit_events (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(event.at_ms)
    .bind(&event.actor)
    .bind(&event.action)
    .bind(&event.target)
    .bind(&event.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records `action` by `actor` on `target` (`migration/<id>`, `wave/<name>`).
pub(crate) async fn record_on(
    conn: &mut AnyConnection,
    target: String,
    (actor, action): (&str, &str),
    detail: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    let event = AuditEvent {
        at_ms,
        actor: actor.into(),
        action: action.into(),
        target,
        detail: detail.into(),
    };
    record(conn, &event).await
}

impl Store {
    /// Records an event that changes nothing else (a gate decision).
    pub async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let _timed = self.timed("record_audit");
        let mut conn = self.pool.acquire().await?;
        record(&mut conn, event).await
    }

    /// The newest `limit` events, newest first.
    pub async fn list_audit(&self, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        let _timed = self.timed("list_audit");
        self.audit_of("", limit).await
    }

    /// The newest `limit` events whose target starts with `target` ('' for all),
    /// newest first.
    pub async fn audit_of(&self, target: &str, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        let _timed = self.timed("audit_of");
        Ok(self
            .audit_page(target, None, limit)
            .await?
            .into_iter()
            .map(|(_, event)| event)
            .collect())
    }

    /// Like `audit_of`, older than the event `before` (an id from an earlier page);
    /// each event with its id.
    pub async fn audit_page(
        &self,
        target: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
        let _timed = self.timed("audit_page");
        let rows = sqlx::query(
            "SELECT id, at, actor, action, target, detail FROM audit_events
             WHERE SUBSTR(target, 1, LENGTH($1)) = $1 AND ($2 = 0 OR id < $3)
             ORDER BY id DESC LIMIT $4",
        )
        .bind(target)
        .bind(i64::from(before.is_some()))
        .bind(before.unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((col::<i64>(row, "id")?, decode(row)?)))
            .collect()
    }
}

fn decode(row: &AnyRow) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        at_ms: col(row, "at")?,
        actor: col(row, "actor")?,
        action: col(row, "action")?,
        target: col(row, "target")?,
        detail: col(row, "detail")?,
    })
}
