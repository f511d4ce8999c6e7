//! One reading of an instance's cumulative load counters (CPU time, file I/O) and its
//! current memory and storage, for the load sampler (`crate::load`). Two small DMV
//! queries; no user data.

use std::time::Duration;

use super::{big, int, rows, Connection, SqlError};

const CPU_MEMORY: &str = include_str!("queries/load/cpu_memory.sql");
const FILE_IO: &str = include_str!("queries/load/file_io.sql");

/// Cumulative counters at one instant; rates come from two readings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    pub cpu_ms: i64,
    pub cpu_count: u32,
    pub host_memory_kb: i64,
    pub committed_kb: i64,
    pub data: FileCounters,
    pub log: FileCounters,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FileCounters {
    pub ios: i64,
    pub bytes: i64,
    pub stall_ms: i64,
    pub size_bytes: i64,
}

pub async fn read(conn: &mut Connection, timeout: Duration) -> Result<Reading, SqlError> {
    let q = "load_cpu_memory";
    let found = rows(conn, q, CPU_MEMORY, timeout).await?;
    let row = found.first().ok_or_else(|| SqlError::Query {
        query: q,
        reason: "no row".into(),
    })?;
    let mut reading = Reading {
        cpu_ms: big(row, q, "cpu_ms")?,
        cpu_count: u32::try_from(int(row, q, "cpu_count")?).unwrap_or(0),
        host_memory_kb: big(row, q, "host_memory_kb")?,
        committed_kb: big(row, q, "committed_kb")?,
        ..Reading::default()
    };
    let q = "load_file_io";
    for row in rows(conn, q, FILE_IO, timeout).await? {
        let counters = FileCounters {
            ios: big(&row, q, "ios")?,
            bytes: big(&row, q, "bytes")?,
            stall_ms: big(&row, q, "stall_ms")?,
            size_bytes: big(&row, q, "size_bytes")?,
        };
        match int(&row, q, "file_type")? {
            0 => reading.data = counters,
            1 => reading.log = counters,
            _ => {}
        }
    }
    Ok(reading)
}
