//! The outbox: every report is written here (SQLite in the state directory) before it
//! is sent, and marked acknowledged only when the control plane says it has stored it.
//! Reports made while the control plane is unreachable wait here, across agent
//! restarts; redelivery is harmless because the control plane stores by report id.
//!
//! It also remembers which command ids have run, in the same transaction as their
//! result, so a redelivered command is never run twice.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use ferry_proto::agent::v1::{report, CommandResult, Report};
use ferry_proto::clock::now_ms;
use prost::Message;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use tokio::sync::Notify;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id   TEXT NOT NULL UNIQUE,
    produced_at BIGINT NOT NULL,
    body        BLOB NOT NULL,
    acked_at    BIGINT
);
CREATE INDEX IF NOT EXISTS outbox_unacked ON outbox (seq) WHERE acked_at IS NULL;
CREATE TABLE IF NOT EXISTS dead_letters (
    report_id  TEXT PRIMARY KEY,
    refused_at BIGINT NOT NULL,
    reason     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS executed_commands (
    command_id  TEXT PRIMARY KEY,
    finished_at BIGINT NOT NULL
);
";

/// How many refused reports the agent keeps the reasons of.
const DEAD_LETTERS_KEPT: i64 = 100;

/// Acknowledged reports are kept this long (for diagnosis), then pruned.
const KEEP_ACKED: Duration = Duration::from_secs(7 * 86400);

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("the outbox database {path} cannot be opened: {source}")]
    Open {
        path: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("outbox: {0}")]
    Query(#[from] sqlx::Error),
    #[error("outbox row {report_id} is corrupt: {reason}")]
    Corrupt { report_id: String, reason: String },
}

pub struct Outbox {
    pool: SqlitePool,
    appended: Notify,
}

/// A report waiting for acknowledgement.
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: i64,
    pub report: Report,
}

