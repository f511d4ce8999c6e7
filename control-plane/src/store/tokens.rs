//! Enrollment tokens and the enrollment transaction: consuming a token and registering
//! the agent happen together or not at all, so a refused enrollment stores nothing and a
//! token can never enroll two agents.

use super::audit::{self, AuditEvent};
use super::{Store, StoreError};
use crate::fleet::identity::AgentId;

#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: String,
    pub secret_hash: String,
    pub description: String,
    pub created_by: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub id: AgentId,
    pub name: String,
    pub agent_version: String,
    pub cert_serial: String,
    pub cert_not_after_ms: i64,
}

/// Why a token does not admit an agent. The messages do not say whether a token id
/// exists with another secret: an unknown id and a wrong secret read the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("the enrollment token is not known to this control plane")]
    Unknown,
    #[error(
        "the enrollment token has already been used; create a new one with `ferry token create`"
    )]
    AlreadyUsed,
    #[error("the enrollment token has expired; create a new one with `ferry token create`")]
    Expired,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Token(#[from] TokenRejection),
    #[error("an agent named {0:?} is already enrolled; revoke it first (`ferry revoke`) or enroll under another --name")]
    NameTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    pub async fn insert_token(&self, token: &NewToken) -> Result<(), StoreError> {
        let _timed = self.timed("insert_token");
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO enrollment_tokens (id, secret_hash, description, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&token.id)
            .bind(&token.secret_hash)
            .bind(&token.description)
            .bind(&token.created_by)
            .bind(token.created_at_ms)
            .bind(token.expires_at_ms)
            .execute(&mut *tx)
            .await?;
        let event = AuditEvent {
            at_ms: token.created_at_ms,
            actor: token.created_by.clone(),
            action: "token.create".into(),
            target: format!("token/{}", token.id),
            detail: format!(
                "expires_at_ms={} description={:?}",
                token.expires_at_ms, token.description
            ),
        };
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the token would admit an agent now (read-only; enrollment re-checks
    /// atomically).
    pub async fn check_token(
        &self,
        id: &str,
        secret_hash: &str,
        now_ms: i64,
    ) -> Result<Result<(), TokenRejection>, StoreError> {
        let _timed = self.timed("check_token");
        let row: Option<(String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT secret_hash, expires_at, used_at FROM enrollment_tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            None => Err(TokenRejection::Unknown),
            Some((hash, _, _)) if hash != secret_hash => Err(TokenRejection::Unknown),
            Some((_, _, Some(_))) => Err(TokenRejection::AlreadyUsed),
            Some((_, expires, None)) if expires <= now_ms => Err(TokenRejection::Expired),
            Some(_) => Ok(()),
        })
    }

    /// Consumes the token and registers the agent, atomically.
    pub async fn enroll_agent(
        &self,
        token_id: &str,
        secret_hash: &str,
        agent: &NewAgent,
        now_ms: i64,
    ) -> Result<(), EnrollError> {
        let _timed = self.timed("enroll_agent");
        let mut tx = self.write().await?;
        let consumed = sqlx::query("UPDATE enrollment_tokens SET used_at = $1, used_by_agent = $2 WHERE id = $3 AND secret_hash = $4 AND used_at IS NULL AND expires_at > $1")
            .bind(now_ms)
            .bind(agent.id.to_string())
            .bind(token_id)
            .bind(secret_hash)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .rows_affected();
        if consumed != 1 {
            tx.rollback().await.map_err(StoreError::from)?;
            let why = self.check_token(token_id, secret_hash, now_ms).await?;
            return Err(why.err().unwrap_or(TokenRejection::AlreadyUsed).into());
        }
        let inserted = sqlx::query("INSERT INTO agents (id, name, enrolled_at, enrolled_with, agent_version, cert_serial, cert_not_after) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(agent.id.to_string())
            .bind(&agent.name)
            .bind(now_ms)
            .bind(token_id)
            .bind(&agent.agent_version)
            .bind(&agent.cert_serial)
            .bind(agent.cert_not_after_ms)
            .execute(&mut *tx)
            .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tx.rollback().await.map_err(StoreError::from)?;
                return Err(EnrollError::NameTaken(agent.name.clone()));
            }
            Err(e) => return Err(StoreError::from(e).into()),
        }
        let event = AuditEvent {
            at_ms: now_ms,
            actor: format!("agent/{}", agent.id),
            action: "agent.enroll".into(),
            target: format!("agent/{}", agent.id),
            detail: format!(
                "name={:?} token={} cert_serial={}",
                agent.name, token_id, agent.cert_serial
            ),
        };
        audit::record(&mut tx, &event).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }
}
