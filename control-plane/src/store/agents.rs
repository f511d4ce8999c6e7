//! Agents: registration facts, liveness timestamps, certificates and revocation.

use std::collections::HashMap;

use sqlx::any::AnyRow;

use super::audit::{self, AuditEvent};
use super::{agent_id, col, Store, StoreError};
use crate::fleet::identity::{AgentId, Held};
use crate::fleet::labels::Labels;
use crate::fleet::liveness::AgentHello;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub id: AgentId,
    pub name: String,
    pub enrolled_at_ms: i64,
    pub agent_version: String,
    pub hostname: String,
    pub os: String,
    pub last_seen_ms: Option<i64>,
    pub cert_serial: String,
    /// The serial before the last renewal, until the agent first uses the new one.
    pub previous_cert_serial: Option<String>,
    pub cert_not_after_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub revoked_reason: String,
}

impl AgentRecord {
    /// Whether `serial` is the agent's current or previous certificate.
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

/// An agent with the size of its inventory, for fleet listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSummary {
    pub agent: AgentRecord,
    pub instance_count: u32,
    pub database_count: u32,
    pub labels: Labels,
}

const AGENT_COLUMNS: &str = "a.id, a.name, a.enrolled_at, a.agent_version, a.hostname, a.os, a.last_seen_at, a.cert_serial, a.previous_cert_serial, a.cert_not_after, a.revoked_at, a.revoked_reason";

/// Heartbeats written by one statement (two parameters each, well under both
/// databases' parameter limits).
const TOUCH_CHUNK: usize = 500;
/// Hellos per statement (four parameters each).
const HELLO_CHUNK: usize = 250;

/// How far each look for revocations reaches back into the one before.
const REVOCATION_OVERLAP_MS: i64 = 10_000;

/// Agents revoked since a look's start, and the next look's start (both by the
/// database's clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocations {
    pub agents: Vec<(AgentId, String)>,
    pub next: i64,
}