impl Outbox {
    pub async fn open(path: &Path) -> Result<Self, OutboxError> {
        let open_error = |source| OutboxError::Open {
            path: path.display().to_string(),
            source,
        };
        // The state folder and the outbox are the agent's alone (reports carry what
        // its SQL Servers hold).
        let io_error = |e: std::io::Error| OutboxError::Open {
            path: path.display().to_string(),
            source: sqlx::Error::Io(e),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            ferry_proto::private_files::create_dir(dir).map_err(io_error)?;
        }
        ferry_proto::private_files::restrict_file(path).map_err(io_error)?;
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(open_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged-by-us write survives power loss, not just a crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(Self {
            pool,
            appended: Notify::new(),
        })
    }

    /// Durably queues a report; returns its id.
    pub async fn append(&self, body: report::Body) -> Result<String, OutboxError> {
        let mut tx = self.pool.begin().await?;
        let id = insert(&mut tx, body).await?;
        tx.commit().await?;
        self.appended.notify_one();
        Ok(id)
    }

    /// Queues a command's reports and its result, and records that it ran, atomically.
    pub async fn append_command_outcome(
        &self,
        bodies: Vec<report::Body>,
        result: CommandResult,
    ) -> Result<(), OutboxError> {
        let mut tx = self.pool.begin().await?;
        let command_id = result.command_id.clone();
        for body in bodies {
            insert(&mut tx, body).await?;
        }
        insert(&mut tx, report::Body::CommandResult(result)).await?;
        sqlx::query("INSERT INTO executed_commands (command_id, finished_at) VALUES ($1, $2) ON CONFLICT (command_id) DO NOTHING")
            .bind(command_id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.appended.notify_one();
        Ok(())
    }

    pub async fn was_executed(&self, command_id: &str) -> Result<bool, OutboxError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT command_id FROM executed_commands WHERE command_id = $1")
                .bind(command_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    /// Unacknowledged reports after `after_seq`, oldest first.
    pub async fn unacked(&self, after_seq: i64, limit: u32) -> Result<Vec<Pending>, OutboxError> {
        let rows: Vec<(i64, String, Vec<u8>)> = sqlx::query_as("SELECT seq, report_id, body FROM outbox WHERE acked_at IS NULL AND seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(seq, report_id, body)| {
                let report = Report::decode(body.as_slice()).map_err(|e| OutboxError::Corrupt {
                    report_id,
                    reason: e.to_string(),
                })?;
                Ok(Pending { seq, report })
            })
            .collect()
    }

    pub async fn mark_acked(&self, report_id: &str) -> Result<(), OutboxError> {
        sqlx::query("UPDATE outbox SET acked_at = $1 WHERE report_id = $2 AND acked_at IS NULL")
            .bind(now_ms())
            .bind(report_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The control plane refused report `report_id` for `reason`: it is not sent
    /// again, and is kept as a dead letter (the newest [`DEAD_LETTERS_KEPT`]).
    pub async fn mark_refused(&self, report_id: &str, reason: &str) -> Result<(), OutboxError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE outbox SET acked_at = $1 WHERE report_id = $2 AND acked_at IS NULL")
            .bind(now)
            .bind(report_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO dead_letters (report_id, refused_at, reason) VALUES ($1, $2, $3)
             ON CONFLICT (report_id) DO UPDATE SET refused_at = excluded.refused_at, reason = excluded.reason",
        )
        .bind(report_id)
        .bind(now)
        .bind(reason.chars().take(1000).collect::<String>())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM dead_letters WHERE report_id NOT IN
                (SELECT report_id FROM dead_letters ORDER BY refused_at DESC, report_id LIMIT $1)",
        )
        .bind(DEAD_LETTERS_KEPT)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The reports the control plane refused, newest first: (report id, reason).
    pub async fn dead_letters(&self) -> Result<Vec<(String, String)>, OutboxError> {
        Ok(sqlx::query_as(
            "SELECT report_id, reason FROM dead_letters ORDER BY refused_at DESC, report_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Reports not yet acknowledged (by the index of those alone: the acknowledged ones
    /// kept for a week are not read).
    pub async fn pending(&self) -> Result<u64, OutboxError> {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE acked_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(pending as u64)
    }

    /// (unacknowledged, acknowledged) counts.
    pub async fn counts(&self) -> Result<(u64, u64), OutboxError> {
        let (pending, acked): (i64, i64) = sqlx::query_as("SELECT COALESCE(SUM(CASE WHEN acked_at IS NULL THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN acked_at IS NULL THEN 0 ELSE 1 END), 0) FROM outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok((pending as u64, acked as u64))
    }

    /// Every report id still held, oldest first.
    pub async fn report_ids(&self) -> Result<Vec<String>, OutboxError> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT report_id FROM outbox ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Forgets acknowledged reports older than a week.
    pub async fn prune(&self) -> Result<u64, OutboxError> {
        let cutoff = now_ms() - KEEP_ACKED.as_millis() as i64;
        Ok(
            sqlx::query("DELETE FROM outbox WHERE acked_at IS NOT NULL AND acked_at < $1")
                .bind(cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Resolves after the next append.
    pub async fn appended(&self) {
        self.appended.notified().await;
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn insert(
    conn: &mut sqlx::SqliteConnection,
    body: report::Body,
) -> Result<String, OutboxError> {
    let report = Report {
        report_id: uuid::Uuid::new_v4().to_string(),
        produced_unix_ms: now_ms(),
        body: Some(body),
        // The span the report is made in, so the control plane's handling joins it.
        trace_context: ferry_proto::telemetry::to_map(),
    };
    sqlx::query("INSERT INTO outbox (report_id, produced_at, body) VALUES ($1, $2, $3)")
        .bind(&report.report_id)
        .bind(report.produced_unix_ms)
        .bind(report.encode_to_vec())
        .execute(conn)
        .await?;
    Ok(report.report_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::agent::v1::Inventory;

    #[tokio::test]
    async fn survives_reopen_and_tracks_acks_and_commands() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let outbox = Outbox::open(&path).await.unwrap();
        let first = outbox
            .append(report::Body::Inventory(Inventory::default()))
            .await
            .unwrap();
        let result = CommandResult {
            command_id: "c1".into(),
            ok: true,
            ..Default::default()
        };
        outbox.append_command_outcome(vec![], result).await.unwrap();
        outbox.close().await;

        let outbox = Outbox::open(&path).await.unwrap();
        let pending = outbox.unacked(0, 10).await.unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].report.report_id, first);
        assert!(outbox.was_executed("c1").await.unwrap());
        assert!(!outbox.was_executed("c2").await.unwrap());
        outbox.mark_acked(&first).await.unwrap();
        assert_eq!(outbox.counts().await.unwrap(), (1, 1));
        assert_eq!(outbox.unacked(0, 10).await.unwrap().len(), 1);
        assert_eq!(outbox.unacked(pending[1].seq, 10).await.unwrap().len(), 0);
    }

    #[tokio::test]
    async fn a_refused_report_is_not_sent_again_and_its_reason_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("outbox.db")).await.unwrap();
        let refused = outbox
            .append(report::Body::Inventory(Inventory::default()))
            .await
            .unwrap();
        let behind = outbox
            .append(report::Body::Inventory(Inventory::default()))
            .await
            .unwrap();
        outbox
            .mark_refused(&refused, "field `x`: longer than 4096 bytes")
            .await
            .unwrap();
        let pending = outbox.unacked(0, 10).await.unwrap();
        let ids: Vec<&str> = pending
            .iter()
            .map(|p| p.report.report_id.as_str())
            .collect();
        assert_eq!(ids, [behind.as_str()], "the one behind goes on");
        assert_eq!(
            outbox.dead_letters().await.unwrap(),
            [(refused, "field `x`: longer than 4096 bytes".to_string())]
        );
    }
}
