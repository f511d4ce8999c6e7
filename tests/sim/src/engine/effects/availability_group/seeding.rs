//! Automatic seeding as both sides show it (mi-link.md §3.2):
//! sys.dm_hadr_automatic_seeding keeps one row per attempt (current_state SEEDING,
//! then COMPLETED or FAILED); sys.dm_hadr_physical_seeding_stats has a row only while
//! the copy runs, with its progress and rate.

use rusqlite::{params, Connection};

use crate::engine::cached::Cached;

/// One seeding attempt of one database, from one side.
#[derive(Debug, Clone)]
pub struct Seeding {
    pub operation_id: String,
    pub remote_operation_id: String,
    /// The distributed group the database is seeded through.
    pub link: String,
    pub database: String,
    pub remote_machine: String,
    pub is_source: bool,
    pub attempt: u32,
    pub transferred: f64,
    pub size: f64,
    pub rate: f64,
    pub started: String,
    pub estimate: Option<String>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Running,
    Completed(String),
    /// Error number, text, time.
    Failed(u32, String, String),
}

/// Writes the attempt's rows in both views.
pub fn show(conn: &Connection, s: &Seeding, database_id: Option<i64>) -> rusqlite::Result<()> {
    let group: Option<String> = conn
        .one(
            "SELECT group_id FROM \"sys.availability_groups\" WHERE name = ?1 AND is_distributed = 1",
            [&s.link],
            |r| r.get(0),
        )
        .ok();
    let (state, completed, failure) = match &s.outcome {
        Outcome::Running => ("SEEDING", None, None),
        Outcome::Completed(at) => ("COMPLETED", Some(at.clone()), None),
        Outcome::Failed(n, text, at) => ("FAILED", Some(at.clone()), Some((*n, text, at))),
    };
    conn.run(
        "DELETE FROM \"sys.dm_hadr_automatic_seeding\" WHERE operation_id = ?1",
        [&s.operation_id],
    )?;
    conn.run(
        "INSERT INTO \"sys.dm_hadr_automatic_seeding\" (start_time, completion_time, ag_id, ag_db_id, ag_remote_replica_id,
            operation_id, is_source, current_state, performed_seeding, failure_state, failure_state_desc, error_code,
            number_of_attempts)
         VALUES (?1, ?2, ?3, NULL, NULL, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            s.started,
            completed,
            group,
            s.operation_id,
            s.is_source,
            state,
            state != "FAILED",
            // failure_state's codes are not documented; the error number is.
            None::<i64>,
            None::<String>,
            failure.map_or(0, |f| f.0),
            s.attempt,
        ],
    )?;
    conn.run(
        "DELETE FROM \"sys.dm_hadr_physical_seeding_stats\" WHERE local_physical_seeding_id = ?1",
        [&s.operation_id],
    )?;
    if s.outcome != Outcome::Running {
        return Ok(());
    }
    let (role, internal) = if s.is_source {
        ("Source", "ReadingAndSendingData")
    } else {
        ("Destination", "ReceivingAndWritingData")
    };
    conn.run(
        "INSERT INTO \"sys.dm_hadr_physical_seeding_stats\" (local_physical_seeding_id, remote_physical_seeding_id, local_database_id,
            local_database_name, remote_machine_name, role_desc, internal_state_desc, transfer_rate_bytes_per_second,
            transferred_size_bytes, database_size_bytes, start_time_utc, end_time_utc, estimate_time_complete_utc,
            total_disk_io_wait_time_ms, total_network_wait_time_ms, failure_code, failure_message, failure_time_utc,
            is_compression_enabled)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, ?12, 0, 0, NULL, NULL, NULL, 1)",
        params![
            s.operation_id,
            s.remote_operation_id,
            database_id,
            s.database,
            s.remote_machine,
            role,
            internal,
            s.rate as i64,
            s.transferred as i64,
            s.size as i64,
            s.started,
            s.estimate,
        ],
    )?;
    Ok(())
}