impl Store {
    pub async fn get_agent(&self, id: AgentId) -> Result<Option<AgentRecord>, StoreError> {
        let _timed = self.timed("get_agent");
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents a WHERE a.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_agent).transpose()
    }

    /// Agents matching `key` as an id, else as a name (live agents first).
    pub async fn find_agents(&self, key: &str) -> Result<Vec<AgentRecord>, StoreError> {
        let _timed = self.timed("find_agents");
        if let Ok(id) = key.parse::<AgentId>() {
            return Ok(self.get_agent(id).await?.into_iter().collect());
        }
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents a WHERE a.name = $1 ORDER BY (a.revoked_at IS NULL) DESC, a.enrolled_at DESC");
        let rows = sqlx::query(&sql).bind(key).fetch_all(&self.pool).await?;
        rows.iter().map(decode_agent).collect()
    }

    /// Every agent, by name.
    pub async fn list_agents(&self) -> Result<Vec<AgentSummary>, StoreError> {
        let _timed = self.timed("list_agents");
        let mut labels = self.all_host_labels().await?;
        let rows = self.agent_rows(None, i64::MAX).await?;
        rows.iter().map(|row| summary(row, &mut labels)).collect()
    }

    /// At most `limit` agents by name and id, after the agent `after` (name, id).
    pub async fn list_agents_page(
        &self,
        after: Option<(&str, AgentId)>,
        limit: u32,
    ) -> Result<Vec<AgentSummary>, StoreError> {
        let _timed = self.timed("list_agents_page");
        let rows = self.agent_rows(after, i64::from(limit)).await?;
        let ids = rows
            .iter()
            .map(|row| col::<String>(row, "id"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut labels = self.labels_of_hosts(&ids).await?;
        rows.iter().map(|row| summary(row, &mut labels)).collect()
    }

    async fn agent_rows(
        &self,
        after: Option<(&str, AgentId)>,
        limit: i64,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let sql = format!(
            "SELECT {AGENT_COLUMNS},
                (SELECT COUNT(*) FROM instances i WHERE i.agent_id = a.id) AS instance_count,
                (SELECT COUNT(*) FROM databases d WHERE d.agent_id = a.id) AS database_count
             FROM agents a
             WHERE $1 = 0 OR a.name > $2 OR (a.name = $2 AND a.id > $3)
             ORDER BY a.name, a.id LIMIT $4"
        );
        let (name, id) = after
            .map(|(name, id)| (name.to_string(), id.to_string()))
            .unwrap_or_default();
        Ok(sqlx::query(&sql)
            .bind(i64::from(after.is_some()))
            .bind(name)
            .bind(id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Writes a batch of agents' hellos (version, host name, OS) in one transaction: a
    /// fleet reconnecting at once after a restart is a few statements, not one
    /// transaction per agent. Their times go with the heartbeats ([`Store::touch_agents`]).
    pub async fn record_hellos(&self, hellos: &[(AgentId, AgentHello)]) -> Result<(), StoreError> {
        let _timed = self.timed("record_hellos");
        if hellos.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        for chunk in hellos.chunks(HELLO_CHUNK) {
            let values = (0..chunk.len())
                .map(|i| {
                    let n = 4 * i;
                    format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4)
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "WITH h (id, version, hostname, os) AS (VALUES {values})
                 UPDATE agents SET agent_version = h.version, hostname = h.hostname, os = h.os
                 FROM h WHERE agents.id = h.id"
            );
            let mut query = sqlx::query(&sql);
            for (id, hello) in chunk {
                query = query
                    .bind(id.to_string())
                    .bind(hello.agent_version.clone())
                    .bind(hello.hostname.clone())
                    .bind(hello.os.clone());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes a batch of heartbeat times in one transaction; never moves time backwards.
    pub async fn touch_agents(&self, seen: &[(AgentId, i64)]) -> Result<(), StoreError> {
        let _timed = self.timed("touch_agents");
        if seen.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        // One statement per chunk, not per agent: a fleet's second of heartbeats is a
        // handful of round trips to the database, not thousands.
        for chunk in seen.chunks(TOUCH_CHUNK) {
            let values = (0..chunk.len())
                .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "WITH seen (id, at) AS (VALUES {values})
                 UPDATE agents SET last_seen_at = seen.at FROM seen
                 WHERE agents.id = seen.id AND (agents.last_seen_at IS NULL OR agents.last_seen_at < seen.at)"
            );
            let mut query = sqlx::query(&sql);
            for (id, at) in chunk {
                query = query.bind(id.to_string()).bind(*at);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Revokes the agent; returns false when it was already revoked.
    pub async fn revoke_agent(
        &self,
        id: AgentId,
        reason: &str,
        actor: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("revoke_agent");
        let mut tx = self.write().await?;
        let statement = format!(
            "UPDATE agents SET revoked_at = $1, revoked_reason = $2, revoked_db_at = {} WHERE id = $3 AND revoked_at IS NULL",
            self.now_sql()
        );
        let changed = sqlx::query(&statement)
            .bind(now_ms)
            .bind(reason)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 1 {
            let event = AuditEvent {
                at_ms: now_ms,
                actor: actor.to_string(),
                action: "agent.revoke".into(),
                target: format!("agent/{id}"),
                detail: format!("reason={reason:?}"),
            };
            audit::record(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(changed == 1)
    }

    /// Agents revoked at or after `since_ms`, with their reasons.
    /// The agents revoked at or after `since` (the database's clock, as from
    /// [`Revocations::next`]), and where the next look should start.
    pub async fn revoked_since(&self, since: Option<i64>) -> Result<Revocations, StoreError> {
        let _timed = self.timed("revoked_since");
        let now: i64 = sqlx::query_scalar(&format!("SELECT {}", self.now_sql()))
            .fetch_one(&self.pool)
            .await?;
        let since = since.unwrap_or(now);
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, revoked_reason FROM agents WHERE revoked_db_at >= $1 ORDER BY id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(Revocations {
            agents: rows
                .into_iter()
                .map(|(id, reason)| Ok((agent_id(&id)?, reason)))
                .collect::<Result<_, StoreError>>()?,
            // A revocation stamped just before this look may commit just after it:
            // the next look overlaps this one by a while (closing twice is harmless).
            next: now - REVOCATION_OVERLAP_MS,
        })
    }

    /// Records a renewed certificate for a live agent.
    /// Records a renewed certificate, if the agent still holds the certificate
    /// `presented` (its current or previous serial) and is not revoked: the current
    /// serial becomes the previous one. False when either changed meanwhile.
    pub async fn record_renewal(
        &self,
        id: AgentId,
        renewal: &Renewal<'_>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("record_renewal");
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE agents SET previous_cert_serial = cert_serial, cert_serial = $1, cert_not_after = $2 \
             WHERE id = $3 AND revoked_at IS NULL AND (cert_serial = $4 OR previous_cert_serial = $4)",
        )
        .bind(renewal.serial)
        .bind(renewal.not_after_ms)
        .bind(id.to_string())
        .bind(renewal.presented)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            let event = AuditEvent {
                at_ms: now_ms,
                actor: format!("agent/{id}"),
                action: renewal.kind.action().into(),
                target: format!("agent/{id}"),
                detail: format!(
                    "cert_serial={} replaces={} not_after_ms={}",
                    renewal.serial, renewal.presented, renewal.not_after_ms
                ),
            };
            audit::record(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(changed == 1)
    }

    /// The agent used its renewed certificate `serial`: the one before it stops working.
    pub async fn confirm_renewal(&self, id: AgentId, serial: &str) -> Result<(), StoreError> {
        let _timed = self.timed("confirm_renewal");
        let mut tx = self.write().await?;
        sqlx::query("UPDATE agents SET previous_cert_serial = NULL WHERE id = $1 AND cert_serial = $2 AND previous_cert_serial IS NOT NULL")
            .bind(id.to_string())
            .bind(serial)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// How a certificate was renewed, as the audit log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalKind {
    /// Over mTLS, before expiry.
    BeforeExpiry,
    /// With a proof of the key, after expiry (within the grace period).
    AfterExpiry,
}

impl RenewalKind {
    fn action(self) -> &'static str {
        match self {
            RenewalKind::BeforeExpiry => "agent.renew",
            RenewalKind::AfterExpiry => "agent.renew_expired",
        }
    }
}

/// A certificate issued to replace the one `presented`.
#[derive(Debug, Clone, Copy)]
pub struct Renewal<'a> {
    pub presented: &'a str,
    pub serial: &'a str,
    pub not_after_ms: i64,
    pub kind: RenewalKind,
}

fn summary(
    row: &AnyRow,
    labels: &mut HashMap<AgentId, Labels>,
) -> Result<AgentSummary, StoreError> {
    let agent = decode_agent(row)?;
    Ok(AgentSummary {
        labels: labels.remove(&agent.id).unwrap_or_default(),
        agent,
        instance_count: col::<i64>(row, "instance_count")? as u32,
        database_count: col::<i64>(row, "database_count")? as u32,
    })
}

fn decode_agent(row: &AnyRow) -> Result<AgentRecord, StoreError> {
    let id: String = col(row, "id")?;
    Ok(AgentRecord {
        id: agent_id(&id)?,
        name: col(row, "name")?,
        enrolled_at_ms: col(row, "enrolled_at")?,
        agent_version: col(row, "agent_version")?,
        hostname: col(row, "hostname")?,
        os: col(row, "os")?,
        last_seen_ms: col(row, "last_seen_at")?,
        cert_serial: col(row, "cert_serial")?,
        previous_cert_serial: col(row, "previous_cert_serial")?,
        cert_not_after_ms: col(row, "cert_not_after")?,
        revoked_at_ms: col(row, "revoked_at")?,
        revoked_reason: col(row, "revoked_reason")?,
    })
}
