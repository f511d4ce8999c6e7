//! The SQL Server side of the MI links on one instance, read from the DMVs
//! (`queries/link/status.sql`, mi-link.md §3): connection, synchronization, LSNs,
//! queues, lag and seeding, per database of each distributed availability group whose
//! local copy is primary.

use std::time::Duration;

use ferry_proto::agent::v1::LinkDatabaseStatus;
use tiberius::Row;

use super::{column, int, rows, text, Connection, SqlError};

const STATUS: &str = include_str!("queries/link/status.sql");
const Q: &str = "link_status";

pub async fn read(
    conn: &mut Connection,
    timeout: Duration,
) -> Result<Vec<LinkDatabaseStatus>, SqlError> {
    let mut found: Vec<LinkDatabaseStatus> = Vec::new();
    for row in rows(conn, Q, STATUS, timeout).await? {
        let status = decode(&row)?;
        // Two seeding attempts started in the same instant give two rows; the first
        // (any) stands for the database.
        if !found
            .iter()
            .any(|f| f.link_name == status.link_name && f.database == status.database)
        {
            found.push(status);
        }
    }
    Ok(found)
}

/// A bigint column that may be NULL: -1 when SQL Server gives none.
fn known(row: &Row, name: &str) -> Result<i64, SqlError> {
    Ok(column::<i64>(row, Q, name)?.unwrap_or(-1))
}

fn decode(row: &Row) -> Result<LinkDatabaseStatus, SqlError> {
    let transferred = column::<i64>(row, Q, "transferred_size_bytes")?;
    Ok(LinkDatabaseStatus {
        link_name: text(row, Q, "link_name")?,
        database: text(row, Q, "database_name")?,
        connected_state: text(row, Q, "connected_state_desc")?,
        last_connect_error_number: int(row, Q, "last_connect_error_number")?,
        last_connect_error: text(row, Q, "last_connect_error_description")?,
        synchronization_state: text(row, Q, "synchronization_state_desc")?,
        synchronization_health: text(row, Q, "synchronization_health_desc")?,
        end_of_log_lsn: text(row, Q, "end_of_log_lsn")?,
        last_commit_lsn: text(row, Q, "last_commit_lsn")?,
        last_hardened_lsn: text(row, Q, "last_hardened_lsn")?,
        local_hardened_lsn: text(row, Q, "local_hardened_lsn")?,
        log_send_queue_kb: known(row, "log_send_queue_size")?,
        log_send_rate_kb: known(row, "log_send_rate")?,
        redo_queue_kb: known(row, "redo_queue_size")?,
        secondary_lag_seconds: known(row, "secondary_lag_seconds")?,
        seeding: transferred.is_some(),
        seeding_transferred_bytes: transferred.unwrap_or(0),
        seeding_size_bytes: column::<i64>(row, Q, "database_size_bytes")?.unwrap_or(0),
        seeding_rate_bytes_per_second: column::<i64>(row, Q, "transfer_rate_bytes_per_second")?
            .unwrap_or(0),
        seeding_state: text(row, Q, "seeding_state")?,
        seeding_error_number: int(row, Q, "seeding_error")?,
        seeding_attempts: int(row, Q, "number_of_attempts")?,
        synchronous_commit: column::<i32>(row, Q, "commit_mode")? == Some(1),
        user_sessions: column::<i32>(row, Q, "user_sessions")?,
    })
}
