//! Wall-clock time as Unix milliseconds: the unit of every timestamp Ferry stores and
//! sends (the `*_unix_ms` fields), so that SQLite, PostgreSQL, the agent's outbox and
//! the wire agree without time-zone handling.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
